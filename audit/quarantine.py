"""Damaged events: found by the projection process (or a check), and quarantined by an operator.

Events are never edited, so quarantining one changes nothing in the event table: it records, here,
that an operator has seen the damage and lets the views go on without that event. Verify still
reports it (docs/decisions.md, "A damaged event is quarantined, never dropped")."""

from dataclasses import dataclass
from datetime import datetime, timezone

from cases.clock import utc_text
from cases.errors import DamagedEvent
from store.connection import Connection

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
        quarantine_reason TEXT)""",
]
_COLUMNS = "position, stream_id, version, reason, found_at, quarantined_at, quarantined_by, quarantine_reason"


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

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None

    def describe(self) -> str:
        text = f"position {self.position} (stream {self.stream_id}, version {self.version}): {self.reason}"
        if self.quarantined:
            text += f"; quarantined by {self.quarantined_by} at {self.quarantined_at}: {self.quarantine_reason}"
        return text


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def record_found(conn: Connection, damage: DamagedEvent) -> None:
    """Remember a damaged event (once; a row quarantined already stays as it is)."""
    with conn.transaction():
        conn.execute(f"INSERT INTO {TABLE} (position, stream_id, version, reason, found_at) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (position) DO NOTHING",
                     (damage.position, damage.stream_id, damage.version, damage.reason, _now()))


def quarantine(conn: Connection, damage: DamagedEvent, *, by: str, reason: str) -> Damage:
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {TABLE} (position, stream_id, version, reason, found_at, quarantined_at, quarantined_by, "
            "quarantine_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO UPDATE SET "
            "reason = excluded.reason, quarantined_at = excluded.quarantined_at, "
            "quarantined_by = excluded.quarantined_by, quarantine_reason = excluded.quarantine_reason",
            (damage.position, damage.stream_id, damage.version, damage.reason, _now(), _now(), by, reason))
    return next(d for d in damaged(conn) if d.position == damage.position)


def damaged(conn: Connection) -> list[Damage]:
    """Every damaged event recorded, in position order."""
    rows = conn.all(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY position")
    return [Damage(int(r[0]), r[1], int(r[2]), *r[3:]) for r in rows]


def quarantined_between(conn: Connection, after: int, last: int | None = None) -> frozenset[int]:
    """Positions of quarantined events after `after` (up to `last`): the views go on without them."""
    sql = f"SELECT position FROM {TABLE} WHERE quarantined_at IS NOT NULL AND position > ?"
    params: tuple = (after,)
    if last is not None:
        sql, params = sql + " AND position <= ?", (after, last)
    return frozenset(int(row[0]) for row in conn.all(sql, params))
