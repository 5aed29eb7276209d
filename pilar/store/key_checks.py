"""A check value per key, kept in the store: it tells whether the key at hand is the one the store
was set up with, and reveals nothing of the key (an HMAC of a fixed text under it)."""

import hashlib
import hmac

from pilar.store.connection import Connection

KEY_CHECK_STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS pilar_key_checks (name TEXT PRIMARY KEY, check_value TEXT NOT NULL)",
]


class KeyMismatch(RuntimeError):
    """The key at hand is not the one the store was set up with, or is missing: an operator must act."""


def check_value(key: bytes, name: str) -> str:
    return hmac.new(key, f"pilar-key-check|{name}".encode(), hashlib.sha256).hexdigest()[:32]


def recorded(conn: Connection, name: str) -> str | None:
    row = conn.one("SELECT check_value FROM pilar_key_checks WHERE name = ?", (name,))
    return row[0] if row else None


def record(conn: Connection, name: str, key: bytes) -> None:
    conn.execute("INSERT INTO pilar_key_checks (name, check_value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                 (name, check_value(key, name)))


def record_value(conn: Connection, name: str, value: str) -> None:
    """A value kept beside the check values (e.g. a position signed under a key), once."""
    conn.execute("INSERT INTO pilar_key_checks (name, check_value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                 (name, value))


def require_match(conn: Connection, name: str, key: bytes, hint: str) -> None:
    expected = recorded(conn, name)
    if expected is not None and not hmac.compare_digest(expected, check_value(key, name)):
        raise KeyMismatch(f"the {name} key at hand is not the one this store was set up with: {hint}")
