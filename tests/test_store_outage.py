"""Faults around the server, with real gunicorn processes: PostgreSQL refusing connections (through
a proxy the test closes; the shared PostgreSQL is never stopped), the master killed outright, no
projection process, and one that crash-loops on a bad event."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from pilar.bootstrap import init_store
from pilar.projections.heartbeat import read_beat
from pilar.store.config import StoreConfig
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, pilar_env, token, wait_until
from testkit.tcp_proxy import TcpProxy
from tests.test_readiness import _open_case, corrupt

pytestmark = pytest.mark.slow
PILAR = str(Path(sys.executable).parent / "pilar")


_wait = wait_until


def _through(settings, proxy: TcpProxy):
    """The same store and keys, reached through the proxy (init_store wrote the keys to the instance folder)."""
    instance = settings.instance_path
    return replace(settings, store=StoreConfig(proxy.url_for(settings.store.url)),
                   audit_secret=(instance / "audit_key").read_text().strip(),
                   lookup_secret=(instance / "lookup_key").read_text().strip(),
                   kek_file=instance / "kek")


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_workers_start_and_recover_while_postgres_refuses_connections(settings, service, staff, tmp_path):
    case_id = _open_case(service, staff["wati"])
    proxy = TcpProxy(("127.0.0.1", 5432))  # not listening yet: PostgreSQL refuses every connection
    try:
        with Gunicorn(_through(settings, proxy), workers=2, projector=True, log=tmp_path / "gunicorn.log") as server:
            assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
            ready = requests.get(f"{server.url}/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["failing"] == ["store"]
            write = requests.post(f"{server.url}/api/v1/auth/token", json={"username": "wati", "password": PASSWORD},
                                  timeout=10)
            assert write.status_code == 503 and write.headers["Retry-After"]
            assert write.json() == {"code": 503, "status": "Service Unavailable",
                                    "message": "The event store is not reachable; retry shortly."}

            # A worker that dies meanwhile is replaced, and the master (with the other worker) stays.
            master, first, second = server.pids()
            os.kill(first, signal.SIGKILL)
            _wait(lambda: len(server.pids()) == 3 and first not in server.pids(), what="a new worker")
            assert server.process.poll() is None and second in server.pids()
            assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 503
            # Its attempts leave nothing behind (a half-built application's pool would keep
            # connecting in threads of its own, one more pool per attempt).
            threads = len(os.listdir(f"/proc/{second}/task"))
            time.sleep(8)  # attempts after 0.5, 1, 2, 4 and 5 s
            assert len(os.listdir(f"/proc/{second}/task")) <= threads + 1

            proxy.accept()  # PostgreSQL is back: every worker recovers by itself
            bearer = _wait(lambda: token(server.url, "wati", PASSWORD), what="a sign-in")
            headers = {"Authorization": f"Bearer {bearer}"}
            for n in range(4):  # spread over both workers; a 503 is retried with the same key, as clients do
                keyed, body = {**headers, "Idempotency-Key": f"after-outage-{n}"}, factories.follow_up()
                _wait(lambda: requests.post(f"{server.url}/api/v1/cases/{case_id}/follow-ups", json=body,
                                            headers=keyed, timeout=10).status_code == 200, what="a write")
            assert service.get_case(staff["wati"], case_id).version == 5
            # Ready once the projection process leads again (before its first heartbeat the server's
            # grace period may answer 200 without a state: wait for the state itself).
            ready = _wait(lambda: (r := requests.get(f"{server.url}/readyz", timeout=10)).status_code == 200
                          and r.json()["checks"]["projection"].get("state") == "active" and r, what="ready")
            assert ready.json()["failing"] == []
            assert server.process.poll() is None
    finally:
        proxy.close()


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_pilar_project_waits_for_postgres_and_then_leads(settings, service, staff, tmp_path):
    init_store(settings)
    proxy = TcpProxy(("127.0.0.1", 5432))
    log = tmp_path / "project.log"
    with open(log, "ab") as out:
        project = subprocess.Popen([PILAR, "project", "--poll-interval", "0.2"],
                                   env=pilar_env(_through(settings, proxy)), stdout=out, stderr=out)
    try:
        _wait(lambda: "store unavailable" in log.read_text(), what="a log line")
        time.sleep(2)
        assert project.poll() is None, log.read_text()  # still there, trying
        proxy.accept()
        conn = ViewDB(settings.store).connect()
        try:
            beat = _wait(lambda: (b := read_beat(conn)) and b.state == "active" and b, what="a heartbeat")
        finally:
            conn.close()
        assert beat.leader.endswith(f":{project.pid}")
        assert "store reachable again" in log.read_text()
    finally:
        project.send_signal(signal.SIGTERM)
        project.wait(timeout=20)
        proxy.close()


def _port_free(port: int) -> bool:
    """Whether a new server could listen there now (as gunicorn binds: closed connections of the
    old one, in TIME_WAIT, do not stand in the way)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen(1)
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_master_killed_outright_leaves_no_orphan_acknowledging_writes(settings, service, staff, tmp_path):
    case_id = _open_case(service, staff["wati"])
    server = Gunicorn(settings, workers=2, projector=True, log=tmp_path / "gunicorn.log").start()
    headers = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}
    master, *workers = server.pids()
    companion = _wait(lambda: [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()
                               if b"pilar.cli" in Path(f"/proc/{pid}/cmdline").read_bytes()], what="the projector")
    # Writers on kept-alive connections, as busy clients would be when the master is killed.
    sessions = [requests.Session() for _ in range(4)]
    acknowledged_after_kill = []
    killed_at: list[float] = []

    def write(session: requests.Session) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (killed_at and time.monotonic() > killed_at[0] + 2):
            try:
                answer = session.post(f"{server.url}/api/v1/cases/{case_id}/follow-ups", json=factories.follow_up(),
                                      headers=headers, timeout=5)
            except requests.RequestException:
                continue
            if answer.status_code == 200 and killed_at and time.monotonic() > killed_at[0] + 0.2:
                acknowledged_after_kill.append(answer.json()["version"])

    writers = [threading.Thread(target=write, args=(session,)) for session in sessions]
    for writer in writers:
        writer.start()
    time.sleep(1.0)
    server.process.send_signal(signal.SIGKILL)
    killed_at.append(time.monotonic())
    server.process.wait(timeout=10)
    _wait(lambda: not any(_alive(pid) for pid in workers), seconds=2, what="workers gone")
    _wait(lambda: _port_free(server.port), seconds=2 - (time.monotonic() - killed_at[0]), what="the port free")
    for writer in writers:
        writer.join(timeout=40)
    assert acknowledged_after_kill == []
    _wait(lambda: not any(_alive(pid) for pid in companion), seconds=5, what="the projection process gone")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_readyz_with_the_default_thresholds_names_a_missing_projection_process(settings, service, staff, tmp_path):
    settings = replace(settings, ready_projector_timeout=10.0, ready_max_lag=30.0)
    with Gunicorn(settings, workers=1, log=tmp_path / "gunicorn.log") as server:  # no projection process
        started = time.monotonic()
        answer, = _wait(lambda: (r := requests.get(f"{server.url}/readyz", timeout=10)).status_code == 503 and [r],
                       seconds=20, what="503")
        assert time.monotonic() - started <= 15
        assert answer.json()["failing"] == ["projection"]


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_readyz_names_a_projection_process_stuck_on_a_damaged_event(settings, service, staff, tmp_path):
    """Under gunicorn, the projection process stands still at a damaged event (it would meet the
    same bytes again after a restart: no crash loop) and /readyz and /metrics name the event."""
    _open_case(service, staff["wati"], 0)
    bad = service.streams.position_of(_open_case(service, staff["wati"], 1), 1)
    corrupt(settings, service, bad)
    with Gunicorn(settings, workers=1, projector=True, log=tmp_path / "gunicorn.log") as server:
        answer, = _wait(lambda: (r := requests.get(f"{server.url}/readyz", timeout=10)).status_code == 503 and [r],
                       seconds=15, what="503")
        check = answer.json()["checks"]["projection"]
        assert check["stuck_on_position"] == bad and check["state"] == "stuck"
        time.sleep(5)  # more than two looks at the damaged event
        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        assert f"pilar_projector_stuck_position {float(bad)}" in metrics
        assert "pilar_projector_restarts_total 0.0" in metrics
