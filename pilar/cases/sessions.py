"""Sign-out and the idle timeout, across every worker and server: a token's state (signed out; when
last used) is kept in the store's session table (pilar/store/sessions.py), by the token's id.

Each process re-reads a token's row at most every SESSION_CACHE_SECONDS (the bound, like the
account cache in pilar/cases/users.py: a token signed out on one worker is refused by the others within
that time; on the worker that signed it out at once), and with an idle timeout writes its
`last_seen` at most every TOUCH_SECONDS (or half the timeout, if shorter): a request costs no write,
and a row read every few seconds by one primary key."""

import threading
import time
from typing import Protocol

SESSION_CACHE_SECONDS = 5.0
TOUCH_SECONDS = 60.0
PURGE_SECONDS = 300.0


class SessionStore(Protocol):
    def state(self, token_id: str) -> tuple[float, float | None] | None: ...
    def seen(self, token_id: str, username: str, expires_at: float, now: float) -> None: ...
    def revoke(self, token_id: str, username: str, expires_at: float, now: float) -> None: ...
    def purge(self, now: float) -> None: ...


class Sessions:
    KEPT = 10_000

    def __init__(self, store: SessionStore, idle_timeout: int = 0):
        """`idle_timeout`: seconds a token may go unused before it is refused; 0: no idle timeout."""
        self.store = store
        self.idle_timeout = idle_timeout
        self.touch_every = min(TOUCH_SECONDS, idle_timeout / 2) if idle_timeout else 0.0
        self._known: dict[str, tuple[float, float, bool]] = {}  # id -> (re-read after, last seen, revoked)
        self._purged = 0.0
        self._lock = threading.Lock()

    def started(self, token_id: str, username: str, expires_at: float) -> None:
        now = time.time()
        if self.idle_timeout:
            self.store.seen(token_id, username, expires_at, now)
        if now - self._purged > PURGE_SECONDS:
            self._purged = now
            self.store.purge(now)

    def refusal(self, token_id: str, username: str, expires_at: float) -> str | None:
        """Why the token may no longer be used ('signed_out', 'idle'), or None; notes its use."""
        now = time.time()
        last_seen, revoked = self._state(token_id, username, expires_at, now, fresh=False)
        if not revoked and self.idle_timeout and now - last_seen > self.idle_timeout:
            last_seen, revoked = self._state(token_id, username, expires_at, now, fresh=True)  # another worker's use?
        if revoked:
            return "signed_out"
        if self.idle_timeout:
            if now - last_seen > self.idle_timeout:
                return "idle"
            if now - last_seen >= self.touch_every:
                self.store.seen(token_id, username, expires_at, now)
                self._remember(token_id, last_seen=now, revoked=False, reread=None)
        return None

    def end(self, token_id: str, username: str, expires_at: float) -> None:
        self.store.revoke(token_id, username, expires_at, time.time())
        self._remember(token_id, last_seen=time.time(), revoked=True, reread=float("inf"))

    def _state(self, token_id: str, username: str, expires_at: float, now: float, *,
               fresh: bool) -> tuple[float, bool]:
        known = self._known.get(token_id)
        if known is not None and not fresh and known[0] > time.monotonic():
            return known[1], known[2]
        row = self.store.state(token_id)
        if row is None:  # never tracked: issued before this Pilar, or with the idle timeout off
            if self.idle_timeout:
                self.store.seen(token_id, username, expires_at, now)
            row = (now, None)
        self._remember(token_id, last_seen=row[0], revoked=row[1] is not None, reread=None)
        return row[0], row[1] is not None

    def _remember(self, token_id: str, *, last_seen: float, revoked: bool, reread: float | None) -> None:
        with self._lock:
            if len(self._known) >= self.KEPT:
                self._known.clear()
            self._known[token_id] = (time.monotonic() + SESSION_CACHE_SECONDS if reread is None else reread,
                                     last_seen, revoked)
