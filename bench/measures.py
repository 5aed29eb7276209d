"""What `make bench` measures in-process, beside the HTTP loads of bench/run.py: catching up and
rebuilding the views, verifying the store, eventsourcing's own save rate, loading long cases,
projection lag under a write load, and the servers' memory."""

import contextlib
import os
import statistics
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from bench import wrk
from bench.generate import ensure_staff
from bench.stores import open_cases
from pilar.bootstrap import bootstrap
from pilar.projections.maintenance import replay_into
from pilar.projections.queries import WorkloadQueries
from pilar.projections.runner import Follower
from pilar.projections.schema import drop_statements
from pilar.settings import Settings
from pilar.store.connection import Readers, ViewDB


@contextlib.contextmanager
def _events_and_views(settings: Settings):
    """The application service and a connection to the views, closed afterwards."""
    services = bootstrap(settings)
    conn = ViewDB(settings.store).connect()
    try:
        yield services.cases, conn
    finally:
        conn.close()
        services.close()


def catch_up(settings: Settings) -> int:
    with _events_and_views(settings) as (app, conn):
        follower = Follower(app, conn, settings.audit_key(), 5000)
        while follower.step():
            pass
        return follower.position


def raw_save_rate(settings: Settings, case_ids: list[str], seconds: float = 5.0) -> dict:
    """(c) eventsourcing's own rate for the same work in one process, no HTTP."""
    services = bootstrap(settings)
    app = services.cases
    due = date.today() + timedelta(days=30)
    count, deadline = 0, time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            case = app.repository.get(uuid.UUID(case_ids[count % len(case_ids)]))
            case.schedule_follow_up(actor="bench", due_on=due, purpose="raw")
            app.save(case)
            count += 1
    finally:
        services.close()
    return {"saves": count, "per_s": round(count / seconds, 1)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def lag_under_write_load(settings: Settings, url: str, bearer: str, case_ids: list[str], seconds: float) -> dict:
    """Projection lag while writing flat out: how long until the views reach the newest position."""
    services = bootstrap(settings)
    app = services.cases
    readers = Readers(settings.store)
    queries = WorkloadQueries(readers)
    lags: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            head, start = app.recorder.max_notification_id() or 0, time.perf_counter()
            while queries.position() < head and time.perf_counter() - start < 30:
                time.sleep(0.005)
            lags.append(time.perf_counter() - start)
            stop.wait(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    writes = wrk.run(url, bearer, "write", case_ids, seconds)
    stop.set()
    prober.join()
    readers.close()
    services.close()
    lags.sort()
    return {"samples": len(lags), "p50_s": round(statistics.median(lags), 3),
            "p99_s": round(lags[max(int(len(lags) * 0.99) - 1, 0)], 3), "writes_per_s": writes["per_s"]}


def verify_rate(settings: Settings) -> dict:
    from pilar.audit.seals import verify

    with _events_and_views(settings) as (app, conn):
        start = time.perf_counter()
        result = verify(app.recorder, conn, settings.audit_key())
        elapsed = time.perf_counter() - start
    return {"ok": result.ok, "events": result.checked, "seconds": round(elapsed, 2),
            "events_per_s": round(result.checked / elapsed)}


def rebuild_rate(settings: Settings) -> dict:
    with _events_and_views(settings) as (app, conn):
        start = time.perf_counter()
        with conn.transaction():
            position = replay_into(app, conn, f"bench{os.getpid()}")
            for statement in drop_statements(f"bench{os.getpid()}"):
                conn.execute(statement)
        elapsed = time.perf_counter() - start
    return {"events": position, "seconds": round(elapsed, 2), "events_per_s": round(position / elapsed)}


def case_load_ratio(settings: Settings) -> dict:
    """A 1,000-event case against a 10-event case. Snapshots (every 50 events) bound the replay,
    so what remains is the size of the state: measured once with events that replace state
    (re-assessments, reassignments) and once with events that add to it (follow-ups)."""
    services = bootstrap(settings)
    app = services.cases
    try:
        worker = ensure_staff(app)["psm"]  # cases no load above has written to
        due = date.today() + timedelta(days=1)
        grow = lambda case: case.schedule_follow_up(actor=worker.username, due_on=due, purpose="long")  # noqa: E731
        replace = lambda case: (case.assess(actor=worker.username, needs=["care"], risk="low", desil=None, summary="again")  # noqa: E731
                                if case.version % 2 else case.assign(actor=worker.username, worker=worker.username))
        timings = {}
        for name, events, step, case_text in zip(("short", "replacing", "growing"), (10, 1000, 1000), (replace, replace, grow),
                                                 open_cases(settings, 3, pillar="psm")):
            case_id = uuid.UUID(case_text)
            case = app.repository.get(case_id)
            while case.version < events:
                step(case)
                app.save(case)
            app.repository.get(case_id)
            start = time.perf_counter()
            for _ in range(50):
                app.repository.get(case_id)
            timings[name] = {"version": case.version, "ms": round((time.perf_counter() - start) / 50 * 1000, 3)}
        timings["ratio"] = round(timings["replacing"]["ms"] / timings["short"]["ms"], 2)
        timings["ratio_growing"] = round(timings["growing"]["ms"] / timings["short"]["ms"], 2)
        return timings
    finally:
        services.close()
