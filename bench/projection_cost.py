"""`make projection-cost`: what projecting one event costs at a small and at a large store, and
how much of it holds the write transaction (on SQLite, the one lock every event writer waits
for). The profile behind the store-size target in docs/performance.md, made repeatable.

Both stores are generated from the same seed (BENCH_SMALL_EVENTS, default 10,000; BENCH_EVENTS,
default 100,000; BENCH_STORES, default sqlite), and projected. Then the same follow-ups are
written to both, one process, through the application service, on cases of the same shapes;
and the projection process's own step (with its checkpoint setting) projects them, in
batches of 100. Printed per store: µs per event in all and inside the transaction, and read
and write system calls per event (from /proc/self/io: SQLite's file I/O; on PostgreSQL the
server does the I/O, and they stay near 0)."""

import contextlib
import os
import random
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from bench.measures import catch_up
from bench.run import LARGE, SMALL
from bench.stores import cases_shaped_like, drop, fill, fresh_settings, grow, open_case_shapes
from pilar.cases.access import Actor
from pilar.bootstrap import bootstrap
from pilar.store.connection import ViewDB
from pilar.projections.runner import Follower

WRITES = int(os.environ.get("BENCH_PROJECTION_WRITES", "3000"))
BATCH = 100


def _io() -> dict[str, int]:
    return {k: int(v) for k, v in (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())}


def _timed(conn):
    """The view connection, adding up the time spent inside its write transactions."""
    inner = conn.transaction
    conn.held = 0.0

    @contextlib.contextmanager
    def transaction():
        started = time.perf_counter()
        with inner() as inside:
            yield inside
        conn.held += time.perf_counter() - started

    conn.transaction = transaction
    return conn


def measure(settings, targets: list[str]) -> dict:
    services = bootstrap(settings)
    app = services.cases
    conn = _timed(ViewDB(settings.store).connect(checkpoints=True))
    worker, rng, due = Actor("bench.pkh", "worker", "pkh"), random.Random(5), date.today() + timedelta(days=30)
    try:
        for _ in range(WRITES):
            app.schedule_follow_up(worker, uuid.UUID(rng.choice(targets)), due_on=due, purpose="bench")
        follower = Follower(app, conn, settings.audit_key(), BATCH)
        start, before, started = follower.position, _io(), time.perf_counter()
        while follower.step():
            pass
        seconds, after, events = time.perf_counter() - started, _io(), follower.position - start
    finally:
        conn.close()
        services.close()
    return {"events": events, "us_per_event": round(seconds / events * 1e6),
            "us_held_per_event": round(conn.held / events * 1e6),
            "reads_per_event": round((after["syscr"] - before["syscr"]) / events, 1),
            "writes_per_event": round((after["syscw"] - before["syscw"]) / events, 1)}


def main() -> None:
    for kind in os.environ.get("BENCH_STORES", "sqlite").split(","):
        with tempfile.TemporaryDirectory() as tmp:
            small, large = (fresh_settings(kind, Path(tmp) / name) for name in ("small", "large"))
            try:
                for settings in (small, large):
                    fill(settings, SMALL, seed=1)
                print(f"[{kind}] growing to {LARGE} events", flush=True)
                grow(large, LARGE, until=None)
                for settings in (small, large):
                    catch_up(settings)
                shapes = open_case_shapes(small)[:200]
                for size, settings, targets in ((SMALL, small, [c for c, _, _ in shapes]),
                                                (LARGE, large, cases_shaped_like(large, shapes))):
                    print(f"[{kind}] {size:,} events stored: {measure(settings, targets)}", flush=True)
            finally:
                drop(small)
                drop(large)


if __name__ == "__main__":
    main()
