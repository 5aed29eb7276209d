"""How the projection process waits: for new events (a PostgreSQL notification or the poll
interval, gathering a moment under load) and for the store to answer again."""

import logging
import threading
import time

from pilar.cases.application import PilarApplication
from pilar.settings import Settings
from pilar.store.connection import ViewDB

log = logging.getLogger("pilar.projection")
# While the store is unreachable the process waits longer between attempts, up to this, and says
# so in the log once per outage (and again every minute or so), never exiting.
RETRY_FIRST, RETRY_LONGEST = 0.5, 5.0


class Waiter:
    """Sleeps until new events may exist: a PostgreSQL notification or the poll interval.

    Under a steady write load, stepping as soon as anything is new costs a transaction per
    event or two. On PostgreSQL that took a third of a core from the writers; on SQLite each
    step also holds the one write lock the writers need, and they wait for it in growing
    sleeps. So after a notification, or after a step that found new events (more are on
    their way), it gathers for a moment (`gather` seconds, well inside the lag target) so
    that one step carries every event written meanwhile."""

    def __init__(self, settings: Settings, app: PilarApplication, poll_interval: float, gather: float):
        self.poll_interval = poll_interval
        self.gather = gather
        self.listener = ViewDB(settings.store).listener(app.recorder)

    def wait(self, stop: threading.Event, busy: bool = False) -> None:
        if busy:
            if not stop.wait(self.gather):
                self._drain()
            return
        if self.listener is None:
            stop.wait(self.poll_interval)
            return
        notified = self.listener.wait(self.poll_interval)
        if notified and self.gather > 0 and not stop.wait(self.gather):
            self._drain()

    def _drain(self) -> None:
        if self.listener is not None:
            self.listener.drain()  # already covered by the step that follows

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


class Retry:
    """Waits between attempts to reach the store, longer each time up to RETRY_LONGEST."""

    def __init__(self):
        self.delay = RETRY_FIRST
        self.logged_at = float("-inf")

    def wait(self, stop: threading.Event, error: Exception) -> None:
        if time.monotonic() - self.logged_at > 60:
            log.warning("store unavailable (%s: %s); retrying every %g s or so until it answers",
                        type(error).__name__, error, RETRY_LONGEST)
            self.logged_at = time.monotonic()
        stop.wait(self.delay)
        self.delay = min(self.delay * 2, RETRY_LONGEST)

    def reached(self) -> None:
        if self.logged_at > float("-inf"):
            log.info("store reachable again")
        self.delay, self.logged_at = RETRY_FIRST, float("-inf")
