"""What PostgreSQL backends wait for while the online-rebuild bench runs: pg_stat_activity (and who
blocks whom, pg_blocking_pids) sampled every few tens of milliseconds, each backend known by its
application_name (PGAPPNAME of the process that opened it). Joined afterwards with the slowest
calls, it says whether a slow write waited for a lock (and whose), for the WAL, or for nothing
PostgreSQL saw (a core, the client's own process)."""

import threading
import time
from collections import Counter

import psycopg

ROLES = ("bench-load", "pilar-project", "pilar-maintenance")
_SAMPLE = """SELECT pid, application_name, state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, ''),
       left(regexp_replace(query, '\\s+', ' ', 'g'), 60), pg_blocking_pids(pid)
FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY(%s) AND pid <> pg_backend_pid()
  AND state <> 'idle'"""


class WaitSampler:
    def __init__(self, conninfo: str, every: float = 0.02):
        self.conninfo = conninfo
        self.every = every
        self.samples: list[tuple[float, list[tuple]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pg-waits", daemon=True)

    def start(self) -> "WaitSampler":
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, application_name="bench-sampler") as conn:
            while not self.stop.wait(self.every):
                at = time.monotonic()
                self.samples.append((at, conn.execute(_SAMPLE, (list(ROLES),)).fetchall()))

    def during(self, start: float, end: float, role: str) -> dict:
        """What `role`'s busy backends were seen doing between start and end (monotonic seconds):
        counts of wait events, the roles of whoever blocked them and the statements they were in."""
        waits: Counter = Counter()
        blockers: Counter = Counter()
        statements: Counter = Counter()
        for at, rows in self.samples:
            if not start <= at <= end:
                continue
            names = {row[0]: row[1] for row in rows}
            for pid, app, state, kind, event, query, blocking in rows:
                if app != role:
                    continue
                waits[f"{kind}:{event}" if event else kind] += 1
                statements[query] += 1
                for other in blocking:
                    blockers[f"{names.get(other, 'other')}: {_query_of(rows, other)}"] += 1
        return {"waits": dict(waits.most_common(5)), "blocked_by": dict(blockers.most_common(3)),
                "in": dict(statements.most_common(3))}


def _query_of(rows: list[tuple], pid: int) -> str:
    return next((row[5] for row in rows if row[0] == pid), "?")
