"""Connections for the read side, in the same database as the events (SQLite file or
PostgreSQL schema). SQL is written once with `?` placeholders and adapted for psycopg."""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from cases.sqlite_store import STORE_CHECKPOINT_PAGES, checkpoint_pragma
from cases.store import StoreConfig


class ViewDB:
    def __init__(self, store: StoreConfig):
        self.store = store
        self.kind = store.kind

    def connect(self, *, checkpoint_pages: int = STORE_CHECKPOINT_PAGES) -> "Connection":
        """`checkpoint_pages`: see cases.sqlite_store; only the projection process asks for fewer."""
        if self.kind == "sqlite":
            raw = sqlite3.connect(self.store.sqlite_path, timeout=30, isolation_level=None, check_same_thread=False)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute(checkpoint_pragma(checkpoint_pages))
            return Connection(raw, "sqlite")
        return Connection(psycopg.connect(self.conninfo(), **self.connect_kwargs()), "postgres")

    def conninfo(self) -> str:
        return urlsplit(self.store.url)._replace(query="").geturl()

    def connect_kwargs(self) -> dict[str, Any]:
        schema = parse_qs(urlsplit(self.store.url).query).get("schema", ["public"])[0]
        # Views live beside the events, in the store's schema.
        return {"autocommit": True, "options": f"-c search_path={schema}", "connect_timeout": 5}


class Connection:
    def __init__(self, raw: Any, kind: str):
        self.raw = raw
        self.kind = kind

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.kind == "postgres" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(self._sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.kind == "postgres":
            with self.raw.cursor() as cursor:
                cursor.executemany(self._sql(statement), rows)
        else:
            self.raw.executemany(statement, rows)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(statement, params).fetchall())

    def one(self, statement: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(statement, params).fetchone()

    @contextmanager
    def transaction(self) -> Iterator["Connection"]:
        """A write transaction. On SQLite it takes the write lock at once (BEGIN IMMEDIATE),
        so a transaction never fails half-way to upgrade its lock."""
        if self.kind == "sqlite":
            self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.raw.execute("ROLLBACK")
                raise
            self.raw.execute("COMMIT")
        else:
            with self.raw.transaction():
                yield self

    def close(self) -> None:
        self.raw.close()
