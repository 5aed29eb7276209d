"""Rate-limit counters in the store's own table, shared by every gunicorn worker and every server
on the store: a `limits` storage (the library under Flask-Limiter) for its fixed-window strategy.

One row per limited key and window: how many hits, and when the window ends. A hit is one
upsert in one transaction (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), so concurrent hits
from any number of processes are counted exactly; a row whose window has ended starts again at
the hit. Ended rows are deleted now and then by whichever process writes. Times are the
writing server's clock (servers on one store keep their clocks in sync, as NTP does)."""

import sqlite3
import threading
import time
from typing import Any

import psycopg
from limits.storage import Storage
from psycopg_pool import PoolTimeout

RATE_LIMIT_STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS pilar_rate_limits (key TEXT PRIMARY KEY, hits INTEGER NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL)",
]

# `excluded` is the row the insert proposed: a new window of `amount` hits.
_HIT = ("INSERT INTO pilar_rate_limits (key, hits, expires_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET "
        "hits = CASE WHEN pilar_rate_limits.expires_at <= ? THEN excluded.hits "
        "ELSE pilar_rate_limits.hits + excluded.hits END, "
        "expires_at = CASE WHEN pilar_rate_limits.expires_at <= ? THEN excluded.expires_at "
        "ELSE pilar_rate_limits.expires_at END "
        "RETURNING hits")
PRUNE_EVERY = 60.0  # seconds between one process's deletions of ended windows


class StoreRateLimits(Storage):
    """`readers`: the store's connections (store.connection.Readers). No URI scheme of its own:
    the API registers a subclass (pilar/api/limits.py) that finds the connections of the current app."""

    STORAGE_SCHEME = None

    def __init__(self, uri: str | None = None, *, readers: Any = None, **options: Any):
        super().__init__(uri, **options)
        self._readers = readers
        self._pruned = 0.0
        self._prune_lock = threading.Lock()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return sqlite3.Error, psycopg.Error, PoolTimeout

    @property
    def readers(self) -> Any:
        return self._readers

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.readers.connection() as conn:
            with conn.transaction():
                (hits,) = conn.one(_HIT, (key, amount, now + expiry, now, now))
            self._prune(conn, now)
        return int(hits)

    def get(self, key: str) -> int:
        row = self._live(key, "hits")
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._live(key, "expires_at")
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            with self.readers.connection() as conn:
                conn.one("SELECT 1 FROM pilar_rate_limits LIMIT 1")
            return True
        except self.base_exceptions:
            return False

    def reset(self) -> int | None:
        return self.clear_prefix("")

    def clear(self, key: str) -> None:
        with self.readers.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM pilar_rate_limits WHERE key = ?", (key,))

    def clear_prefix(self, prefix: str) -> int:
        """Forget every counter whose key starts with `prefix` (`pilar limits reset`); how many."""
        with self.readers.connection() as conn, conn.transaction():
            return conn.execute("DELETE FROM pilar_rate_limits WHERE substr(key, 1, CAST(? AS INTEGER)) = ?",
                                (len(prefix), prefix)).rowcount

    def _live(self, key: str, column: str) -> tuple | None:
        with self.readers.connection() as conn:
            return conn.one(f"SELECT {column} FROM pilar_rate_limits WHERE key = ? AND expires_at > ?",
                            (key, time.time()))

    def _prune(self, conn: Any, now: float) -> None:
        if now - self._pruned < PRUNE_EVERY or not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._pruned = now
            with conn.transaction():
                conn.execute("DELETE FROM pilar_rate_limits WHERE expires_at <= ?", (now,))
        finally:
            self._prune_lock.release()
