"""The embedded store: eventsourcing's SQLite persistence with the write-ahead log checkpointed
where requests do not pay for it, writers taking turns, the read side's connections, and the
stream queries.

A commit that leaves the log longer than a connection's `wal_autocheckpoint` pages copies the
log back into the database file, then and there, before its COMMIT returns. With a million
events the pages a batch of events dirties are scattered over the file (case ids are random),
so a checkpoint is costly (up to ~0.75 s for 40 MB of log); the longer the log between
checkpoints, the more often one page was written several times and is copied once. So the
*checkpointing* connections (the projection process's, the rebuild's and check's) never
checkpoint in a commit: after a transaction, with the write turn given up, they run a PASSIVE
checkpoint (which blocks no writer) at most every CHECKPOINT_SECONDS. Every other connection
checkpoints by itself only at STORE_CHECKPOINT_PAGES, a backstop for when no projection process
runs, so that a request is not the one that pays.

SQLite's write lock has no queue: a writer that finds it taken sleeps in the busy handler, up to
100 ms a try, so under a long job of short transactions (a rebuild) one writer can lose many
rounds in a row. Every writer of a file store therefore first takes its *write turn*, a file
lock beside the database that is tried every few milliseconds, and only then begins; the
busy handler stays behind it for writers outside Pilar (the sqlite3 shell)."""

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteConnection as EventsourcingConnection
from eventsourcing.sqlite import SQLiteConnectionPool, SQLiteDatastore, SQLiteFactory

from pilar.store.connection import Connection
from pilar.store.streams import StreamQueries

CHECKPOINT_SECONDS = 4.0  # ~40 MB of log under a full write load, a few pages when quiet
STORE_CHECKPOINT_PAGES = 40_000  # 4 KiB pages: about 160 MB of log
LOCK_TIMEOUT = 30.0  # seconds a writer waits for its turn, as SQLite's own busy timeout
TURN_POLL = (0.0005, 0.004)  # first and longest sleep between tries for the write turn


@contextmanager
def write_turn(db_path: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the store's write turn: one writer at a time across every process and thread."""
    fd = os.open(f"{db_path}.write.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
        pause = TURN_POLL[0]
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError(f"database is locked: no write turn on {db_path} "
                                                   "within the lock timeout") from None
                time.sleep(pause)
                pause = min(pause * 2, TURN_POLL[1])
        yield
    finally:
        os.close(fd)  # closing the descriptor gives the turn up, also when the process dies


def checkpoint_pragma(pages: int) -> str:
    return f"PRAGMA wal_autocheckpoint = {int(pages)}"


class _Pool(SQLiteConnectionPool):
    def _create_connection(self) -> EventsourcingConnection:
        connection = super()._create_connection()
        connection.cursor().execute(checkpoint_pragma(STORE_CHECKPOINT_PAGES))
        return connection


class _Datastore(SQLiteDatastore):
    def __init__(self, made: SQLiteDatastore):
        pool = made.pool
        super().__init__(pool.db_name, lock_timeout=pool.lock_timeout, pool_size=pool.pool_size,
                         max_overflow=pool.max_overflow, pool_timeout=pool.pool_timeout, max_age=pool.max_age,
                         pre_ping=pool.pre_ping, single_row_tracking=made.single_row_tracking,
                         originator_id_type=made.originator_id_type)
        self.pool.close()
        self.pool = _Pool(db_name=pool.db_name, lock_timeout=pool.lock_timeout, pool_size=pool.pool_size,
                          max_overflow=pool.max_overflow, pool_timeout=pool.pool_timeout, max_age=pool.max_age,
                          pre_ping=pool.pre_ping)

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[EventsourcingConnection]:
        # The pool's writer lock queues this process's threads fairly; the write turn then
        # queues it with the other processes.
        with super().get_connection(commit=commit) as conn:
            if not commit or self.pool.is_sqlite_memory_mode:
                yield conn
                return
            with write_turn(self.pool.db_name, self.pool.lock_timeout):
                yield conn


class PilarSQLiteFactory(SQLiteFactory):
    def __init__(self, env):
        super().__init__(env)
        made = self.datastore
        self.datastore = _Datastore(made)
        made.close()


class SQLiteConnection(Connection):
    kind = "sqlite"

    def __init__(self, raw: sqlite3.Connection, path: Path | None = None, *, checkpoints: bool = False):
        super().__init__(raw)
        self.path = path
        self.checkpoints = checkpoints
        self._checkpoint_at = time.monotonic() + CHECKPOINT_SECONDS
        self._locks: dict[str, int] = {}

    @classmethod
    def open(cls, path: Path, *, checkpoints: bool = False) -> "SQLiteConnection":
        """`checkpoints`: this connection checkpoints the log, outside its write turn (see above)."""
        raw = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute(checkpoint_pragma(0 if checkpoints else STORE_CHECKPOINT_PAGES))
        raw.execute("PRAGMA secure_delete = ON")  # a deleted row's bytes are overwritten, not left in free space
        return cls(raw, path, checkpoints=checkpoints)

    @classmethod
    def in_memory(cls) -> "SQLiteConnection":
        return cls(sqlite3.connect(":memory:", isolation_level=None))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with write_turn(self.path) if self.path is not None else nullcontext(), self._immediate():
            yield self
        if self.checkpoints and time.monotonic() >= self._checkpoint_at:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the log into the database file as far as no reader holds it back; waits for no one."""
        self.raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._checkpoint_at = time.monotonic() + CHECKPOINT_SECONDS

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock at once, so a transaction never fails half-way
        # to upgrade its lock.
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        self.raw.execute("BEGIN")
        try:
            yield self
        finally:
            self.raw.execute("ROLLBACK")

    def shred(self, table: str, wait: float = 5.0) -> None:
        # secure_delete overwrote the row in its page, but earlier images of that page are still
        # in the write-ahead log: copy the log into the database file and empty it. A reader in
        # the middle of the log holds the checkpoint back, so it is retried for a moment.
        # Each attempt gives up at once rather than wait on the busy handler while holding the
        # write lock (which would stall every writer); the attempts are spaced out here instead.
        deadline = time.monotonic() + wait
        timeout = self.raw.execute("PRAGMA busy_timeout").fetchone()[0]
        self.raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    busy, _, _ = self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.OperationalError:
                    busy = 1
                if not busy:
                    return
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError(f"could not empty the write-ahead log after deleting from {table}")
                time.sleep(0.05)
        finally:
            self.raw.execute(f"PRAGMA busy_timeout = {int(timeout)}")

    def shred_horizon(self) -> int:
        # No transaction can hold a deleted row back past the checkpoint: the mark only orders shreds.
        return time.time_ns()

    def try_exclusive(self, name: str) -> bool:
        # SQLite is one machine's store, so a file lock beside the database file is enough.
        fd = os.open(f"{self.path}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._locks[name] = fd
        return True

    def release_exclusive(self, name: str) -> None:
        fd = self._locks.pop(name, None)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class SQLiteStreams(StreamQueries):
    def head_sql(self) -> str:
        return f"SELECT MAX(rowid) FROM {self.table}"

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT rowid FROM {self.table} WHERE originator_id = ? AND originator_version = ?",
                         (originator_id.hex, version))
            row = curs.fetchone()
            return row[0] if row else None

    def _stream_rows(self, originator_id: UUID, after_version: int, limit: int) -> list[tuple]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT rowid, originator_version, topic, state FROM {self.table} "
                "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version LIMIT ?",
                (originator_id.hex, after_version, limit),
            )
            return [tuple(r) for r in curs.fetchall()]

    def drop_snapshots(self, table: str, originator_id: UUID, before_version: int) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version < ?",
                         (originator_id.hex, before_version))

    def restore(self, event: Notification) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"UPDATE {self.table} SET originator_id = ?, originator_version = ?, topic = ?, state = ? "
                         "WHERE rowid = ?", (UUID(str(event.originator_id)).hex, event.originator_version,
                                             event.topic, bytes(event.state), event.id))

    def originators(self, topic: str) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._by_topic(topic))
            return [UUID(row[0]) for row in curs.fetchall()]
