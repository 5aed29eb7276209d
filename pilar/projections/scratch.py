"""A complete set of view tables built beside the live ones while servers keep writing
(`pilar projections rebuild|check`), and swapped in for them in one short transaction.

The build reads the events in pages and writes each page in its own short transaction, so no
writer (SQLite: the one write lock) or reader (PostgreSQL: table locks) waits for the replay, and
pauses between pages (pilar/projections/pace.py), so that the servers keep their share of the
cores (on a busy machine that, not a lock, is what writers wait for).
The swap first catches up to the head in the same transaction that renames the tables, so the
swapped-in views stand at exactly the position their tracking row names; a projection process
goes on from there (it projects only events past the tracking position it reads under its own
write transaction, pilar/projections/runner.py)."""

import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone

from pilar.audit.quarantine import quarantined_between
from pilar.cases.application import PilarApplication
from pilar.cases.clock import utc_text
from pilar.cases.errors import DamagedEvent
from pilar.projections.pace import Pace
from pilar.projections.schema import INDEXES, LIVE, TABLES, create_statements
from pilar.projections.workload import WorkloadProjector
from pilar.store.connection import Connection

SCRATCH = "view__"  # every scratch or retired set of view tables is named view__<what>_<table>
OLD = f"{SCRATCH}old"
Progress = Callable[[int, int], None]  # (position reached, head)
NEAR = 50  # events left before the swap: what its transaction still has to project
SWAP_LOCK_TIMEOUT = "100ms"  # PostgreSQL: how long readers may queue behind the swap's locks per try
SWAP_TRIES = 50
# Seconds, at least, between two of these write transactions on SQLite: every writer waiting for
# its write turn (pilar/store/sqlite.py) tries again within 4 ms, so each of them gets in.
GIVE_WAY = 0.02
# Seconds one of these transactions should hold SQLite's write turn, which every writer of events
# waits for: pages of 1,000 events held it 100-600 ms at 1,000,000 events (docs/performance.md).
HOLD = 0.03
DROP_ROWS = 2000  # rows deleted per transaction when a retired table is emptied (SQLite), at most


def _give_way(held: float) -> float:
    """The gap after a write transaction on SQLite that held the lock `held` seconds: as long as
    that, and at least long enough for every waiting writer to try."""
    return max(held, GIVE_WAY)


class Sizer:
    """How many events (or rows) the next SQLite transaction carries, so that it holds the write
    turn about HOLD seconds: sized by the time per item of the last one, growing at most twofold
    a step, between `least` and `most`. On PostgreSQL, where writers do not wait for these, `most`."""

    def __init__(self, kind: str, most: int, least: int = 20):
        self.adapts = kind == "sqlite"
        self.most, self.least = most, min(least, most)
        self.size = min(most, 5 * least) if self.adapts else most

    def held(self, seconds: float, items: int) -> None:
        if not self.adapts or items <= 0:
            return
        fits = int(HOLD * items / seconds) if seconds > 0 else self.most
        self.size = max(self.least, min(self.most, 2 * self.size, fits))


class NotQuarantined(RuntimeError):
    def __init__(self, damaged: list[DamagedEvent]):
        self.damaged = damaged
        super().__init__(f"{len(damaged)} damaged event(s) not quarantined; the views are unchanged: "
                         + "; ".join(str(d) for d in damaged))


class ScratchViews:
    def __init__(self, app: PilarApplication, conn: Connection, what: str, *, boundary: int | None,
                 page: int = 1000, found: list[DamagedEvent] | None = None, progress: Progress | None = None,
                 pace: Pace | None = None):
        self.app = app
        self.conn = conn
        self.pace = pace or Pace()
        self.prefix = f"{SCRATCH}{what}"
        self.page = Sizer(conn.kind, page)
        self.found = found
        self.progress = progress
        self.projector = WorkloadProjector(conn, app.view_mapper, self.prefix, household_key=app.household_key_of)
        self.projector.mac_boundary = boundary
        self.position = 0
        self.held = 0.0  # seconds the swap's transaction held the views (and, on SQLite, every writer)

    def create(self) -> None:
        if self.conn.kind == "postgres":
            # Nothing here needs to survive a crash (the next run drops what is left; a lost swap
            # leaves the old views, as they were): its commits need not wait for the disk.
            self.conn.execute("SET synchronous_commit = off")
        drop_tables(self.conn, self.prefix)
        # SQLite keeps an index's name when its table is renamed: a fresh one can never clash with the live ones'.
        index_prefix = f"{SCRATCH}ix{secrets.token_hex(4)}"
        with self.conn.transaction():
            for statement in create_statements(self.prefix, index_prefix=index_prefix):
                self.conn.execute(statement)

    def catch_up(self, stop: int | None = None) -> int:
        """Project the events after the position reached, up to `stop` (inclusive; None: the head),
        one page per transaction; how many events were read."""
        read = 0
        head = stop if stop is not None else (self.app.recorder.max_notification_id() or 0)
        while self.position < head:
            carried = self._page(head)
            if not carried:
                break
            read += carried
            if self.progress is not None:
                self.progress(self.position, head)
        return read

    def _page(self, stop: int | None, *, within: bool = False) -> int:
        notifications = self.app.recorder.select_notifications(
            start=self.position, limit=self.page.size, stop=stop, inclusive_of_start=False)
        if not notifications:
            return 0
        self.projector.skip = quarantined_between(self.conn, self.position, notifications[-1].id)
        # Prepared before the write transaction, as the projection process does: on SQLite that
        # transaction holds the lock every writer of events waits for.
        started = time.monotonic()
        batch = self._prepare(notifications)
        if within:
            self.projector.write(batch)
        else:
            began = time.monotonic()
            with self.conn.transaction():
                self.projector.write(batch)
            ended = time.monotonic()
            self.page.held(ended - began, len(notifications))
            held = _give_way(ended - began) if self.conn.kind == "sqlite" else 0.0
            self.pace.after(ended - started, at_least=held)
        self.position = notifications[-1].id
        return len(notifications)

    def _prepare(self, notifications):
        while True:
            try:
                return self.projector.prepare(notifications)
            except DamagedEvent as damage:  # left out and reported; nothing of the page is written before
                if self.found is None or damage.position is None:
                    raise
                self.found.append(damage)
                self.projector.skip |= {damage.position}

    def swap(self) -> int:
        """Catch up until little is left, then, in one transaction: project what is left and rename
        these tables to the live ones' names (the live ones to view__old_*). Returns the position
        the swapped-in views stand at."""
        while self.catch_up() > NEAR:
            pass
        if self.found:
            raise NotQuarantined(self.found)
        if self.conn.kind == "sqlite":
            with self.conn.transaction():  # BEGIN IMMEDIATE: no event is appended until the swap commits
                began = time.monotonic()  # from holding the write lock
                self._finish_within()
                _rename(self.conn, self.prefix)
            self.held = time.monotonic() - began
            return self.position
        return self._swap_postgres()

    def _swap_postgres(self) -> int:
        import psycopg

        for attempt in range(SWAP_TRIES):
            reached = self.position
            try:
                began = time.monotonic()
                with self.conn.transaction():
                    self.conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
                    existing = _tables(self.conn)
                    tables = [f"{LIVE}_{t}" for t in TABLES if f"{LIVE}_{t}" in existing]
                    # Held to the commit: no projection process writes the old tables after the
                    # events are counted, and none of the new until they are live.
                    self.conn.execute(f"LOCK TABLE {', '.join(tables + [f'{self.prefix}_{t}' for t in TABLES])} "
                                      "IN ACCESS EXCLUSIVE MODE")
                    self._finish_within()
                    _rename(self.conn, self.prefix)
                self.held = time.monotonic() - began
                return self.position
            except psycopg.errors.LockNotAvailable:
                self.position = reached  # what the rolled-back transaction projected is not there
                time.sleep(0.05 * (attempt + 1))  # a projection step or a long read holds a view: let it end
                self.catch_up()
        raise TimeoutError(f"could not take the views' locks for the swap in {SWAP_TRIES} tries; the live views "
                           "are unchanged")

    def _finish_within(self) -> None:
        # Events appended since the last page: few, and on SQLite none can be appended meanwhile.
        # On PostgreSQL one appended after the last read is projected by the projection process.
        while self._page(None, within=True):
            pass
        if self.found:
            raise NotQuarantined(self.found)  # rolls the swap back
        # A projection process that prepared a step against the old tables sees that its views
        # changed under it, though the position may be the same, and prepares again (runner.py).
        self.conn.execute(f"UPDATE {self.prefix}_tracking SET updated_at = ?", (utc_text(datetime.now(timezone.utc)),))

    def drop(self) -> None:
        drop_tables(self.conn, self.prefix)


def _rename(conn: Connection, prefix: str) -> None:
    existing = _tables(conn)
    indexes = _indexes(conn)
    statements = []
    for table in TABLES:
        live = f"{LIVE}_{table}"
        if live in existing:
            statements.append(f"ALTER TABLE {live} RENAME TO {OLD}_{table}")
            statements += _index_renames(indexes.get(live, []), table, OLD)
        statements.append(f"ALTER TABLE {prefix}_{table} RENAME TO {live}")
        statements += _index_renames(indexes.get(f"{prefix}_{table}", []), table, LIVE)
    if conn.kind == "postgres":
        conn.execute("; ".join(statements))  # one round trip: the views are locked meanwhile
        return
    for statement in statements:
        conn.execute(statement)


def _indexes(conn: Connection) -> dict[str, list[str]]:
    """PostgreSQL: each table's index names (SQLite cannot rename an index: present_indexes)."""
    found: dict[str, list[str]] = {}
    if conn.kind == "postgres":
        for table, index in conn.all("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"):
            found.setdefault(table, []).append(index)
    return found


def _index_renames(names: list[str], table: str, prefix: str) -> list[str]:
    """An index follows its table's name, so that the live ones are always called alike."""
    endings = [f"_{table}_{name}" for t, name, _ in INDEXES if t == table] + [f"_{table}_pkey"]
    renames = []
    for index in names:
        ending = next((e for e in endings if index.endswith(e)), None)
        if ending is not None and index != f"{prefix}{ending}":
            renames.append(f'ALTER INDEX "{index}" RENAME TO "{prefix}{ending}"')
    return renames


def _tables(conn: Connection) -> set[str]:
    if conn.kind == "sqlite":
        return {name for (name,) in conn.all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {name for (name,) in conn.all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}


def drop_tables(conn: Connection, prefix: str = SCRATCH) -> None:
    """Drop every table named `prefix`… (by default every scratch and retired view table), in short
    transactions: on SQLite each is emptied a few rows at a time first, since deleting overwrites
    the rows' bytes (secure_delete) and one DROP of a large table would hold the write lock for it."""
    for table in sorted(t for t in _tables(conn) if t.startswith(prefix)):
        if conn.kind == "sqlite":
            rows = Sizer(conn.kind, DROP_ROWS)
            while True:
                began, size = time.monotonic(), rows.size
                with conn.transaction():
                    gone = conn.execute(f"DELETE FROM {table} WHERE rowid IN "
                                        f"(SELECT rowid FROM {table} LIMIT {size})").rowcount
                if gone < size:
                    break
                held = time.monotonic() - began
                rows.held(held, gone)
                time.sleep(_give_way(held))
        _drop(conn, table)


def _drop(conn: Connection, table: str) -> None:
    if conn.kind == "sqlite":
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        return
    import psycopg

    for attempt in range(SWAP_TRIES):
        try:
            with conn.transaction():  # a reader still on a retired table: let it end rather than queue others
                conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            return
        except psycopg.errors.LockNotAvailable:
            time.sleep(0.05 * (attempt + 1))
    raise TimeoutError(f"could not drop {table}: it stays until the next rebuild or check")
