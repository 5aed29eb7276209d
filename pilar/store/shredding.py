"""Nothing of an erased key or name token may stay in the live database files (docs/decisions.md,
"Erasure waits for older snapshots"). After such rows are deleted, their table is shredded
(Connection.shred). On PostgreSQL that rewrites the table without the rows no transaction can see
any more: while a transaction older than the deletion runs (a pg_dump, a report, a benchmark),
VACUUM FULL copies the deleted row into the new file as "recently dead". On SQLite a reader in
the middle of the write-ahead log keeps the old page images there.

So a shred is first recorded as owed, with the deletion's horizon; done only once no transaction
older than that horizon is left; and struck off only then. The projection process retries what is
owed every few seconds (retry_owed); `pilar projections status`, /readyz and /metrics show it
meanwhile, and the log says what it waits for."""

import logging
import time
from dataclasses import dataclass

from pilar.store.connection import Connection

log = logging.getLogger(__name__)

TABLE = "pilar_owed_shreds"
OWED_SHRED_STATEMENTS = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} (table_name TEXT PRIMARY KEY, horizon BIGINT NOT NULL, "
    "since DOUBLE PRECISION NOT NULL)",
]
# A later deletion raises the horizon; `since` stays the first deletion's.
_OWE = (f"INSERT INTO {TABLE} (table_name, horizon, since) VALUES (?, ?, ?) ON CONFLICT (table_name) DO UPDATE "
        f"SET horizon = CASE WHEN excluded.horizon > {TABLE}.horizon THEN excluded.horizon ELSE {TABLE}.horizon END")
RETRY_WAIT = 0.2  # seconds a retry waits for the table (readers of it queue behind it meanwhile)
SAY_EVERY = 60.0  # seconds between two log lines about the same held-back shred
_said: dict[str, float] = {}  # table -> when this process last said that its shred is held back


@dataclass(frozen=True)
class Owed:
    table: str
    since: float  # when the first deletion not yet shredded was made (epoch seconds)
    held_by: list[str]  # the older transactions it waits for (empty: it waits for nothing but a retry)

    def describe(self, now: float) -> str:
        waiting = f"waiting for {', '.join(self.held_by)} to end" if self.held_by else "to be retried"
        return f"{self.table}: owed for {now - self.since:.0f} s, {waiting}"


def shred(conn: Connection, table: str, wait: float | None = None) -> bool:
    """Once a deletion from `table` has committed (on this connection): record the shred as owed,
    then do it if no older transaction holds it back. Whether it is done; never raises (the
    deletion stands, and the projection process does what is owed)."""
    try:
        horizon = conn.shred_horizon()
        with conn.transaction():
            conn.execute(_OWE, (table, horizon, time.time()))
    except Exception:  # noqa: BLE001 - e.g. the store went away: the projection shreds when it passes the erasure
        log.warning("could not record the shred owed to %s", table, exc_info=True)
        return False
    return _settle(conn, table, horizon, wait)


def retry_owed(conn: Connection, wait: float = RETRY_WAIT) -> bool:
    """Every owed shred tried once, against the horizon it was recorded with; whether none is left."""
    rows = conn.all(f"SELECT table_name, horizon FROM {TABLE} ORDER BY table_name")
    return all([_settle(conn, table, int(horizon), wait) for table, horizon in rows])


def owed(conn: Connection) -> list[Owed]:
    """The shreds owed, oldest first, each with what holds it back now."""
    rows = conn.all(f"SELECT table_name, horizon, since FROM {TABLE} ORDER BY since")
    return [Owed(table, float(since), conn.older_transactions(int(horizon))) for table, horizon, since in rows]


def _settle(conn: Connection, table: str, horizon: int, wait: float | None) -> bool:
    try:
        held_by = conn.older_transactions(horizon)
        if not held_by:
            conn.shred(table) if wait is None else conn.shred(table, wait)
    except Exception as error:  # noqa: BLE001 - e.g. a reader held SQLite's log past the wait
        _say(table, "could not yet clear deleted rows of %s from the database files (%s); retrying",
             table, error)
        return False
    if held_by:
        _say(table, "deleted rows of %s stay in its database files until these older transactions end: %s; "
             "retrying", table, ", ".join(held_by))
        return False
    with conn.transaction():  # a deletion since the horizon raised it: that one is still owed
        conn.execute(f"DELETE FROM {TABLE} WHERE table_name = ? AND horizon <= ?", (table, horizon))
    if _said.pop(table, None) is not None:
        log.info("deleted rows of %s are cleared from the database files now", table)
    return True


def _say(table: str, message: str, *args) -> None:
    now = time.monotonic()
    if now - _said.get(table, float("-inf")) >= SAY_EVERY:
        log.warning(message, *args)
        _said[table] = now
