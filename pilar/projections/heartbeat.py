"""The projection process's heartbeat: one row in the store saying who leads, in what state, where
the views stand, when they last caught up with the store, and the event it is stuck on, if any.
`/readyz` and `/metrics` read it in one cheap query (pilar/projections/readiness.py), so a server knows
whether anyone keeps its views current, wherever that process runs."""

import logging
import os
import socket
import time
from dataclasses import dataclass

from pilar.store.connection import Connection

log = logging.getLogger("pilar.projection")

TABLE = "projection_heartbeat"
HEARTBEAT_STATEMENTS = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        name TEXT PRIMARY KEY,
        leader TEXT NOT NULL,
        state TEXT NOT NULL,
        since DOUBLE PRECISION NOT NULL,
        position BIGINT NOT NULL,
        beat_at DOUBLE PRECISION NOT NULL,
        caught_up_at DOUBLE PRECISION NOT NULL,
        error_position BIGINT,
        error TEXT,
        starts BIGINT NOT NULL)""",
]
NAME = "projection"
# Often enough that a reader sees a live leader well inside the smallest sensible timeout;
# rarely enough that on SQLite the write lock it takes is nothing beside the writers'.
BEAT_INTERVAL = 1.0

# `since` is when the state began: kept while the state stays the same, even across restarts, so
# a process that crash-loops while starting is seen starting for as long as the loop lasts.
_UPSERT = f"""INSERT INTO {TABLE} (name, leader, state, since, position, beat_at, caught_up_at, error_position,
        error, starts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET leader = excluded.leader, state = excluded.state,
        since = CASE WHEN {TABLE}.state = excluded.state THEN {TABLE}.since ELSE excluded.since END,
        position = excluded.position, beat_at = excluded.beat_at, caught_up_at = excluded.caught_up_at,
        error_position = excluded.error_position, error = excluded.error,
        starts = {TABLE}.starts + excluded.starts"""


@dataclass(frozen=True)
class Beat:
    leader: str
    state: str
    since: float
    position: int
    beat_at: float
    caught_up_at: float
    error_position: int | None
    error: str | None
    starts: int

    @property
    def restarts(self) -> int:
        """Times a projection process took the lead after the first."""
        return max(self.starts - 1, 0)


def read_beat(conn: Connection) -> Beat | None:
    row = conn.one(f"SELECT leader, state, since, position, beat_at, caught_up_at, error_position, error, starts "
                   f"FROM {TABLE} WHERE name = ?", (NAME,))
    if row is None:
        return None
    leader, state, since, position, beat_at, caught_up_at, error_position, error, starts = row
    return Beat(leader, state, float(since), int(position), float(beat_at), float(caught_up_at),
                None if error_position is None else int(error_position), error, int(starts))


class Heartbeat:
    """Written by the leading projection process on its own connection (the one holding the lead)."""

    def __init__(self, conn: Connection, interval: float = BEAT_INTERVAL):
        self.conn = conn
        self.interval = interval
        self.leader = f"{socket.gethostname()}:{os.getpid()}"
        self.state = "starting"
        self.position = 0
        self.caught_up_at = time.time()
        self.error_position: int | None = None
        self.error: str | None = None
        self._written_at = float("-inf")
        self._unwritable = False

    def took_lead(self, position: int) -> None:
        """Counts a start; an event the last leader was stuck on stays named until it is passed."""
        self.position = position
        last = self._read()
        if last is not None and last.error_position is not None and last.error_position > position:
            self.error_position, self.error = last.error_position, last.error
        self._write(starts=1)

    def progressed(self, position: int, *, caught_up: bool, at: float | None = None) -> None:
        """After a step: `caught_up` when it read every event stored when it began (at `at`)."""
        self.position = position
        if caught_up:
            self.caught_up_at = at if at is not None else time.time()
        if self.error_position is not None and position >= self.error_position:
            self.error_position = self.error = None
        changed = self.state != "active"
        self.state = "active"
        if changed or time.monotonic() - self._written_at >= self.interval:
            self._write()

    def stuck(self, position: int, error: str) -> None:
        """The views cannot pass the event at `position`; `error` names the kind of failure only
        (an exception's message may quote personal data)."""
        self.state, self.error_position, self.error = "stuck", position, error
        self._write()

    def stopped(self) -> None:
        self.halted("stopped")

    def halted(self, state: str) -> None:
        """Leading no more, and why: stopped, misconfigured (a key), refusing (seals cut back)."""
        self.state = state
        self._write()

    def _read(self) -> Beat | None:
        try:
            return read_beat(self.conn)
        except Exception as error:  # noqa: BLE001 - as in _write
            if not _missing_table(error):
                raise
            return None

    def _write(self, starts: int = 0) -> None:
        now = time.time()
        try:
            self.conn.execute(_UPSERT, (NAME, self.leader, self.state, now, self.position, now, self.caught_up_at,
                                        self.error_position, self.error, starts))
        except Exception as error:  # noqa: BLE001 - e.g. a store whose `pilar db init` predates the table
            if not _missing_table(error):
                raise
            if not self._unwritable:
                log.warning("no %s table: run `pilar db init` so that /readyz can see this process", TABLE)
            self._unwritable = True
            return
        self._written_at = time.monotonic()


def _missing_table(error: Exception) -> bool:
    text = str(error).lower()
    return TABLE in text and ("no such table" in text or "does not exist" in text)
