"""Behaviour that depends on real processes: several gunicorn workers, several client
processes, and a server restart between a write and its retry."""

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from uuid import UUID

import pytest
import requests

from pilar.settings import PROJECT_ROOT
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token

pytestmark = pytest.mark.slow


def _open_cases(service, actor, count: int) -> list[str]:
    ids = []
    for n in range(count):
        body = factories.person(birth_date=f"195{n}-01-0{n + 1}")
        person = service.register_beneficiary(
            actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
            sex=body["sex"], desa_code=body["desa_code"],
        )
        case = service.open_case(actor, beneficiary_id=person.id, pillar="pkh",
                                 referral={"source": "musdes", "referred_by": "Kades", "reason": "race"},
                                 categories=["fakir_miskin"], priority="normal")
        ids.append(str(case.id))
    return ids


def test_racing_client_processes_lose_no_acknowledged_write(settings, service, staff, tmp_path):
    case_ids = _open_cases(service, staff["wati"], 3)
    clients, writes_each = 6, 20
    with Gunicorn(settings, workers=3, log=tmp_path / "gunicorn.log") as server:
        bearer = token(server.url, "wati", PASSWORD)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.race_client", server.url, bearer, ",".join(case_ids),
                 str(writes_each), str(seed)],
                cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
            )
            for seed in range(clients)
        ]
        results = [json.loads(p.communicate(timeout=300)[0]) for p in processes]

    statuses = Counter()
    for result in results:
        statuses.update({int(k): v for k, v in result["statuses"].items()})
    assert sum(statuses.values()) == clients * writes_each
    # 503 (concurrent_writes, with Retry-After) only if contention outlasted the re-decisions.
    assert set(statuses) <= {200, 503}, statuses

    acked = [entry for result in results for entry in result["acked"]]
    positions = [entry[2] for entry in acked]
    assert len(set(positions)) == len(positions), "two acknowledged writes claim one position"
    for case_id in case_ids:
        mine = [entry for entry in acked if entry[0] == case_id]
        case = service.get_case(staff["wati"], UUID(case_id))
        # Version 1 is CaseOpened; every acknowledged write is one more version, none lost, no gaps.
        assert case.version == 1 + len(mine)
        assert sorted(entry[1] for entry in mine) == list(range(2, case.version + 1))
        assert {f["id"] for f in case.follow_ups} == {entry[3] for entry in mine}


def test_idempotent_retry_survives_restart_and_spans_workers(settings, service, staff, tmp_path):
    (case_id,) = _open_cases(service, staff["wati"], 1)
    url_path = f"/api/v1/cases/{case_id}/follow-ups"
    body = factories.follow_up()

    with Gunicorn(settings, workers=2, log=tmp_path / "gunicorn.log") as server:
        headers = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}", "Idempotency-Key": "visit-7"}
        first = requests.post(server.url + url_path, json=body, headers=headers, timeout=30)
        assert first.status_code == 200
    stored_after_first = service.recorder.max_notification_id()

    with Gunicorn(settings, workers=3, log=tmp_path / "gunicorn.log") as server:
        def retry(_):
            return requests.post(server.url + url_path, json=body, headers=headers, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            retries = list(pool.map(retry, range(24)))

    for response in retries:
        assert response.status_code == 200
        assert response.json() == first.json()
        assert response.headers["Idempotent-Replayed"] == "true"
    assert service.recorder.max_notification_id() == stored_after_first
    assert service.get_case(staff["wati"], UUID(case_id)).version == 2


def test_concurrent_first_use_of_one_key_appends_once(settings, service, staff, tmp_path):
    (case_id,) = _open_cases(service, staff["wati"], 1)
    body = factories.follow_up()
    with Gunicorn(settings, workers=3, log=tmp_path / "gunicorn.log") as server:
        headers = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}", "Idempotency-Key": "once"}

        def send(_):
            return requests.post(f"{server.url}/api/v1/cases/{case_id}/follow-ups", json=body, headers=headers,
                                 timeout=30)

        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(send, range(12)))
    assert {r.status_code for r in responses} == {200}
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    assert service.get_case(staff["wati"], UUID(case_id)).version == 2


def test_metrics_sum_every_worker_and_report_projection_lag(settings, service, staff, tmp_path):
    _open_cases(service, staff["wati"], 1)
    with Gunicorn(settings, workers=3, log=tmp_path / "gunicorn.log") as server:
        for _ in range(30):
            assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
        text = requests.get(f"{server.url}/metrics", timeout=10).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines['pilar_http_requests_total{method="GET",route="/readyz",status="200"}']) == 30
    assert float(lines["pilar_store_position"]) == service.recorder.max_notification_id()
    assert float(lines["pilar_views_lag_events"]) == service.recorder.max_notification_id()  # no projector ran


def test_rate_limits_are_shared_by_every_worker(settings, service, staff, tmp_path, monkeypatch):
    # Each worker writes its request counts to its own file here (named by its pid): how we know
    # that both served look-ups, with nothing added to the product for it.
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    settings = replace(settings, lookup_limit="40 per 10 minutes")
    with Gunicorn(settings, workers=2, log=tmp_path / "gunicorn.log") as server:
        workers = server.pids()[1:]
        headers = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}

        def look_up(_):
            with requests.Session() as fresh_connection:
                return fresh_connection.post(f"{server.url}/api/v1/beneficiaries/search", headers=headers, timeout=30,
                                             json={"nik": factories.person()["nik"]}).status_code

        def served() -> dict[int, bool]:
            return {pid: (metrics / f"counter_{pid}.db").exists()
                    and b"/api/v1/beneficiaries/search" in (metrics / f"counter_{pid}.db").read_bytes()
                    for pid in workers}

        statuses: Counter = Counter()
        with ThreadPoolExecutor(max_workers=12) as pool:
            # Which worker accepts a connection is the kernel's choice (on a busy machine one may
            # take them all): more rounds until both have served look-ups, counted all the same.
            for _ in range(20):
                statuses.update(pool.map(look_up, range(100 if not statuses else 24)))
                if all(served().values()):
                    break
        failures = [requests.post(f"{server.url}/api/v1/auth/token", json={"username": "agus", "password": "wrong"},
                                  timeout=30).status_code for _ in range(7)]
        assert len(workers) == 2 and all(served().values()), served()
    assert statuses[200] == 40 and set(statuses) == {200, 429}  # one count across both workers: not 40 each
    assert failures == [401] * 5 + [429] * 2


def test_four_threads_per_worker_unless_pilar_threads_says_otherwise():
    def configured(**env) -> int:  # gunicorn's configuration as read in a fresh process
        base = {k: v for k, v in os.environ.items() if k != "PILAR_THREADS"}
        out = subprocess.run([sys.executable, "-c", "import pilar.gunicorn_conf as c; print(c.threads)"],
                             env=base | env, capture_output=True, text=True, timeout=60, check=True)
        return int(out.stdout)

    assert configured() == 4
    assert configured(PILAR_THREADS="3") == 3


def test_a_sqlite_worker_serves_one_write_at_a_time_and_reads_freely(tmp_path):
    import threading
    import time

    from pilar.settings import Settings
    from pilar.wsgi import _WritesInTurn

    def writes_at_once(**env) -> int:
        return Settings.from_env({"PILAR_INSTANCE_PATH": str(tmp_path), **env}).writes_at_once

    assert writes_at_once() == 1 and writes_at_once(PILAR_DATABASE_URL="postgresql://127.0.0.1/pilar") == 0
    assert writes_at_once(PILAR_WRITES_PER_WORKER="3") == 3
    with pytest.raises(ValueError, match="PILAR_WRITES_PER_WORKER must be a whole number"):
        writes_at_once(PILAR_WRITES_PER_WORKER="-1")
    inside, most, lock = [0], {}, threading.Lock()

    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        with lock:
            inside[0] += 1
            most[method] = max(most.get(method, 0), inside[0])
        time.sleep(0.2)
        with lock:
            inside[0] -= 1
        return [b""]

    for gate, method, path, expected in ((1, "POST", "/api/v1/cases", 1), (1, "PATCH", "/x", 1), (1, "GET", "/x", 4),
                                         (1, "OPTIONS", "/x", 4), (0, "POST", "/x", 4), (1, "POST", "/sign-in", 4),
                                         (1, "DELETE", "/sign-in", 1)):
        most.clear()
        gated = _WritesInTurn(app, gate, frozenset({("POST", "/sign-in")}))
        calls = [threading.Thread(target=gated, args=({"REQUEST_METHOD": method, "PATH_INFO": path}, None))
                 for _ in range(4)]
        for call in calls:
            call.start()
        for call in calls:
            call.join()
        assert most[method] == expected, (gate, method, path, most)


def test_sign_ins_pass_the_write_turn_as_the_app_is_built(app):
    """Their password check takes ~0.1 s and no store lock; held in the turn, it kept every write of
    its worker waiting that long. Found from the views themselves (pilar/api/limits.py marks them)."""
    from pilar.wsgi import _WritesInTurn

    layer = app.wsgi_app
    while not isinstance(layer, _WritesInTurn):
        layer = layer.app
    assert layer.free == {("POST", "/api/v1/auth/token"), ("POST", "/sign-in")}  # sign-out (DELETE) waits its turn
