"""Damaged events: found by the projection process (or a check), and quarantined by an operator.

Events are never edited, so quarantining one changes nothing in the event table: it records, here,
that an operator has seen the damage and lets the views go on without that event. Verify still
reports it (docs/decisions.md, "A damaged event is quarantined, never dropped")."""

from dataclasses import dataclass
from datetime import datetime, timezone

from pilar.cases import event_mac
from pilar.cases.clock import utc_text
from pilar.cases.errors import DamagedEvent
from pilar.store import key_checks
from pilar.store.connection import Connection

TABLE = "pilar_damaged_events"
QUARANTINE_STATEMENTS = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        position BIGINT PRIMARY KEY,
        stream_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        reason TEXT NOT NULL,
        found_at TEXT NOT NULL,
        quarantined_at TEXT,
        quarantined_by TEXT,
        quarantine_reason TEXT,
        repaired_at TEXT,
        repaired_by TEXT)""",
]
_COLUMNS = ("position, stream_id, version, reason, found_at, quarantined_at, quarantined_by, quarantine_reason, "
            "repaired_at, repaired_by")


@dataclass(frozen=True)
class Damage:
    position: int
    stream_id: str
    version: int
    reason: str
    found_at: str
    quarantined_at: str | None = None
    quarantined_by: str | None = None
    quarantine_reason: str | None = None
    repaired_at: str | None = None
    repaired_by: str | None = None

    @property
    def quarantined(self) -> bool:
        """Left out of the views (a repaired event no longer is)."""
        return self.quarantined_at is not None and not self.repaired

    @property
    def repaired(self) -> bool:
        return self.repaired_at is not None

    def describe(self) -> str:
        text = f"position {self.position} (stream {self.stream_id}, version {self.version}): {self.reason}"
        if self.quarantined_at is not None:
            text += f"; quarantined by {self.quarantined_by} at {self.quarantined_at}: {self.quarantine_reason}"
        if self.repaired:
            text += f"; repaired by {self.repaired_by} at {self.repaired_at}"
        return text


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def record_found(conn: Connection, damage: DamagedEvent) -> None:
    """Remember a damaged event: found again after a repair, damaged again; but a repair made
    after the event was read (the projection process read it, then the repair committed) stands."""
    with conn.transaction():
        conn.execute(f"INSERT INTO {TABLE} (position, stream_id, version, reason, found_at) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (position) DO UPDATE SET reason = excluded.reason, repaired_at = NULL, "
                     f"repaired_by = NULL WHERE {TABLE}.repaired_at IS NULL OR {TABLE}.repaired_at < excluded.found_at",
                     (damage.position, damage.stream_id, damage.version, damage.reason, utc_text(damage.found_at)))


def quarantine(conn: Connection, damage: DamagedEvent, *, by: str, reason: str) -> Damage:
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {TABLE} (position, stream_id, version, reason, found_at, quarantined_at, quarantined_by, "
            "quarantine_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO UPDATE SET "
            "reason = excluded.reason, quarantined_at = excluded.quarantined_at, "
            "quarantined_by = excluded.quarantined_by, quarantine_reason = excluded.quarantine_reason, "
            "repaired_at = NULL, repaired_by = NULL",
            (damage.position, damage.stream_id, damage.version, damage.reason, _now(), _now(), by, reason))
    return next(d for d in damaged(conn) if d.position == damage.position)


def repaired(conn: Connection, damage: DamagedEvent, *, by: str) -> None:
    """Record that the event's row was put back as Pilar wrote it (pilar/projections/damage.py proved it)."""
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {TABLE} (position, stream_id, version, reason, found_at, repaired_at, repaired_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO UPDATE SET repaired_at = excluded.repaired_at, "
            "repaired_by = excluded.repaired_by",
            (damage.position, damage.stream_id, damage.version, damage.reason, _now(), _now(), by))


def damaged(conn: Connection) -> list[Damage]:
    """Every damaged event recorded, in position order."""
    rows = conn.all(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY position")
    return [Damage(int(r[0]), r[1], int(r[2]), *r[3:]) for r in rows]


def quarantined_between(conn: Connection, after: int, last: int | None = None) -> frozenset[int]:
    """Positions of quarantined events after `after` (up to `last`): the views go on without them."""
    sql = f"SELECT position FROM {TABLE} WHERE quarantined_at IS NOT NULL AND repaired_at IS NULL AND position > ?"
    params: tuple = (after,)
    if last is not None:
        sql, params = sql + " AND position <= ?", (after, last)
    return frozenset(int(row[0]) for row in conn.all(sql, params))


def mac_boundary(conn: Connection, audit_key: bytes) -> int:
    """The last position that may lack a MAC (0 on a store set up with MACs, or when the record of it
    was not written under the key: verify reports that as `forged_boundary`)."""
    value = key_checks.recorded(conn, event_mac.BOUNDARY_NAME)
    return event_mac.parse_boundary(event_mac.event_key(audit_key), value) or 0
