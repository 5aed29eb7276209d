"""Racing writers: many client processes on few cases through real gunicorn for a fixed time."""

import time

import pytest

from reliability import harness, report
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token

pytestmark = pytest.mark.slow


def test_racing_writers_lose_nothing_and_never_fail(settings, service, staff, store_kind, tmp_path):
    case_ids = harness.open_cases(service, staff["wati"], harness.CASES)
    started = time.monotonic()
    with Gunicorn(settings, workers=harness.WORKERS, log=tmp_path / "gunicorn.log", projector=True) as server:
        writers = harness.Writers(server.url, token(server.url, "wati", PASSWORD), case_ids, harness.SECONDS,
                                  tmp_path, clients=harness.CLIENTS * 2, prefix="r")
        try:
            results = writers.results()
        finally:
            writers.kill()
        verdict = harness.check_writes(settings, results, case_ids, allow_unanswered=False)
        position, differences = harness.views_and_seals(settings)
    report.record("racing writers", store_kind, seconds=time.monotonic() - started, requests=verdict.sent,
                  acked=verdict.acked, unknown=verdict.unknown, unknown_stored=verdict.unknown_stored,
                  events_checked=verdict.events_checked,
                  notes=f"{harness.CLIENTS * 2} clients on {len(case_ids)} cases, {harness.WORKERS} workers; "
                        f"answers {dict(sorted(verdict.statuses.items()))}")
    assert verdict.failures == []
    assert verdict.acked > 0
    assert set(verdict.statuses) <= {"200", "409", "503"}, verdict.statuses
    assert differences == [], differences
