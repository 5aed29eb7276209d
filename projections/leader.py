"""Only one projection process writes the views of a database; others wait as standbys.

PostgreSQL: a session advisory lock held on the very connection that writes the views, so a
leader that loses its connection also loses the right to write. SQLite: an exclusive file
lock beside the database file (SQLite is one machine's store, so a file lock is enough)."""

import fcntl
import os
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cases.store import StoreConfig
from projections.db import Connection



class Leadership:
    def __init__(self, store: StoreConfig, conn: Connection, name: str = "projection"):
        self.store = store
        self.conn = conn
        self.name = name
        self._fd: int | None = None
        # Advisory locks are per database; the schema is part of the key so that stores sharing
        # a database (one schema each) do not block each other.
        schema = parse_qs(urlsplit(store.url).query).get("schema", ["public"])[0]
        self._key = zlib.crc32(f"pilar:{schema}:{name}".encode())

    def try_acquire(self) -> bool:
        if self.conn.kind == "postgres":
            row = self.conn.one("SELECT pg_try_advisory_lock(?)", (self._key,))
            return bool(row[0])
        path = Path(f"{self.store.sqlite_path}.{self.name}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self.conn.kind == "postgres":
            try:
                self.conn.execute("SELECT pg_advisory_unlock(?)", (self._key,))
            except Exception:  # noqa: BLE001 - a dead connection has released it already
                pass
        elif self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
