"""Connections for the read side, in the same database as the events (SQLite file or
PostgreSQL schema). SQL is written once with `?` placeholders; each store's connection class
(`pilar/store/sqlite.py`, `pilar/store/postgres.py`) adapts it and knows its own transactions and locks."""

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pilar.store.config import StoreConfig


class StoreStatement(str):
    """A statement only one kind of store runs (e.g. PostgreSQL's own DDL in a list of statements
    every store runs); the others skip it. Made by `only_on`."""

    kind = ""


def only_on(kind: str, statement: str) -> StoreStatement:
    made = StoreStatement(statement)
    made.kind = kind
    return made


class LockBusy(RuntimeError):
    """Another process holds a store-wide lock for longer than the caller would wait."""


class WrongEncoding(RuntimeError):
    """The database does not keep text as UTF-8, so it would hand Pilar bytes where it wrote text."""


class Connection:
    """One connection of either store; subclasses say how their store does each thing."""

    kind = ""
    # The column giving an append-only table's rows in the order they were inserted: SQLite's
    # rowid; on PostgreSQL a `seq BIGSERIAL` column the table declares (with `only_on`).
    row_order = "rowid"

    def __init__(self, raw: Any):
        self.raw = raw

    def sql(self, statement: str) -> str:
        return statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if isinstance(statement, StoreStatement) and statement.kind != self.kind:
            return self.raw.execute("SELECT 1")
        return self.raw.execute(self.sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(self.sql(statement), rows)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(statement, params).fetchall())

    def one(self, statement: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(statement, params).fetchone()

    @contextmanager
    def transaction(self) -> Iterator["Connection"]:
        """A write transaction."""
        raise NotImplementedError

    @contextmanager
    def snapshot(self) -> Iterator["Connection"]:
        """A read transaction: every query inside sees the same moment."""
        raise NotImplementedError

    def shred(self, table: str, wait: float) -> None:
        """Leave nothing of `table`'s deleted rows in the live database files, waiting at most about
        `wait` seconds for whatever holds that back (pilar/store/shredding.py says when it is owed)."""
        raise NotImplementedError

    def shred_horizon(self) -> int:
        """A mark later than every transaction committed so far (the deletions to shred among
        them): older transactions must end before a shred is done, and a later mark is owed anew."""
        raise NotImplementedError

    def older_transactions(self, horizon: int) -> list[str]:
        """The transactions, described, that began before `horizon` and still run: a shred done now
        would leave rows they can see in the files. (SQLite: a reader holding back the log makes
        the shred itself fail.)"""
        return []

    def try_exclusive(self, name: str) -> bool:
        """Take the store-wide lock `name` for as long as this connection lives, if it is free."""
        raise NotImplementedError

    def release_exclusive(self, name: str) -> None:
        raise NotImplementedError

    @contextmanager
    def exclusive(self, name: str, wait: float, busy: str) -> Iterator["Connection"]:
        """The store-wide lock `name` for as long as the block runs, waiting up to `wait` seconds
        for whoever holds it; then LockBusy(`busy`). Released when the process dies, too."""
        deadline = time.monotonic() + wait
        while not self.try_exclusive(name):
            if time.monotonic() >= deadline:
                raise LockBusy(f"{busy} (waited {wait:g} s)")
            time.sleep(0.1)
        try:
            yield self
        finally:
            self.release_exclusive(name)

    def require_utf8(self) -> None:
        """SQLite's text is UTF-8 always."""

    def close(self) -> None:
        self.raw.close()


class ViewDB:
    def __init__(self, store: StoreConfig):
        self.store = store
        self.kind = store.kind

    def connect(self, *, checkpoints: bool = False) -> Connection:
        """`checkpoints` (SQLite): this connection checkpoints the log (pilar/store/sqlite.py); the
        projection process's and the maintenance commands' do."""
        if self.kind == "sqlite":
            from pilar.store.sqlite import SQLiteConnection

            return SQLiteConnection.open(self.store.sqlite_path, checkpoints=checkpoints)
        from pilar.store.postgres import PostgresConnection

        return PostgresConnection.open(self.store)

    def listener(self, recorder: Any):
        """A PostgresListener on the channel `recorder` notifies; None on SQLite, which has none."""
        if self.kind == "sqlite":
            return None
        from pilar.store.postgres import PostgresConnection, PostgresListener

        return PostgresListener(PostgresConnection.open(self.store), recorder.channel_name)


class Readers:
    """Read connections for request threads: one per thread on SQLite, a pool on PostgreSQL."""

    def __init__(self, store: StoreConfig, pool_size: int = 4):
        self.db = ViewDB(store)
        self._local = threading.local()
        self._pool = None
        if store.kind == "postgres":
            from pilar.store.postgres import ReaderPool

            self._pool = ReaderPool(store, pool_size)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if self._pool is not None:
            with self._pool.connection() as conn:
                yield conn
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.db.connect()
        yield conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
