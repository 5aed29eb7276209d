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
    ("desil", "INTEGER"),  # the person's latest DTSEN desil and its period (pilar/projections/desil.py)
    ("desil_period", "TEXT"),
    ("version", "INTEGER NOT NULL"),
    ("updated_at", "TEXT NOT NULL"),
    ("position", "BIGINT NOT NULL"),
)
CASE_COLUMNS = tuple(name for name, _ in CASE_TABLE)
# What the case list shows, in table order: named here so that a new column stays out of the API until chosen.
CASE_LIST_COLUMNS = tuple(name for name in CASE_COLUMNS if name in {
    "case_id", "beneficiary_id", "pillar", "status", "priority", "kecamatan_code", "desa_code", "worker",
    "categories", "opened_at", "closed_at", "next_follow_up_due", "pending_referral_to", "desil", "desil_period",
    "version"})

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
# Referrals between pillars, with their outcome and when they were sent and answered (no reasons:
# those are the case's free text, encrypted under its key).
REFERRAL_TABLE = (
    ("case_id", "TEXT NOT NULL"),
    ("referral_id", "TEXT NOT NULL"),
    ("from_pillar", "TEXT NOT NULL"),
    ("to_pillar", "TEXT NOT NULL"),
    ("kecamatan_code", "TEXT NOT NULL"),
    ("sent_at", "TEXT NOT NULL"),  # UTC text (pilar/cases/clock.utc_text)
    ("sent_on", "TEXT NOT NULL"),  # the day it was sent, in Asia/Jakarta: what a period counts
    ("status", "TEXT NOT NULL"),  # pending, accepted, declined
    ("answered_at", "TEXT"),
    ("PRIMARY KEY", "(case_id, referral_id)"),
)
REFERRAL_COLUMNS = tuple(name for name, _ in REFERRAL_TABLE if name != "PRIMARY KEY")
PRIVACY_COLUMNS = tuple(name for name, _ in PRIVACY_TABLE)
# Where each registered person lives (no personal data: an id and a kecamatan code), so that a
# kecamatan-scoped coordinator lists the privacy requests of the people they serve.
PEOPLE_TABLE = (("beneficiary_id", "TEXT PRIMARY KEY"), ("kecamatan_code", "TEXT NOT NULL"))
# Who shares a KK (pilar/projections/households.py): the KK's keyed hash (pilar/cases/lookup.py) and person ids, nothing readable.
HOUSEHOLD_TABLE = (("beneficiary_id", "TEXT PRIMARY KEY"), ("household_key", "TEXT NOT NULL"))
# Each person's latest DTSEN desil (pilar/projections/desil.py), for the cases opened after it was recorded.
DESIL_TABLE = (("beneficiary_id", "TEXT PRIMARY KEY"), ("desil", "INTEGER NOT NULL"), ("period", "TEXT NOT NULL"))


# (table, name, definition: its columns, and a WHERE for a partial index). An index is named
# `<prefix>_<table>_<name>`; on SQLite, which cannot rename an index, the live tables keep the names
# their rebuild gave them (pilar/projections/scratch.py), so an index is known by its ending and
# created only when the table has none of that name.
INDEXES = (
    # The case list's order is (priority_rank, opened_at, case_id): an index that ends with it
    # after the list's equality filters gives a page without sorting every match.
    ("cases", "by_pillar", "(pillar, priority_rank, opened_at, case_id)"),
    ("cases", "by_status", "(status, priority_rank, opened_at, case_id)"),
    ("cases", "by_order", "(priority_rank, opened_at, case_id)"),
    ("cases", "by_kecamatan", "(kecamatan_code, pillar, priority_rank, opened_at, case_id)"),
    ("cases", "by_worker", "(worker, pillar, priority_rank, opened_at, case_id)"),
    ("cases", "by_due", "(pillar, next_follow_up_due)"),
    # queries.OVERDUE_SQL, over every pillar: few open cases are overdue, none of the closed.
    ("cases", "overdue", "(next_follow_up_due) WHERE status <> 'closed'"),
    ("cases", "by_beneficiary", "(beneficiary_id)"),
    ("cases", "by_pending", "(pending_referral_to)"),
    ("follow_ups", "queue", "(open, pillar, due_on)"),
    ("privacy_requests", "due", "(status, deadline)"),
    ("privacy_requests", "person", "(beneficiary_id, status)"),
    ("referrals", "by_status", "(status, to_pillar, sent_at)"),
    ("households", "by_key", "(household_key)"),
)


def create_statements(prefix: str = LIVE, *, index_prefix: str | None = None,
                      present: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """`present`: the (table, index) pairs the tables have already (present_indexes)."""
    return _table_statements(prefix) + [
        f"CREATE INDEX IF NOT EXISTS {index_prefix or prefix}_{table}_{name} ON {prefix}_{table} {definition}"
        for table, name, definition in INDEXES if (table, name) not in present]


def present_indexes(conn, prefix: str = LIVE) -> frozenset[tuple[str, str]]:
    if conn.kind == "sqlite":
        rows = conn.all("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = conn.all("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return frozenset((table, name) for table, name, _ in INDEXES for on, index in rows
                     if on == f"{prefix}_{table}" and index.endswith(f"_{table}_{name}"))


def _table_statements(p: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {p}_cases ({', '.join(f'{name} {sql}' for name, sql in CASE_TABLE)})",
        f"""CREATE TABLE IF NOT EXISTS {p}_follow_ups (
            case_id TEXT NOT NULL,
            follow_up_id TEXT NOT NULL,
            pillar TEXT NOT NULL,
            due_on TEXT NOT NULL,
            purpose TEXT NOT NULL,
            open INTEGER NOT NULL,
            PRIMARY KEY (case_id, follow_up_id))""",
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
        # Aid by the day it was given (the dashboards' and rakor report's chosen periods).
        f"""CREATE TABLE IF NOT EXISTS {p}_aid_days (
            pillar TEXT NOT NULL, kecamatan TEXT NOT NULL, component TEXT NOT NULL, given_on TEXT NOT NULL,
            count BIGINT NOT NULL, value_idr BIGINT NOT NULL, PRIMARY KEY (pillar, kecamatan, component, given_on))""",
        f"CREATE TABLE IF NOT EXISTS {p}_referrals ({', '.join(f'{n} {sql}' for n, sql in REFERRAL_TABLE)})",
        f"CREATE TABLE IF NOT EXISTS {p}_privacy_requests ({', '.join(f'{n} {sql}' for n, sql in PRIVACY_TABLE)})",
        f"CREATE TABLE IF NOT EXISTS {p}_people ({', '.join(f'{n} {sql}' for n, sql in PEOPLE_TABLE)})",
        f"CREATE TABLE IF NOT EXISTS {p}_households ({', '.join(f'{n} {sql}' for n, sql in HOUSEHOLD_TABLE)})",
        f"CREATE TABLE IF NOT EXISTS {p}_desil ({', '.join(f'{n} {sql}' for n, sql in DESIL_TABLE)})",
        f"""CREATE TABLE IF NOT EXISTS {p}_tracking (
            name TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT NOT NULL)""",
    ]


TABLES = ("cases", "follow_ups", "open_counts", "monthly", "aid", "assessment_days", "privacy_requests", "people",
          "aid_days", "referrals", "households", "desil", "tracking")


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
    ("aid_days", "pillar, kecamatan, component, given_on"),
    ("referrals", "case_id, referral_id, sent_on, status"),
    ("cases", "desil, desil_period"),
    ("households", "beneficiary_id, household_key"),
    ("desil", "beneficiary_id, desil, period"),
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
