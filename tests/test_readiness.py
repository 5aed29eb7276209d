"""/readyz tells the truth: 503 naming each failing check (store, disk, projection, lag) and what is
wrong; /metrics counts what an operator watches (projector restarts and stuck position, idempotent
replays, conflicts, rate-limit hits). The real projection process, a real PostgreSQL behind a proxy
the test closes, and a real full disk (a small tmpfs)."""

import os
import subprocess
import time
from dataclasses import replace
from datetime import date

import pytest

from pilar.bootstrap import bootstrap, init_store
from pilar.projections.heartbeat import read_beat
from pilar.settings import Settings
from pilar.store.config import StoreConfig
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import POSTGRES_URL, drop_store, new_store_url, settings_for
from testkit.processes import ProjectionThread
from testkit.tcp_proxy import TcpProxy
from pilar.wsgi import create_app


@pytest.fixture
def thresholds() -> tuple[float, float]:
    """(PILAR_READY_PROJECTOR_TIMEOUT, PILAR_READY_MAX_LAG): short, so that a test waits seconds, not
    the defaults' 10 and 30; a test parametrizes `thresholds` to watch one check alone."""
    return 1.0, 60.0


@pytest.fixture
def settings(store_url, tmp_path, thresholds) -> Settings:
    projector, lag = thresholds
    return replace(settings_for(store_url, tmp_path), ready_projector_timeout=projector, ready_max_lag=lag)


def _open_case(service, actor, n: int = 0):
    body = factories.person(birth_date=f"19{40 + n}-03-0{1 + n % 9}")
    person = service.register_beneficiary(
        actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
        sex=body["sex"], desa_code=body["desa_code"])
    return service.open_case(actor, beneficiary_id=person.id, pillar="pkh", priority="normal",
                             referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                             categories=["fakir_miskin"]).id


def _until(client, predicate, seconds: float = 30.0):
    """The /readyz answer once `predicate(answer)` holds (fails after `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = client.get("/readyz")
        if predicate(answer):
            return answer
        assert time.monotonic() < deadline, answer.json
        time.sleep(0.1)


def _metrics(client) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")}


def test_ready_while_a_projection_process_leads_and_not_once_it_stops(settings, services, staff, client):
    with ProjectionThread(settings) as projection:
        ready = _until(client, lambda a: a.status_code == 200 and a.json["checks"]["projection"].get("state") == "active")
        assert ready.json["status"] == "ready" and ready.json["failing"] == []
        assert {name: check["ok"] for name, check in ready.json["checks"].items()} == {
            "disk": True, "store": True, "projection": True, "lag": True}
        assert ready.json["checks"]["projection"]["leader"].endswith(f":{os.getpid()}")
    assert projection.error is None
    gone = _until(client, lambda a: a.status_code == 503)
    assert gone.json["failing"] == ["projection"]
    assert "no leading projection process" in gone.json["checks"]["projection"]["message"]
    assert gone.json["checks"]["projection"]["state"] == "stopped"
    assert gone.headers["Retry-After"] == "5"
    assert gone.json["views"]["lag"] == 0  # the answer still says where the views stand


def test_a_store_that_never_had_a_projection_process_is_not_ready(services, staff, client):
    answer = _until(client, lambda a: a.status_code == 503)
    assert answer.json["failing"] == ["projection"]
    assert answer.json["checks"]["projection"]["message"] == "no projection process has ever run on this store"


@pytest.mark.parametrize("thresholds", [(3600.0, 1.0)])
def test_views_trailing_the_store_past_the_threshold(settings, service, staff, client):
    with ProjectionThread(settings):
        _until(client, lambda a: a.status_code == 200 and a.json["checks"]["projection"].get("state") == "active")
    _open_case(service, staff["wati"])  # four events the views never get
    behind = _until(client, lambda a: a.status_code == 503)
    assert behind.json["failing"] == ["lag"]
    assert behind.json["checks"]["lag"]["events"] == 4 and behind.json["checks"]["lag"]["seconds"] >= 1
    assert "trail the store by 4 events" in behind.json["checks"]["lag"]["message"]


def corrupt(settings, service, position: int) -> None:
    """Overwrite the stored bytes of the event at `position` (as a failing disk or a bad hand might)."""
    table = service.recorder.events_table_name
    column = "rowid" if settings.store.kind == "sqlite" else "notification_id"
    conn = ViewDB(settings.store).connect()
    try:
        conn.execute(f"UPDATE {table} SET state = ? WHERE {column} = ?", (b"\x00 not an event", position))
    finally:
        conn.close()


def test_a_projection_process_stuck_on_an_event_is_named(settings, service, staff, client):
    _open_case(service, staff["wati"], 0)
    bad = service.streams.position_of(_open_case(service, staff["wati"], 1), 1)  # the second case's opening
    _open_case(service, staff["wati"], 2)
    corrupt(settings, service, bad)
    # It stands still at the damaged event (no crash loop: restarting would meet the same bytes)
    # and its heartbeat names the event.
    with ProjectionThread(settings) as projection:
        stuck = _until(client, lambda a: a.status_code == 503)
        assert projection.thread.is_alive() and projection.error is None
        check = stuck.json["checks"]["projection"]
        assert "projection" in stuck.json["failing"]
        assert check["stuck_on_position"] == bad and check["error"] == "DamagedEvent" and check["restarts"] == 0
        assert check["state"] == "stuck" and f"stuck on the event at position {bad}" in check["message"]
        assert stuck.json["views"]["position"] == bad - 1  # every event before it is in the views
        metrics = _metrics(client)
        assert metrics["pilar_projector_stuck_position"] == bad
        assert metrics["pilar_projector_restarts_total"] == 0
        assert metrics["pilar_projector_heartbeat_age_seconds"] >= 0


def test_a_projection_process_that_will_not_project_is_named(settings, services, staff, client):
    wrong_key = replace(settings, audit_secret="not the store's audit key")
    with ProjectionThread(wrong_key):
        halted = _until(client, lambda a: a.status_code == 503)
    check = halted.json["checks"]["projection"]
    assert halted.json["failing"] == ["projection"] and check["state"] == "misconfigured"
    assert "was misconfigured" in check["message"] or "has been misconfigured" in check["message"]


def test_a_store_without_the_heartbeat_table_says_to_run_db_init(settings, services, client):
    conn = ViewDB(settings.store).connect()
    try:
        conn.execute("DROP TABLE projection_heartbeat")
    finally:
        conn.close()
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json["failing"] == ["projection"]
    assert "run `pilar db init`" in answer.json["checks"]["projection"]["message"]
    assert "pilar_projector_restarts_total" not in _metrics(client)  # and /metrics still answers


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("thresholds", [(3600.0, 3600.0)])
def test_an_unreachable_store_is_named(settings, services, staff):
    proxy = TcpProxy(("127.0.0.1", 5432)).accept()
    through = bootstrap(replace(settings, store=StoreConfig(proxy.url_for(settings.store.url))))
    try:
        client = create_app(through).test_client()
        assert client.get("/readyz").status_code == 200
        proxy.refuse()
        down = _until(client, lambda a: a.status_code == 503)
        assert down.json["failing"] == ["store"]
        assert down.json["checks"]["store"]["message"].startswith("the event store is not reachable")
        signin = client.post("/api/v1/auth/token", json={"username": "wati", "password": "whatever-it-is"})
        assert signin.status_code == 503 and signin.headers["Retry-After"]
        proxy.accept()
        _until(client, lambda a: a.status_code == 200)  # back by itself, nothing restarted
    finally:
        proxy.close()
        through.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (root only), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_disk_refusing_writes_is_named(kind, small_disk):
    url = new_store_url(kind, small_disk)
    settings = replace(settings_for(url, small_disk), ready_projector_timeout=3600.0)
    init_store(settings)
    services = bootstrap(settings)
    try:
        client = create_app(services).test_client()
        assert client.get("/readyz").status_code == 200
        filler = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 65536):
                pass
        except OSError:
            pass  # the disk is full
        finally:
            os.close(filler)
        full = _until(client, lambda a: a.status_code == 503)  # within the probe's few seconds of memory
        assert full.json["failing"] == ["disk"]
        assert "No space left on device" in full.json["checks"]["disk"]["message"]
        (small_disk / "filler").unlink()
        _until(client, lambda a: a.status_code == 200)
    finally:
        services.close()
        drop_store(url)


def test_thresholds_are_read_from_the_environment():
    settings = Settings.from_env({"PILAR_READY_MAX_LAG": "45", "PILAR_READY_PROJECTOR_TIMEOUT": "2.5"})
    assert (settings.ready_max_lag, settings.ready_projector_timeout) == (45.0, 2.5)
    defaults = Settings.from_env({})
    assert (defaults.ready_max_lag, defaults.ready_projector_timeout) == (30.0, 10.0)
    for name, value in [("PILAR_READY_MAX_LAG", "soon"), ("PILAR_READY_PROJECTOR_TIMEOUT", "0"),
                        ("PILAR_READY_MAX_LAG", "-3"), ("PILAR_READY_MAX_LAG", "nan")]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_metrics_count_replays_conflicts_and_rate_limits(service, staff, client, auth):
    case_id = _open_case(service, staff["wati"])
    before = _metrics(client)
    path = f"/api/v1/cases/{case_id}/follow-ups"
    for _ in range(2):
        assert client.post(path, json=factories.follow_up(), headers=auth("wati", **{"Idempotency-Key": "k-1"})
                           ).status_code == 200
    assert client.post(path, json=factories.follow_up(), headers=auth("wati", **{"If-Match": '"1"'})).status_code == 412
    answers = [client.post("/api/v1/auth/token", json={"username": "agus", "password": "not-his-password"}).status_code
               for _ in range(6)]
    assert answers[-1] == 429
    after = _metrics(client)

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert grew("pilar_idempotent_replays_total") == 1
    assert grew('pilar_write_conflicts_total{kind="stale_version"}') == 1
    assert grew('pilar_rate_limited_total{limit="signin_user"}') == 1
