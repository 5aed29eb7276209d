"""What the projection process does for tamper evidence besides sealing each batch of events
(pilar/audit/seals.py `Sealer`, in the batch's transaction): it refuses to seal over seals that were
cut back, seals the access log, and publishes signed heads outside the database."""

import logging
import time

from pilar.audit.access_seals import AccessSealer
from pilar.audit.heads import Head, HeadsFile, SealsCutBack, now_text, require_reaches
from pilar.store.connection import Connection

log = logging.getLogger("pilar.projection")

HEAD_INTERVAL = 1.0  # seconds between published heads, at most one in each


class SealKeeper:
    def __init__(self, conn: Connection, audit_key: bytes, heads: HeadsFile | None, *, access_min_age: float = 2.0):
        self.conn = conn
        self.heads = heads
        self.access = AccessSealer(conn, audit_key, access_min_age)
        self.access_interval = min(HEAD_INTERVAL, access_min_age)
        if heads is not None:
            # Seals that end before what was published were deleted: sealing now would regrow them.
            require_reaches(conn, heads.latest(), heads.path)
        row = conn.one("SELECT position, chain_hash FROM audit_seals ORDER BY position DESC LIMIT 1")
        self.sealed: tuple[int, str] = (int(row[0]), row[1]) if row else (0, "")
        self.access_sealed = self.access.last()
        self.pending = False
        self._published_at = float("-inf")
        self._access_at = float("-inf")

    def guard(self, stored: tuple[int, str]) -> None:
        """Raise SealsCutBack if the store's newest seal is older than one this process made or saw."""
        if stored[0] < self.sealed[0]:
            raise SealsCutBack(f"the store's seals end at position {stored[0]}, but this process sealed up to "
                               f"position {self.sealed[0]}: seals were deleted; sealing nothing")

    def sealed_events(self, seals: list[tuple]) -> None:
        """After the batch's transaction committed."""
        if seals:
            self.sealed = (seals[-1][0], seals[-1][4])
            self.pending = True
        self.publish()

    def seal_access_log(self, limit: int) -> int:
        """Seal the access-log entries old enough (at most `limit`), in a transaction of their own."""
        now = time.monotonic()
        if now - self._access_at < self.access_interval:
            return 0
        self._access_at = now
        up_to = self.access.ready(self.access_sealed[0])
        if not up_to:
            return 0
        with self.conn.transaction():
            last = self.access.last()
            if last[0] < self.access_sealed[0]:
                raise SealsCutBack(f"the store's access-log seals end at entry {last[0]}, but this process sealed "
                                   f"up to entry {self.access_sealed[0]}: seals were deleted; sealing nothing")
            seals = self.access.prepare(last, up_to, limit)
            self.access.write(seals)
        if seals:
            self.access_sealed = (seals[-1][0], seals[-1][3])
            self.pending = True
        return len(seals)

    def publish(self, force: bool = False) -> None:
        """Append the newest seals to the heads file, if they moved and (unless forced) a second passed."""
        if self.heads is None or not self.pending:
            return
        if not force and time.monotonic() - self._published_at < HEAD_INTERVAL:
            return
        head = Head(self.sealed[0], self.sealed[1], self.access_sealed[0], self.access_sealed[1], now_text())
        try:
            self.heads.publish(head)
        except OSError as error:
            log.error("could not publish the seals' head to %s: %s", self.heads.path, error)
            return
        self.pending = False
        self._published_at = time.monotonic()
