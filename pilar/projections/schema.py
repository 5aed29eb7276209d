"""The view tables. A prefix names one complete set: `view` for the live views, others for
scratch rebuilds (`pilar projections check`) and past moments (`pilar audit views`)."""

LIVE = "view"

# The one declaration of the case rows: the DDL, the projector and the queries all read it.
CASE_TABLE = (
    ("case_id", "TEXT PRIMARY KEY"),
    ("beneficiary_id", "TEXT NOT NULL"),
    ("pillar", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("priority", "TEXT NOT NULL"),
    ("priority_rank", "INTEGER NOT NULL"),
    ("kecamatan_code", "TEXT NOT NULL"),
    ("desa_code", "TEXT NOT NULL"),
    ("worker", "TEXT"),
    ("categories", "TEXT NOT NULL"),
    ("opened_at", "TEXT NOT NULL"),
    ("assessed_at", "TEXT"),
    ("aid_count", "INTEGER NOT NULL"),
    ("closed_at", "TEXT"),
    ("outcome", "TEXT"),
    ("open_follow_ups", "TEXT NOT NULL"),
    ("next_follow_up_due", "TEXT"),
    ("pending_referral_to", "TEXT"),
    ("version", "INTEGER NOT NULL"),
    ("updated_at", "TEXT NOT NULL"),
    ("position", "BIGINT NOT NULL"),
)
CASE_COLUMNS = tuple(name for name, _ in CASE_TABLE)
# What the case list shows, in table order: named here so that a new column stays out of the API until chosen.
CASE_LIST_COLUMNS = tuple(name for name in CASE_COLUMNS if name in {
    "case_id", "beneficiary_id", "pillar", "status", "priority", "kecamatan_code", "desa_code", "worker",
    "categories", "opened_at", "closed_at", "next_follow_up_due", "pending_referral_to", "version"})

# Consent withdrawals and erasure requests (pilar/projections/privacy.py): ids, kinds and times only.
PRIVACY_TABLE = (
    ("request_id", "TEXT PRIMARY KEY"),  # the request's event: "<beneficiary id>:<version>"
    ("beneficiary_id", "TEXT NOT NULL"),
    ("kind", "TEXT NOT NULL"),
    ("requested_at", "TEXT NOT NULL"),
    ("requested_by", "TEXT NOT NULL"),
    ("deadline", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("resolved_at", "TEXT"),
    ("position", "BIGINT NOT NULL"),
)
PRIVACY_COLUMNS = tuple(name for name, _ in PRIVACY_TABLE)
# Where each registered person lives (no personal data: an id and a kecamatan code), so that a
# kecamatan-scoped coordinator lists the privacy requests of the people they serve.
PEOPLE_TABLE = (("beneficiary_id", "TEXT PRIMARY KEY"), ("kecamatan_code", "TEXT NOT NULL"))


def create_statements(prefix: str = LIVE) -> list[str]:
    p = prefix
    return [
        f"CREATE TABLE IF NOT EXISTS {p}_cases ({', '.join(f'{name} {sql}' for name, sql in CASE_TABLE)})",
        f"CREATE INDEX IF NOT EXISTS {p}_cases_by_pillar ON {p}_cases (pillar, priority_rank, opened_at, case_id)",
        f"CREATE INDEX IF NOT EXISTS {p}_cases_by_status ON {p}_cases (status, priority_rank, opened_at, case_id)",
        f"CREATE INDEX IF NOT EXISTS {p}_cases_by_due ON {p}_cases (pillar, next_follow_up_due)",
        f"CREATE INDEX IF NOT EXISTS {p}_cases_by_beneficiary ON {p}_cases (beneficiary_id)",
        f"CREATE INDEX IF NOT EXISTS {p}_cases_by_pending ON {p}_cases (pending_referral_to)",
        f"""CREATE TABLE IF NOT EXISTS {p}_follow_ups (
            case_id TEXT NOT NULL,
            follow_up_id TEXT NOT NULL,
            pillar TEXT NOT NULL,
            due_on TEXT NOT NULL,
            purpose TEXT NOT NULL,
            open INTEGER NOT NULL,
            PRIMARY KEY (case_id, follow_up_id))""",
        f"CREATE INDEX IF NOT EXISTS {p}_follow_ups_queue ON {p}_follow_ups (open, pillar, due_on)",
        # Every counter is kept per pillar and kecamatan (of the case's desa): a pillar's workload
        # sums its kecamatan, a kecamatan-scoped reader's only theirs.
        # Open cases counted along one dimension (status, worker); by kecamatan is the status rows' sum.
        f"""CREATE TABLE IF NOT EXISTS {p}_open_counts (
            pillar TEXT NOT NULL, kecamatan TEXT NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL,
            count BIGINT NOT NULL, PRIMARY KEY (pillar, kecamatan, dimension, key))""",
        f"""CREATE TABLE IF NOT EXISTS {p}_monthly (
            pillar TEXT NOT NULL, kecamatan TEXT NOT NULL, month TEXT NOT NULL, opened BIGINT NOT NULL,
            closed BIGINT NOT NULL, PRIMARY KEY (pillar, kecamatan, month))""",
        f"""CREATE TABLE IF NOT EXISTS {p}_aid (
            pillar TEXT NOT NULL, kecamatan TEXT NOT NULL, component TEXT NOT NULL, item TEXT NOT NULL,
            count BIGINT NOT NULL, quantity BIGINT NOT NULL, value_idr BIGINT NOT NULL,
            PRIMARY KEY (pillar, kecamatan, component, item))""",
        # Days from referral to first assessment, as a histogram: the median costs the same at any size.
        f"""CREATE TABLE IF NOT EXISTS {p}_assessment_days (
            pillar TEXT NOT NULL, kecamatan TEXT NOT NULL, days INTEGER NOT NULL, count BIGINT NOT NULL,
            PRIMARY KEY (pillar, kecamatan, days))""",
        f"CREATE TABLE IF NOT EXISTS {p}_privacy_requests ({', '.join(f'{n} {sql}' for n, sql in PRIVACY_TABLE)})",
        f"CREATE INDEX IF NOT EXISTS {p}_privacy_requests_due ON {p}_privacy_requests (status, deadline)",
        f"CREATE INDEX IF NOT EXISTS {p}_privacy_requests_person ON {p}_privacy_requests (beneficiary_id, status)",
        f"CREATE TABLE IF NOT EXISTS {p}_people ({', '.join(f'{n} {sql}' for n, sql in PEOPLE_TABLE)})",
        f"""CREATE TABLE IF NOT EXISTS {p}_tracking (
            name TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT NOT NULL)""",
    ]


TABLES = ("cases", "follow_ups", "open_counts", "monthly", "aid", "assessment_days", "privacy_requests", "people",
          "tracking")


def drop_statements(prefix: str) -> list[str]:
    return [f"DROP TABLE IF EXISTS {prefix}_{table}" for table in TABLES]


# Columns a view table gained after stores were first set up: a store whose tables lack one
# (or lack a table) was projected by an older Pilar and is rebuilt from the events.
LAYOUT_PROBES = [f"SELECT {columns} FROM {LIVE}_{table} WHERE 1 = 0" for table, columns in (
    ("open_counts", "pillar, kecamatan, dimension, key, count"),
    ("monthly", "pillar, kecamatan, month"),
    ("aid", "pillar, kecamatan, component, item"),
    ("assessment_days", "pillar, kecamatan, days"),
    ("privacy_requests", "request_id"),
    ("people", "beneficiary_id, kecamatan_code"),
)]


def views_outdated(conn) -> bool:
    """Whether the live views were laid out by an older Pilar (`pilar db init` then drops them,
    and the projection process builds them again from event zero)."""
    try:
        conn.one(f"SELECT 1 FROM {LIVE}_tracking WHERE 1 = 0")
    except Exception:  # noqa: BLE001 - no views yet: nothing to upgrade
        return False
    for probe in LAYOUT_PROBES:
        try:
            conn.one(probe)
        except Exception:  # noqa: BLE001 - a missing table or column, whatever the store calls it
            return True
    return False
