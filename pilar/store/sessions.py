"""The sign-in sessions table: which tokens were signed out, and when each was last used (for the
idle timeout). In the store, so that every gunicorn worker and every server sees the same; keyed by
the token's id, never the token. A row is kept until its token would have expired anyway."""

from pilar.store.connection import Readers

SESSION_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS auth_sessions (
        token_id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS auth_sessions_by_expiry ON auth_sessions (expires_at)",
]

_UPSERT = ("INSERT INTO auth_sessions (token_id, username, expires_at, last_seen, revoked_at) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (token_id) DO UPDATE SET ")


class SessionTable:
    def __init__(self, readers: Readers):
        self.readers = readers

    def state(self, token_id: str) -> tuple[float, float | None] | None:
        """(last_seen, revoked_at) of a token, or None when it has no row (never tracked)."""
        with self.readers.connection() as conn:
            row = conn.one("SELECT last_seen, revoked_at FROM auth_sessions WHERE token_id = ?", (token_id,))
        return None if row is None else (float(row[0]), None if row[1] is None else float(row[1]))

    def seen(self, token_id: str, username: str, expires_at: float, now: float) -> None:
        with self.readers.connection() as conn:
            conn.execute(_UPSERT + "last_seen = excluded.last_seen", (token_id, username, expires_at, now, None))

    def revoke(self, token_id: str, username: str, expires_at: float, now: float) -> None:
        with self.readers.connection() as conn:
            conn.execute(_UPSERT + "revoked_at = excluded.revoked_at", (token_id, username, expires_at, now, now))

    def purge(self, now: float) -> None:
        """Forget the rows of tokens that have expired: they are refused for that already."""
        with self.readers.connection() as conn:
            conn.execute("DELETE FROM auth_sessions WHERE expires_at < ?", (now,))
