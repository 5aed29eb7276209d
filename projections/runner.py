"""`pilar project`: follow the global event order and keep the views current.

Catches up in batches; then waits for new events. On PostgreSQL it LISTENs for the store's
notifications and also polls, because a notification can be missed (eventsourcing #305).
Stops cleanly on SIGTERM/SIGINT after the batch in hand; after a kill -9 the tracking
position (written with the rows) says exactly where to resume."""

import logging
import os
import signal
import threading

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.utils import get_topic

from audit.seals import Sealer
from cases.application import PilarApplication
from cases.beneficiary import Beneficiary
from cases.settings import Settings, build_application
from projections.db import Connection, ViewDB
from projections.leader import Leadership
from projections.workload import WorkloadProjector

log = logging.getLogger("pilar.projection")

TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, StoreOperationalError, StoreInterfaceError)


class ProjectionProcess:
    def __init__(self, settings: Settings, *, batch_size: int = 2000, poll_interval: float = 0.5,
                 gather: float = 0.05, stop: threading.Event | None = None, exit_with_parent: bool = False):
        self.settings = settings
        self.parent = os.getppid() if exit_with_parent else None
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.gather = gather
        self.stop = stop or threading.Event()
        self.state = "starting"

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        if self.parent is not None:
            threading.Thread(target=self._watch_parent, name="parent-watch", daemon=True).start()

    def _watch_parent(self) -> None:
        # A companion of a server that was killed outright must not run on as an orphan.
        while not self.stop.wait(1.0):
            if os.getppid() != self.parent:
                log.info("parent process is gone; stopping")
                self.stop.set()

    def run(self) -> None:
        app = build_application(self.settings)
        try:
            while not self.stop.is_set():
                try:
                    self._lead_and_follow(app)
                except TRANSIENT as error:
                    log.warning("store unavailable (%s); reconnecting", error)
                    self.state = "reconnecting"
                    self.stop.wait(1.0)
        finally:
            app.close()
            self.state = "stopped"

    def _lead_and_follow(self, app: PilarApplication) -> None:
        conn = ViewDB(self.settings.store).connect()
        leadership = Leadership(self.settings.store, conn)
        try:
            while not leadership.try_acquire():
                if self.state != "standby":
                    log.info("standby: another projection process holds the lock; waiting")
                self.state = "standby"
                if self.stop.wait(self.poll_interval * 2):
                    return
            log.info("leader: keeping the views current")
            self.state = "active"
            follower = Follower(app, conn, self.settings.audit_key(), self.batch_size)
            waiter = _Waiter(self.settings, app, self.poll_interval, self.gather)
            try:
                while not self.stop.is_set():
                    if not follower.step():
                        waiter.wait(self.stop)
            finally:
                waiter.close()
        finally:
            leadership.release()
            conn.close()


ERASURE_TOPIC = get_topic(Beneficiary.PersonalDataErased)


class Follower:
    """One step = one batch of the global order into the views and the seals, in one transaction."""

    def __init__(self, app: PilarApplication, conn: Connection, audit_key: bytes, batch_size: int):
        self.app = app
        self.conn = conn
        self.batch_size = batch_size
        self.projector = WorkloadProjector(conn, app.mapper)
        self.sealer = Sealer(conn, audit_key)
        # The views may have been rebuilt from zero; the seals never are.
        self.position = min(self.projector.position(), self.sealer.last()[0])

    def step(self) -> bool:
        notifications = self.app.recorder.select_notifications(
            start=self.position, limit=self.batch_size, inclusive_of_start=False)
        if not notifications:
            return False
        with self.conn.transaction():
            views_at = self.projector.position()
            unseen = [n for n in notifications if n.id > views_at]
            if unseen:
                self.projector.process_within_transaction(unseen)
            self.sealer.seal_within_transaction(notifications)
            for n in notifications:
                if n.topic == ERASURE_TOPIC:
                    self.conn.execute("DELETE FROM personal_keys WHERE beneficiary_id = ?", (str(n.originator_id),))
        self.position = notifications[-1].id
        return True


class _Waiter:
    """Sleeps until new events may exist: a PostgreSQL notification or the poll interval.

    Every write notifies. Stepping once per notification would cost a transaction per event,
    which under a steady write load takes a third of a core from the writers; after a
    notification it gathers for a moment (`gather` seconds, well inside the lag target) so
    one step carries every event written meanwhile."""

    def __init__(self, settings: Settings, app: PilarApplication, poll_interval: float, gather: float):
        self.poll_interval = poll_interval
        self.gather = gather
        self.listener = None
        if settings.store.kind == "postgres":
            self.listener = ViewDB(settings.store).connect()
            self.listener.execute(f'LISTEN "{app.recorder.channel_name}"')

    def wait(self, stop: threading.Event) -> None:
        if self.listener is None:
            stop.wait(self.poll_interval)
            return
        notified = any(True for _ in self.listener.raw.notifies(timeout=self.poll_interval, stop_after=1))
        if notified and self.gather > 0 and not stop.wait(self.gather):
            for _ in self.listener.raw.notifies(timeout=0):
                pass  # already covered by the step that follows

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


def run_process(settings: Settings, **options) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    process = ProjectionProcess(settings, **options)
    process.install_signal_handlers()
    process.run()
    log.info("stopped")
