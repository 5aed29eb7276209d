"""The production store: PostgreSQL connections for the read side (a pool per process), its
locks, and the stream queries. Views, seals and keys live beside the events, in the store's schema."""

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from pilar.store.config import StoreConfig
from pilar.store.connection import Connection, WrongEncoding
from pilar.store.streams import StreamQueries


def connect_kwargs(store: StoreConfig) -> dict[str, Any]:
    return {"autocommit": True, "options": f"-c search_path={store.schema}", "connect_timeout": 5}


class PostgresConnection(Connection):
    kind = "postgres"
    row_order = "seq"

    def __init__(self, raw: psycopg.Connection, schema: str = "public"):
        super().__init__(raw)
        self.schema = schema

    @classmethod
    def open(cls, store: StoreConfig) -> "PostgresConnection":
        return cls(psycopg.connect(store.conninfo(), **connect_kwargs(store)), store.schema)

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def executemany(self, statement, rows) -> None:
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(self.sql(statement), rows)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.raw.transaction():
            yield self

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        self.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            yield self
        finally:
            self.raw.execute("ROLLBACK")

    def shred(self, table: str, wait: float = 2.0) -> None:
        # A deleted row stays in the table's file as a dead tuple; VACUUM FULL writes the live rows
        # to a new file and removes the old one (those an older snapshot still sees too: see
        # older_transactions). (WAL archives and base backups keep their copies: KEK rotation
        # covers those, docs/operations.md.)
        # Bounded: a transaction holding the table must not queue every reader of it behind this;
        # whoever shreds retries (pilar/store/shredding.py).
        self.execute(f"SET lock_timeout = '{int(wait * 1000)}ms'")
        try:
            self.execute(f"VACUUM FULL {table}")
        finally:
            self.execute("RESET lock_timeout")

    def require_utf8(self) -> None:
        # A database created without a UTF-8 locale (a cluster made under LANG=C) is SQL_ASCII:
        # psycopg then reads every text column as bytes, and the first key check fails obscurely.
        encoding = self.raw.info.parameter_status("server_encoding")
        if encoding != "UTF8":
            name = self.raw.info.dbname
            raise WrongEncoding(f"the PostgreSQL database {name} is encoded {encoding}, and Pilar keeps its text as "
                                f"UTF-8: create it with `createdb -E UTF8 -T template0 {name}` (or a cluster made "
                                f"under a UTF-8 locale), then run `pilar db init`")

    def shred_horizon(self) -> int:
        # Every transaction that has committed has an id below this, the deleting one included.
        return int(self.one("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")[0])

    def older_transactions(self, horizon: int) -> list[str]:
        # What keeps VACUUM from removing a row deleted before `horizon`: a snapshot (backend_xmin)
        # or a transaction (backend_xid) older than it, of a session of this database or of a
        # standby's feedback (walsender), a prepared transaction, a replication slot. A plain
        # VACUUM's own snapshot holds nothing back (PostgreSQL skips it); its ANALYZE's does.
        # Ages are compared, not ids, which wrap around.
        older = "age({}) > age(?::text::xid)"
        return [row[0] for row in self.all(
            "SELECT 'pid ' || pid || ' (' || coalesce(nullif(application_name, ''), backend_type) || ', '"
            " || coalesce(client_addr::text || ', ', '') || 'open ' || coalesce(round(extract(epoch FROM"
            " clock_timestamp() - xact_start))::text || ' s', 'not in a transaction') || ')' FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND (datname = current_database() OR backend_type = 'walsender')"
            " AND NOT (backend_type = 'autovacuum worker' AND query LIKE 'autovacuum: VACUUM%%'"
            " AND query NOT LIKE '%%ANALYZE%%')"
            f" AND ({older.format('backend_xmin')} OR {older.format('backend_xid')})"
            " UNION ALL SELECT 'prepared transaction ' || gid FROM pg_prepared_xacts"
            f" WHERE database = current_database() AND {older.format('transaction')}"
            " UNION ALL SELECT 'replication slot ' || slot_name FROM pg_replication_slots"
            f" WHERE {older.format('xmin')}", (str(horizon % 2**32),) * 4)]

    def _lock_key(self, name: str) -> int:
        # Advisory locks are per database; the schema is part of the key so that stores sharing
        # a database (one schema each) do not block each other.
        return zlib.crc32(f"pilar:{self.schema}:{name}".encode())

    def try_exclusive(self, name: str) -> bool:
        # A session lock on this very connection: losing the connection loses the lock.
        return bool(self.one("SELECT pg_try_advisory_lock(?)", (self._lock_key(name),))[0])

    def release_exclusive(self, name: str) -> None:
        try:
            self.execute("SELECT pg_advisory_unlock(?)", (self._lock_key(name),))
        except psycopg.Error:
            pass  # a dead connection has released it already


class PostgresListener:
    """LISTENs on the channel eventsourcing notifies after each insert. A notification can be
    missed (eventsourcing #305), so whoever waits on it polls as well."""

    def __init__(self, conn: PostgresConnection, channel: str):
        self.conn = conn
        conn.execute(f'LISTEN "{channel}"')

    def wait(self, timeout: float) -> bool:
        """Whether a notification came within `timeout` seconds."""
        return any(True for _ in self.conn.raw.notifies(timeout=timeout, stop_after=1))

    def drain(self) -> None:
        for _ in self.conn.raw.notifies(timeout=0):
            pass

    def close(self) -> None:
        self.conn.close()


class ReaderPool:
    """Opened on first use, so that building the services (in each worker) connects nothing yet.
    No check on checkout (a round trip per read); a connection broken by a database restart
    fails one read with 503 and is then discarded by the pool."""

    def __init__(self, store: StoreConfig, size: int):
        self.schema = store.schema
        self._pool = ConnectionPool(store.conninfo(), kwargs=connect_kwargs(store), min_size=1, max_size=size,
                                    open=False)
        self._opening = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if self._pool.closed:
            with self._opening:
                if self._pool.closed:
                    self._pool.open(wait=False)
        with self._pool.connection(timeout=5) as raw:
            yield PostgresConnection(raw, self.schema)

    def close(self) -> None:
        self._pool.close()


class PostgresStreams(StreamQueries):
    @property
    def qualified_table(self) -> str:
        return f'"{self.datastore.schema}"."{self.table}"'

    def head_sql(self) -> str:
        return f"SELECT MAX(notification_id) FROM {self.table}"

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        statement = SQL(
            "SELECT notification_id FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.table))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (originator_id, version))
            row = curs.fetchone()
            return row["notification_id"] if row else None

    def _stream_rows(self, originator_id: UUID, after_version: int, limit: int) -> list[tuple]:
        statement = SQL(
            "SELECT notification_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version LIMIT %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.table))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (originator_id, after_version, limit))
            return [(r["notification_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                    for r in curs.fetchall()]

    def drop_snapshots(self, table: str, originator_id: UUID, before_version: int) -> None:
        statement = SQL("DELETE FROM {}.{} WHERE originator_id = %s AND originator_version < %s").format(
            Identifier(self.datastore.schema), Identifier(table))
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, (originator_id, before_version))

    def restore(self, event: Notification) -> None:
        statement = SQL("UPDATE {}.{} SET originator_id = %s, originator_version = %s, topic = %s, state = %s "
                        "WHERE notification_id = %s").format(Identifier(self.datastore.schema), Identifier(self.table))
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, (UUID(str(event.originator_id)), event.originator_version, event.topic,
                                     bytes(event.state), event.id))

    def originators(self, topic: str) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._by_topic(topic))
            return [row["originator_id"] for row in curs.fetchall()]
