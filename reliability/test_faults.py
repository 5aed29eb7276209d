"""Faults under load: SIGKILL a gunicorn worker, SIGKILL the projection process, restart
PostgreSQL, all while client processes write; then check nothing acknowledged was lost,
nothing was applied twice or half, the views equal a rebuild and the seals verify."""

import os
import signal
import time

import pytest

from reliability import harness, report
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token

pytestmark = pytest.mark.slow


def test_faults_under_load_lose_nothing_and_heal_themselves(settings, service, staff, store_kind, tmp_path):
    case_ids = harness.open_cases(service, staff["wati"], harness.CASES)
    seconds = max(3 * harness.SECONDS, 9.0)
    faults: list[str] = []
    probes: set[str] = set()
    started = time.monotonic()
    with Gunicorn(settings, workers=harness.WORKERS, log=tmp_path / "gunicorn.log", projector=True) as server:
        master = server.process.pid
        bearer = token(server.url, "wati", PASSWORD)
        harness.wait_for(lambda: harness.projector_pids(master), 30, "the projection process runs")
        harness.wait_for(lambda: len(harness.worker_pids(master)) == harness.WORKERS, 30, "every worker is up")
        # The writers stop when told (a while after the last fault), at most 120 s past their schedule.
        stop_file = tmp_path / "stop"
        writers = harness.Writers(server.url, bearer, case_ids, seconds + 120, tmp_path, prefix="f",
                                  stop_file=stop_file)

        def probe(label: str) -> None:
            key = f"probe-{len(probes)}"
            probes.add(key)
            recovered = harness.probe_write(server.url, bearer, case_ids[0], key)
            faults.append(f"{label}: writes again after {recovered:.1f} s")

        def at(fraction: float) -> None:
            time.sleep(max(0.0, writers.started + seconds * fraction - time.monotonic()))

        try:
            at(0.2)
            victim = harness.worker_pids(master)[0]
            os.kill(victim, signal.SIGKILL)
            harness.wait_for(lambda: victim not in harness.worker_pids(master)
                             and len(harness.worker_pids(master)) == harness.WORKERS, 30,
                             "gunicorn replaces the killed worker")
            probe("worker SIGKILL")

            at(0.45)
            (old,) = harness.projector_pids(master)
            os.kill(old, signal.SIGKILL)
            harness.wait_for(lambda: [p for p in harness.projector_pids(master) if p != old], 30,
                             "the companion restarts the projection process")
            probe("projector SIGKILL")

            at(0.7)
            if store_kind == "postgres":
                took = harness.restart_postgres()
                faults.append(f"PostgreSQL restart ({took:.1f} s down)")
                probe("PostgreSQL restart")
            else:
                victim = harness.worker_pids(master)[-1]
                os.kill(victim, signal.SIGKILL)
                harness.wait_for(lambda: victim not in harness.worker_pids(master)
                                 and len(harness.worker_pids(master)) == harness.WORKERS, 30,
                                 "gunicorn replaces the killed worker")
                probe("second worker SIGKILL")
            last_fault = time.time()
            # Keep writing for the rest of the schedule, and at least 2 s (and 10% of it) after the last fault.
            time.sleep(max(2.0, 0.1 * seconds, writers.started + seconds - time.monotonic()))
            stop_file.touch()
            results = writers.results()
        finally:
            writers.kill()
        # After the faults the clients kept writing with success, and the same server still serves.
        acked_after = sum(1 for r in results for a in r["acked"] if a["at"] > last_fault)
        verdict = harness.check_writes(settings, results, case_ids, extra_keys=probes, allow_unanswered=True)
        position, differences = harness.views_and_seals(settings)
        assert server.process.poll() is None, "gunicorn's master died"
    report.record("faults under load", store_kind, seconds=time.monotonic() - started,
                  requests=verdict.sent + len(probes), acked=verdict.acked, unknown=verdict.unknown,
                  unknown_stored=verdict.unknown_stored, faults=3, events_checked=verdict.events_checked,
                  notes="; ".join(faults) + f"; {verdict.retried_acks} acks needed a retry "
                        f"({verdict.replayed_acks} replayed); answers {dict(sorted(verdict.statuses.items()))}")
    print("\n".join(faults))
    assert verdict.failures == []
    assert verdict.acked > 0 and acked_after > 0
    assert not set(verdict.statuses) - {"200", "409", "503", "connection-error"}, verdict.statuses
    assert differences == [], differences
