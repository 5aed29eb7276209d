"""`pilar project` as a real process: catch-up, SIGTERM, SIGKILL and restart, one active instance."""

import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from pilar.projections.maintenance import check
from pilar.projections.queries import WorkloadQueries
from pilar.store.connection import Readers
from testkit import factories
from testkit.servers import pilar_env, wait_until

pytestmark = pytest.mark.slow
PILAR = str(Path(sys.executable).parent / "pilar")


def start_projector(settings, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([PILAR, "project", "--poll-interval", "0.2", *extra], env=pilar_env(settings),
                                stdout=out, stderr=out)


def view_position(settings) -> int:
    readers = Readers(settings.store)
    try:
        return WorkloadQueries(readers).position()
    finally:
        readers.close()


def wait_for(predicate, seconds: float = 20.0) -> None:
    wait_until(predicate, seconds, step=0.05)


def write_cases(service, actor, count: int) -> None:
    for n in range(count):
        body = factories.person(birth_date=f"19{40 + n % 50}-03-{1 + n % 28:02d}")
        person = service.register_beneficiary(
            actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
            sex=body["sex"], desa_code=body["desa_code"])
        case = service.open_case(actor, beneficiary_id=person.id, pillar="pkh", priority="normal",
                                 referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                                 categories=["fakir_miskin"])
        service.assess_case(actor, case.id, needs=["care"], risk="low", summary="s")
        service.give_aid(actor, case.id, component="care", item="paket", quantity=1, unit="paket",
                         value_idr=1000 + n, funding_source="apbd", given_on=date.today())


def test_follows_new_events_and_stops_cleanly_on_sigterm(settings, service, staff, tmp_path):
    log = tmp_path / "project.log"
    projector = start_projector(settings, log)
    try:
        write_cases(service, staff["wati"], 5)
        wait_for(lambda: view_position(settings) == service.recorder.max_notification_id())
        write_cases(service, staff["wati"], 2)  # arrives while it waits: LISTEN or poll must pick it up
        wait_for(lambda: view_position(settings) == service.recorder.max_notification_id())
    finally:
        projector.send_signal(signal.SIGTERM)
        assert projector.wait(timeout=15) == 0
    assert "stopped" in log.read_text()
    assert check(settings)[1] == []


def test_sigkill_at_random_points_then_restart_equals_a_rebuild(settings, service, staff, tmp_path):
    write_cases(service, staff["wati"], 120)  # 720 events
    head = service.recorder.max_notification_id()
    rng = random.Random(7)
    log = tmp_path / "project.log"
    for _ in range(4):
        projector = start_projector(settings, log, "--batch-size", "25")
        time.sleep(rng.uniform(0.3, 1.2))
        projector.send_signal(signal.SIGKILL)
        projector.wait(timeout=10)
    killed_at = view_position(settings)
    projector = start_projector(settings, log, "--batch-size", "25")
    try:
        wait_for(lambda: view_position(settings) == head, seconds=60)
    finally:
        projector.send_signal(signal.SIGTERM)
        projector.wait(timeout=15)
    assert 0 <= killed_at <= head
    position, differences = check(settings)
    assert position == head and differences == []


def test_only_one_instance_is_active_and_a_standby_takes_over(settings, service, staff, tmp_path):
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_projector(settings, first_log)
    wait_for(lambda: "leader:" in first_log.read_text())
    second = start_projector(settings, second_log)
    try:
        wait_for(lambda: "standby:" in second_log.read_text())
        write_cases(service, staff["wati"], 3)
        wait_for(lambda: view_position(settings) == service.recorder.max_notification_id())
        assert "leader:" not in second_log.read_text()

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        wait_for(lambda: "leader:" in second_log.read_text())
        write_cases(service, staff["wati"], 3)
        wait_for(lambda: view_position(settings) == service.recorder.max_notification_id())
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=15)
    assert check(settings)[1] == []


# Its own database: a write by any other store in the shared one (a test beside it) would notify.
@pytest.mark.parametrize("store_url", ["postgres-database"], indirect=True)
def test_a_burst_of_writes_is_gathered_into_one_step_after_a_notification(settings, service, staff):
    import threading

    from pilar.projections.waiting import Waiter

    waiter = Waiter(settings, service, poll_interval=1.5, gather=0.5)
    stop = threading.Event()
    burst = threading.Thread(target=lambda: (time.sleep(0.05), write_cases(service, staff["wati"], 2)))
    try:
        burst.start()
        started = time.monotonic()
        waiter.wait(stop)  # woken by the burst's first notification, then gathers the rest
        woke_after = time.monotonic() - started
        burst.join()
        started = time.monotonic()
        waiter.wait(stop)  # nothing new: the burst's other notifications were drained, so this polls
        idle_after = time.monotonic() - started
    finally:
        waiter.close()
    assert 0.5 <= woke_after < 1.5
    assert idle_after >= 1.4
