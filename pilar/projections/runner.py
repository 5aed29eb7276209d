"""`pilar project`: follow the global event order and keep the views current.

Catches up in batches; then waits for new events. On PostgreSQL it LISTENs for the store's
notifications and also polls, because a notification can be missed (eventsourcing #305).
Stops cleanly on SIGTERM/SIGINT after the batch in hand; after a kill -9 the tracking
position (written with the rows) says exactly where to resume."""

import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from pilar.audit.heads import HeadsFile, SealsCutBack
from pilar.audit.keeper import SealKeeper
from pilar.audit.quarantine import mac_boundary, quarantined_between, record_found
from pilar.audit.seals import Sealer
from pilar.bootstrap import bootstrap, check_audit_key
from pilar.cases.application import PilarApplication
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.errors import DamagedEvent
from pilar.projections.heartbeat import Heartbeat
from pilar.projections.leader import Leadership
from pilar.projections.waiting import Retry, Waiter
from pilar.projections.workload import Batch, WorkloadProjector
from pilar.settings import Settings
from pilar.store.connection import Connection, ViewDB
from pilar.store.faults import STORE_UNREACHABLE, check_reachable
from pilar.store.key_checks import KeyMismatch
from pilar.store.name_index import FORGET_SQL as FORGET_NAME_SQL, TABLE as NAME_TOKENS
from pilar.store.personal_keys import DESTROY_KEY_SQL, TABLE as PERSONAL_KEYS
from pilar.store.shredding import retry_owed, shred

log = logging.getLogger("pilar.projection")
DAMAGE_RETRY = 2.0  # seconds between looks at a damaged event: has it been repaired or quarantined?
OWED_RETRY = 2.0  # seconds between looks at the shreds owed (pilar/store/shredding.py)

TRANSIENT = STORE_UNREACHABLE


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
        self.stuck_at: int | None = None  # the damaged event's position the views stand still before

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
        retry = Retry()
        services = self._connect(retry)
        if services is None:
            return
        try:
            while not self.stop.is_set():
                try:
                    self._lead_and_follow(services.cases, retry)
                except TRANSIENT as error:
                    self.state = "reconnecting"
                    retry.wait(self.stop, error)
                except KeyMismatch as error:
                    # Sealing under a key that is not the store's would make verify report breaks
                    # that are not there: seal nothing, and say why until the key is fixed.
                    if self.state != "misconfigured":
                        log.error("not projecting: %s", error)
                    self.state = "misconfigured"
                    self.stop.wait(5.0)
                except SealsCutBack as error:
                    # The seals end before a head published earlier: regrowing them would vouch for a
                    # history nobody can vouch for. Seal nothing until the store is restored.
                    if self.state != "refusing":
                        log.error("not projecting: %s", error)
                    self.state = "refusing"
                    self.stop.wait(5.0)
        finally:
            services.close()
            self.state = "stopped"

    def _connect(self, retry: "Retry"):
        """The services, once the store answers (None: stopped first)."""
        while not self.stop.is_set():
            try:
                check_reachable(self.settings.store)
                services = bootstrap(self.settings)
            except TRANSIENT as error:
                self.state = "reconnecting"
                retry.wait(self.stop, error)
            else:
                retry.reached()
                return services
        return None

    def _lead_and_follow(self, app: PilarApplication, retry: "Retry") -> None:
        conn = ViewDB(self.settings.store).connect(checkpoints=True)
        retry.reached()
        leadership = Leadership(conn)
        try:
            while not leadership.try_acquire():
                if self.state != "standby":
                    log.info("standby: another projection process holds the lock; waiting")
                self.state = "standby"
                if self.stop.wait(self.poll_interval * 2):
                    return
            heartbeat = Heartbeat(conn)
            try:
                self._follow(app, conn, heartbeat)
            except KeyMismatch:
                heartbeat.halted("misconfigured")
                raise
            except SealsCutBack:
                heartbeat.halted("refusing")
                raise
        finally:
            leadership.release()
            conn.close()

    def _follow(self, app: PilarApplication, conn: Connection, heartbeat: Heartbeat) -> None:
        check_audit_key(self.settings, conn)
        log.info("leader: keeping the views current")
        self.state = "active"
        key = self.settings.audit_key()
        follower = Follower(app, conn, key, self.batch_size, heads=HeadsFile(self.settings.heads_path, key))
        heartbeat.took_lead(follower.position)
        waiter = Waiter(self.settings, app, self.poll_interval, self.gather)
        try:
            while not self.stop.is_set():
                began = time.time()
                try:
                    carried = self._step(follower, heartbeat)
                except DamagedEvent as damage:
                    self._stuck(damage)
                    heartbeat.stuck(damage.position, "DamagedEvent")
                    self.stop.wait(DAMAGE_RETRY)
                    continue
                if self.stuck_at is not None:
                    log.info("going on past position %s", self.stuck_at)
                    self.stuck_at, self.state = None, "active"
                heartbeat.progressed(follower.position, caught_up=carried < self.batch_size, at=began)
                if carried < self.batch_size:
                    waiter.wait(self.stop, busy=carried > 0)
            heartbeat.stopped()
        finally:
            follower.keeper.publish(force=True)
            waiter.close()

    @staticmethod
    def _step(follower: "Follower", heartbeat: Heartbeat) -> int:
        try:
            return follower.step()
        except (*TRANSIENT, KeyMismatch, SealsCutBack, DamagedEvent):
            raise
        except Exception as error:
            # Said in the heartbeat (/readyz names it) before the process fails: the event it cannot pass.
            position = follower.failing_position()
            if position is not None:
                heartbeat.stuck(position, type(error).__name__)
            raise

    def _stuck(self, damage: DamagedEvent) -> None:
        # Restarting would meet the same bytes again: stand still, say so once, and look again
        # every DAMAGE_RETRY seconds for the row restored or the event quarantined.
        if self.stuck_at != damage.position:
            log.error("projection stopped at position %s (stream %s, version %s): %s. The views stand still until "
                      "the event is repaired or quarantined: pilar projections repair %s --from BACKUP_URL, or "
                      "pilar projections quarantine %s --reason '...' (docs/operations.md, When an event is damaged)",
                      damage.position, damage.stream_id, damage.version, damage.reason, damage.position,
                      damage.position)
        self.stuck_at, self.state = damage.position, "stuck"


ERASURE_TOPIC = get_topic(Beneficiary.PersonalDataErased)


class Follower:
    """One step = one batch of the global order into the views and the seals, in one transaction."""

    def __init__(self, app: PilarApplication, conn: Connection, audit_key: bytes, batch_size: int, *,
                 heads: HeadsFile | None = None, access_min_age: float = 2.0):
        self.app = app
        self.conn = conn
        self.batch_size = batch_size
        self.projector = WorkloadProjector(conn, app.view_mapper, household_key=app.household_key_of)
        self.projector.mac_boundary = mac_boundary(conn, audit_key)
        self.sealer = Sealer(conn, audit_key)
        # Refuses (SealsCutBack) seals cut back behind the published head; seals the access log; publishes heads.
        self.keeper = SealKeeper(conn, audit_key, heads, access_min_age=access_min_age)
        # The views may have been rebuilt from zero; the seals never are.
        self.position = min(self.projector.position(), self.sealer.last()[0])
        self.owed_at = 0.0  # when the shreds owed are next looked at
        self.in_hand: int | None = None  # the first event of the step in hand

    def failing_position(self) -> int | None:
        """After a failed step: the position of the event it fails on, found by stepping one event
        at a time through the failed step's batch (the events before it are projected on the way).
        None if it no longer fails, or failed before reading any event."""
        size, self.batch_size = self.batch_size, 1
        try:
            for _ in range(size):
                if not self.step():
                    return None
        except Exception:  # noqa: BLE001 - whatever failed, it failed on this event
            return self.in_hand
        finally:
            self.batch_size = size
        return None

    def step(self) -> int:
        """How many events this step carried (0: none were new)."""
        self.in_hand = None
        if time.monotonic() >= self.owed_at:
            # Erased rows that an older transaction still saw, or that a reader kept in SQLite's
            # log, whoever deleted them: shredded once that has ended.
            retry_owed(self.conn)
            self.owed_at = time.monotonic() + OWED_RETRY
        self.keeper.seal_access_log(self.batch_size)
        notifications = self.app.recorder.select_notifications(
            start=self.position, limit=self.batch_size, inclusive_of_start=False)
        if not notifications:
            self.keeper.publish()
            return 0
        self.in_hand = notifications[0].id
        self.projector.skip = quarantined_between(self.conn, self.position, notifications[-1].id)
        # The work is prepared before the write transaction: on SQLite that transaction holds
        # the one write lock every writer of events waits for.
        try:
            plan = self._prepare(notifications)
        except DamagedEvent as damage:
            notifications = self._before(notifications, damage)
            plan = self._prepare(notifications)
        with self.conn.transaction():
            if plan.heads != self._heads():
                # Only the leader writes the views and seals, so this is a safeguard: prepare
                # again on what is stored now, under the lock.
                plan = self._prepare(notifications)
            if plan.batch is not None:
                self.projector.write(plan.batch)
            self.sealer.write(plan.seals)
            erased = [key for n in notifications if n.topic == ERASURE_TOPIC and n.id not in self.projector.skip
                      for key in self._erased_keys(n)]
            if erased and self.app.personal_keys.ledger is not None:
                self.app.personal_keys.ledger.record(erased)  # also when the server died before it could
            for key in erased:
                self.conn.execute(DESTROY_KEY_SQL, (key,))
            for n in notifications:
                if n.topic == ERASURE_TOPIC and n.id not in self.projector.skip:
                    # The name's tokens too, should the server have died before it could.
                    self.conn.execute(FORGET_NAME_SQL, (str(n.originator_id),))
        self.position = notifications[-1].id
        self.keeper.sealed_events(plan.seals)
        if erased:
            shred(self.conn, PERSONAL_KEYS)
            shred(self.conn, NAME_TOKENS)
        return len(notifications)

    def _before(self, notifications: Sequence[Notification], damage: DamagedEvent) -> Sequence[Notification]:
        """The events before a damaged one, to be carried by this step; none: stop here."""
        before = [n for n in notifications if damage.position is not None and n.id < damage.position]
        if not before:
            record_found(self.conn, damage)
            raise damage
        return before

    def _erased_keys(self, erasure: Notification) -> list[str]:
        # Erasures recorded before they listed their keys destroyed the person's key alone.
        return list(self.app.view_mapper.to_domain_event(erasure).keys) or [str(erasure.originator_id)]

    def _heads(self) -> tuple[tuple[int, str | None], tuple[int, str]]:
        return self.projector.mark(), self.sealer.last()

    def _prepare(self, notifications: Sequence[Notification]) -> "_Plan":
        heads = self._heads()
        self.keeper.guard(heads[1])
        unseen = [n for n in notifications if n.id > heads[0][0]]
        return _Plan(heads, self.projector.prepare(unseen) if unseen else None,
                     self.sealer.prepare(notifications, heads[1]))


@dataclass(frozen=True)
class _Plan:
    heads: tuple[tuple[int, str | None], tuple[int, str]]
    batch: Batch | None
    seals: list[tuple]


def run_process(settings: Settings, **options) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    process = ProjectionProcess(settings, **options)
    process.install_signal_handlers()
    process.run()
    log.info("stopped")
