"""Several servers against one PostgreSQL (issue 14, item 10): two gunicorn servers on different
ports and two `pilar project` processes. Clients write through both servers; the leading
projection process is killed with SIGKILL mid-load; the standby leads within 5 s; every
acknowledged write is stored exactly once; the views equal a rebuild.

PostgreSQL only: it is the store several machines share (SQLite is one machine's file)."""

import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from uuid import UUID

import pytest
import requests

from pilar.cases.case import Case
from pilar.projections.heartbeat import read_beat
from pilar.projections.maintenance import check
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, pilar_env, token, wait_until
from tests.test_projection_process import view_position
from tests.test_readiness import _open_case

pytestmark = pytest.mark.slow
PILAR = str(Path(sys.executable).parent / "pilar")
TAKEOVER_SECONDS = 5.0  # what the issue promises
MAX_ATTEMPTS = 40


_wait = partial(wait_until, step=0.05)  # a fine poll: the takeover is timed by it


def _projector(settings, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([PILAR, "project", "--poll-interval", "0.2"], env=pilar_env(settings),
                                stdout=out, stderr=out)


class Writer(threading.Thread):
    """A client writing follow-ups through one server until told to stop, each with its own
    Idempotency-Key (also its purpose, so the stored event names the request), retrying an
    unanswered request or a 503 with the same key, as documented clients do."""

    def __init__(self, name: str, url: str, bearer: str, case_ids: list[str], stop: threading.Event):
        super().__init__(daemon=True)
        self.label, self.url, self.case_ids, self.stopping = name, url, case_ids, stop
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {bearer}"
        self.acked: list[dict] = []     # {key, case_id, version, url, at}
        self.failures: list[str] = []

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set() and not self.failures:
            n += 1
            key = f"{self.label}-{n:05d}"
            case_id = self.case_ids[n % len(self.case_ids)]
            self._write(key, case_id)

    def _write(self, key: str, case_id: str) -> None:
        for attempt in range(MAX_ATTEMPTS):
            try:
                answer = self.session.post(f"{self.url}/api/v1/cases/{case_id}/follow-ups",
                                           json=factories.follow_up(purpose=key),
                                           headers={"Idempotency-Key": key}, timeout=30)
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code == 200:
                self.acked.append({"key": key, "case_id": case_id, "version": answer.json()["version"],
                                   "url": self.url, "at": time.monotonic()})
                return
            if answer is not None and answer.status_code != 503:
                self.failures.append(f"{key}: {answer.status_code} {answer.text[:200]}")
                return
            time.sleep(min(1.0, 0.05 * 2 ** attempt))
        self.failures.append(f"{key}: unanswered after {MAX_ATTEMPTS} attempts")


def _stored_follow_ups(service, case_ids: list[str]) -> dict[str, list[tuple[str, int]]]:
    """purpose (the request's key) -> every (case, version) a follow-up with it is stored at."""
    stored: dict[str, list[tuple[str, int]]] = {}
    for case_id in case_ids:
        after = 0
        while page := service.streams.select_stream(UUID(case_id), after_version=after, limit=1000):
            after = page[-1].originator_version
            for notification in page:
                event = service.mapper.to_domain_event(notification)
                if isinstance(event, Case.FollowUpScheduled):
                    stored.setdefault(event.purpose, []).append((case_id, event.originator_version))
    return stored


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_two_servers_two_projectors_survive_the_leader_killed_mid_load(settings, service, staff, tmp_path):
    case_ids = [str(_open_case(service, staff["wati"], n)) for n in range(3)]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    projectors = [_projector(settings, first_log)]
    try:
        _wait(lambda: "leader:" in first_log.read_text(), 30, "the first projector leading")
        projectors.append(_projector(settings, second_log))
        _wait(lambda: "standby:" in second_log.read_text(), 30, "the second projector standing by")
        first, second = projectors
        killed_at, takeover, beat, writers = _write_through_two_servers_and_kill(settings, case_ids, first, second,
                                                                                 tmp_path)

        assert takeover <= TAKEOVER_SECONDS, f"the standby took {takeover:.2f} s to lead"
        assert beat.starts == 2
        assert [f for w in writers for f in w.failures] == []
        acked = [a for w in writers for a in w.acked]
        assert any(a["at"] < killed_at for a in acked) and any(a["at"] > killed_at for a in acked)
        assert {a["url"] for a in acked} == {w.url for w in writers} and len({w.url for w in writers}) == 2

        stored = _stored_follow_ups(service, case_ids)
        assert stored == {a["key"]: [(a["case_id"], a["version"])] for a in acked}  # each once, where answered
        for case_id in case_ids:
            assert sum(1 for places in stored.values() for place in places if place[0] == case_id) \
                == sum(1 for a in acked if a["case_id"] == case_id)

        head = service.recorder.max_notification_id()
        _wait(lambda: view_position(settings) == head, 60, "the new leader catching up")
        assert check(settings) == (head, [])
    finally:
        for process in projectors:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=15)


def _write_through_two_servers_and_kill(settings, case_ids, first, second, tmp_path):
    """Writers through two servers; the leading projector SIGKILLed once each writer has 20
    acknowledged writes; writing goes on until 40 more are acknowledged after the standby leads.
    Answers when the kill was, how long the takeover took, the new leader's beat, the writers."""
    beats = ViewDB(settings.store).connect()
    servers = [Gunicorn(settings, workers=2, log=tmp_path / f"gunicorn{n}.log") for n in (1, 2)]
    stop = threading.Event()
    writers: list[Writer] = []
    try:
        for server in servers:
            server.start()
        bearer = token(servers[0].url, "wati", PASSWORD)  # one token, honoured by either server
        writers = [Writer(f"s{s}w{w}", server.url, bearer, case_ids, stop)
                   for s, server in enumerate(servers) for w in range(2)]
        try:
            for writer in writers:
                writer.start()
            _wait(lambda: all(len(w.acked) >= 20 for w in writers), 60, "writes acknowledged through both servers")
            assert read_beat(beats).leader.endswith(f":{first.pid}")

            first.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            beat = _wait(lambda: (b := read_beat(beats)) and b.leader.endswith(f":{second.pid}")
                         and b.state == "active" and b, 30, "the standby leading")
            takeover = time.monotonic() - killed_at
            first.wait(timeout=10)
            for server in servers:  # every server's /readyz names the new leader, and counts the restart
                _wait(lambda: (p := requests.get(f"{server.url}/readyz", timeout=10).json()["checks"]["projection"])
                      ["leader"].endswith(f":{second.pid}") and p["restarts"] == 1, 30, "/readyz naming the new leader")
            acked_at_kill = sum(len(w.acked) for w in writers)
            _wait(lambda: sum(len(w.acked) for w in writers) >= acked_at_kill + 40, 60, "writes after the takeover")
        finally:
            stop.set()
            for writer in writers:
                writer.join(timeout=60)
        _retry_through_the_other_server(servers, bearer, writers[0].acked[0])
    finally:
        for server in servers:
            server.stop()
        beats.close()
    return killed_at, takeover, beat, writers


def _retry_through_the_other_server(servers, bearer: str, acked: dict) -> None:
    """A write answered by one server, retried with its key through the other: the first answer
    again, nothing appended."""
    other = next(server for server in servers if server.url != acked["url"])
    answer = requests.post(f"{other.url}/api/v1/cases/{acked['case_id']}/follow-ups",
                           json=factories.follow_up(purpose=acked["key"]),
                           headers={"Authorization": f"Bearer {bearer}", "Idempotency-Key": acked["key"]}, timeout=30)
    assert answer.status_code == 200 and answer.headers.get("Idempotent-Replayed") == "true"
    assert answer.json()["version"] == acked["version"]
