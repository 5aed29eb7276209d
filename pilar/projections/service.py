"""The read service behind /workloads, /cases (list), /follow-ups and /audit/views: scope (asked of
pilar/cases/policy.py), freshness, paging."""

import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from pilar.cases import clock, policy, vocab
from pilar.cases.access import Actor
from pilar.cases.application import PilarApplication
from pilar.cases.desil import DEFAULT_MAX_AGE_PERIODS, is_stale, oldest_fresh_period
from pilar.cases.errors import InvalidInput, NotFound
from pilar.cases.presenters import privacy_request_view
from pilar.audit.quarantine import quarantined_between
from pilar.projections.as_of import views_as_of
from pilar.projections.queries import CaseFilter, WorkloadQueries

MAX_WAIT_SECONDS = 2.0
# Under load every read asked the database where the views stand: on PostgreSQL that round
# trip was a third of a workload GET. Reads within this many seconds share one answer; a
# reader who needs its own write passes min_position, which always asks afresh.
POSITIONS_TTL = 0.025
# Past that, the next reading is asked for behind the reads, which go on with the last one for at
# most this much longer (then they wait for a reading again). A PostgreSQL round trip on a busy
# machine now and then waited 20-90 ms for a core (a bare SELECT 1 from another process too), and
# each worker's first read after the 25 ms waited with it: a read's p99 was 15x hello-world's
# (docs/performance.md).
POSITIONS_BEHIND_FOR = 0.5
READER_IDLE_SECONDS = 60.0

log = logging.getLogger(__name__)


class ViewBehind(Exception):
    """The views have not reached the position the reader asked for."""

    def __init__(self, wanted: int, position: int):
        self.wanted = wanted
        self.position = position
        super().__init__(f"the views are at position {position}, not yet {wanted}; retry shortly")


class BeyondHead(Exception):
    """No stored event has the position the reader asked for: no wait would bring the views there."""

    def __init__(self, wanted: int, head: int):
        self.wanted = wanted
        self.head = head
        super().__init__(f"is beyond the newest stored event (position {head}): send a position a write answered")


@dataclass(frozen=True)
class Freshness:
    position: int
    head: int
    # When the views' tracking row was written: with the position, what the views' rows are
    # (a rebuild swaps in new rows at the same position, and a new time).
    written_at: str | None = None

    @property
    def views_at(self) -> tuple[int, str | None]:
        return self.position, self.written_at

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)

    def as_dict(self) -> dict[str, int]:
        return {"position": self.position, "lag": self.lag}


class WorkloadService:
    def __init__(self, queries: WorkloadQueries, positions_ttl: float = POSITIONS_TTL,
                 history: PilarApplication | None = None, desil_max_age: int = DEFAULT_MAX_AGE_PERIODS):
        self.queries = queries
        self.desil_max_age = desil_max_age  # PILAR_DESIL_MAX_AGE_PERIODS
        self.history = history  # the events, replayed for the views at a past moment
        self.positions_ttl = positions_ttl
        self._positions = (float("-inf"), Freshness(0, 0))  # (read at, what was read)
        self._positions_lock = threading.Lock()
        self._reading_wanted = threading.Event()
        self._reader_pid: int | None = None  # the process whose reader thread runs (none survives a fork)
        self._closed = False
        # A pillar's workload changes only when the views move or the day turns, so answers are
        # kept per (pillar, views_at, day); an idle store serves repeated reads without queries.
        self._workloads: dict[tuple[Any, tuple, date, bool, tuple[str, ...] | None], dict[str, Any]] = {}

    def freshness(self, min_position: int | None = None) -> Freshness:
        read_at, fresh = self._positions
        age = time.monotonic() - read_at
        behind_for = POSITIONS_BEHIND_FOR if self.positions_ttl else 0.0
        if age >= self.positions_ttl + behind_for or (min_position is not None and fresh.position < min_position):
            fresh = self.freshness_now()
        elif age >= self.positions_ttl:
            self._read_positions_behind()
        if min_position is not None and min_position > fresh.head:  # the head just read from the store
            raise BeyondHead(min_position, fresh.head)
        if min_position is not None and fresh.position < min_position:
            deadline = time.monotonic() + MAX_WAIT_SECONDS
            while fresh.position < min_position and time.monotonic() < deadline:
                time.sleep(0.05)
                fresh = self.freshness_now()
            if fresh.position < min_position:
                raise ViewBehind(min_position, fresh.position)
        return fresh

    def freshness_now(self) -> Freshness:
        """Where the views stand, asked of the database now (readiness and metrics ask so); shared
        with the reads of the next moment, unless a reading begun later has already landed."""
        read_at = time.monotonic()
        fresh = Freshness(*self.queries.positions())
        with self._positions_lock:
            if read_at > self._positions[0]:
                self._positions = (read_at, fresh)
        return fresh

    def _read_positions_behind(self) -> None:
        """Wakes this process's reader thread: one reading at a time, and the read that asked does
        not wait for it (nor for a thread to start: starting one per reading cost reads ~5%)."""
        if self._reader_pid != os.getpid() and not self._closed:
            with self._positions_lock:
                if self._reader_pid != os.getpid():
                    try:
                        threading.Thread(target=self._keep_reading, daemon=True, name="pilar-views-position").start()
                    except RuntimeError:  # no thread to be had: the reads ask themselves once the reading is too old
                        log.warning("could not start the views' position reader", exc_info=True)
                        return
                    self._reader_pid = os.getpid()
        if not self._reading_wanted.is_set():
            self._reading_wanted.set()

    def close(self) -> None:
        """Ends the reader thread (with the services: it holds their connections)."""
        self._closed = True
        self._reading_wanted.set()

    def _keep_reading(self) -> None:
        while True:
            if not self._reading_wanted.wait(READER_IDLE_SECONDS) or self._closed:
                with self._positions_lock:  # idle or closed: the thread ends (a later read behind starts one)
                    if self._closed or not self._reading_wanted.is_set():
                        self._reader_pid = None
                        return
            try:
                self.freshness_now()
            except Exception:  # noqa: BLE001 - the reads go on with the last reading, then ask themselves (503)
                log.debug("could not read where the views stand; the next reads will ask again", exc_info=True)
            self._reading_wanted.clear()

    def summary(self, actor: Actor, min_position: int | None = None) -> tuple[Freshness, list[dict[str, Any]]]:
        """Where the views stand, and each visible pillar's brief workload. The workloads are the
        kept answers themselves (the same objects until the views move), not copies."""
        pillars, kecamatan = policy.visible_pillars(actor), policy.visible_kecamatan(actor)
        fresh = self.freshness(min_position)
        return fresh, [self._workload(p, fresh, brief=True, kecamatan=kecamatan) for p in pillars]

    def detail(self, actor: Actor, pillar: str, min_position: int | None = None) -> tuple[Freshness, dict[str, Any]]:
        """Where the views stand, and the pillar's detailed workload (the kept answer itself)."""
        if pillar not in vocab.PILLARS:
            raise NotFound("pillar", pillar)
        policy.require(policy.read_pillar(actor, pillar))
        kecamatan = policy.visible_kecamatan(actor)
        fresh = self.freshness(min_position)
        return fresh, self._workload(pillar, fresh, brief=False, kecamatan=kecamatan)

    def combined(self, pillars: tuple[str, ...], kecamatan: tuple[str, ...] | None, fresh: Freshness) -> dict[str, Any]:
        """Several pillars' detailed workload counted together (a dashboard's "every pillar"),
        for a caller that has asked the policy for each of them and for `kecamatan`."""
        return self._workload(pillars[0] if len(pillars) == 1 else pillars, fresh, brief=False,
                              kecamatan=kecamatan)

    def _workload(self, pillar: str | tuple[str, ...], fresh: Freshness, *, brief: bool,
                  kecamatan: tuple[str, ...] | None) -> dict[str, Any]:
        """`kecamatan`: a kecamatan-scoped reader's, whose workload counts only theirs; None: all."""
        today = clock.today_in_jakarta()
        key = (pillar, fresh.views_at, today, brief, kecamatan)
        answer = self._workloads.get(key)
        if answer is None:
            # Read at `position` or later: a newer answer under an older key is still correct to
            # serve, since min_position only ever asks for at least a position.
            answer = self.queries.detail(pillar, today, brief=brief, kecamatan=kecamatan)
            if len(self._workloads) > 256:
                self._workloads.clear()
            self._workloads[key] = answer
        return answer

    def cases(self, actor: Actor, where: CaseFilter, page: int, per_page: int,
              min_position: int | None = None) -> tuple[Freshness, dict[str, Any]]:
        """Where the views stand, and a page of the cases in the reader's scope that `where` picks."""
        visible = policy.visible_pillars(actor)
        for pillar in where.pillars or ():
            policy.require(policy.read_pillar(actor, pillar))
        if where.kecamatan is not None:
            policy.require(policy.read_kecamatan(actor, where.kecamatan))
        today = clock.today_in_jakarta()
        where = replace(where, scope_pillars=visible if len(visible) < len(vocab.PILLARS) else None,
                        scope_kecamatan=policy.visible_kecamatan(actor),
                        desil_fresh_from=oldest_fresh_period(today, self.desil_max_age))
        fresh = self.freshness(min_position)
        items, total = self.queries.cases(where, today, page, per_page)
        for item in items:
            item["desil_stale"] = is_stale(item["desil_period"], today, self.desil_max_age)
        return fresh, {"page": page, "per_page": per_page, "total": total, "items": items}

    def follow_up_queue(self, actor: Actor, pillar: str | None, days_ahead: int, page: int, per_page: int,
                        min_position: int | None = None) -> dict[str, Any]:
        visible = policy.visible_pillars(actor)
        if pillar is not None:
            policy.require(policy.read_pillar(actor, pillar))
        pillars = (pillar,) if pillar else (None if len(visible) == len(vocab.PILLARS) else visible)
        kecamatan = policy.visible_kecamatan(actor)
        fresh = self.freshness(min_position)
        today = clock.today_in_jakarta()
        items, total = self.queries.follow_up_queue(pillars, today, today + timedelta(days=days_ahead), page,
                                                    per_page, kecamatan)
        return {**fresh.as_dict(), "today": today.isoformat(), "page": page, "per_page": per_page,
                "total": total, "items": items}

    def privacy_requests(self, actor: Actor, *, status: str | None = None, overdue: bool | None = None,
                         page: int = 1, per_page: int = 50, min_position: int | None = None,
                         now: datetime | None = None) -> dict[str, Any]:
        """Consent withdrawals and erasure requests against their 3×24 h deadline, overdue first
        (policy.privacy_request_pillars, in the actor's kecamatan); the people's names only for a
        reader of personal data."""
        pillars = policy.privacy_request_pillars(actor)
        kecamatan = policy.visible_kecamatan(actor)
        fresh = self.freshness(min_position)
        now = now or clock.now_utc()
        rows, total = self.queries.privacy_requests(pillars, kecamatan, status, overdue, clock.utc_text(now), page,
                                                    per_page)
        names: dict[Any, str | None] = {}
        if policy.names_in_lists(actor) and rows and self.history is not None:
            names = self.history.names_of(actor, [UUID(r["beneficiary_id"]) for r in rows], "list_privacy_requests")
        items = [privacy_request_view(r, names.get(UUID(r["beneficiary_id"])), now) for r in rows]
        return {**fresh.as_dict(), "now": now, "page": page, "per_page": per_page, "total": total, "items": items}

    def as_of(self, actor: Actor, as_of: datetime) -> dict[str, Any]:
        """Every pillar's workload as it was at `as_of`, replayed without touching the live views."""
        policy.require(policy.audit(actor))
        if as_of.tzinfo is None:
            raise InvalidInput.one("as_of", "needs a UTC offset, e.g. 2026-09-30T23:59:59+07:00")
        with self.queries.readers.connection() as conn:
            quarantined = quarantined_between(conn, 0)  # left out, as the live views leave them out
        return views_as_of(self.history, as_of, skip=quarantined)
