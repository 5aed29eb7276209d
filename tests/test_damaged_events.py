"""A damaged event (its bytes changed in the database, as a disk fault or an attacker would) is
contained: the projection process stops before it without restarting and says where; the other
cases read and write as before; the case holding it answers a problem naming the damage; check and
verify list every damaged event, sealed or not; a quarantine lets the views go on without it, and
verify still reports it. Every test runs on SQLite and PostgreSQL."""

import getpass
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from pilar.audit.export import entries, read_csv, write
from pilar.audit.quarantine import damaged, record_found, repaired
from pilar.audit.seals import verify
from pilar.cases import event_mac
from pilar.cases.errors import DamagedEvent
from pilar.projections.damage import CannotRepair, NothingToQuarantine, quarantine_event, repair_event, status
from pilar.projections.maintenance import NotQuarantined, check_with_damage, rebuild
from pilar.projections import runner
from pilar.projections.runner import ProjectionProcess
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import POSTGRES_URL, drop_store
from testkit.servers import pilar_env, wait_until
from tests.test_tamper import Events

API = "/api/v1"
PILAR = str(Path(sys.executable).parent / "pilar")
GARBAGE = b"\x00\xff not an event"


@pytest.fixture
def store(settings):
    conn = ViewDB(settings.store).connect()
    yield conn
    conn.close()


@pytest.fixture
def events(store):
    return Events(store)


@pytest.fixture
def two_cases(client, auth):
    """Two cases by two workers, each opened, assessed and given aid: {worker: (person, case)}."""
    made = {}
    for who in ("wati", "agus"):
        h = auth(who)
        person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=h).json["id"]
        case = client.post(f"{API}/cases", json=factories.case(person), headers=h).json["id"]
        assert client.post(f"{API}/cases/{case}/assessments", json=factories.assessment(), headers=h).status_code == 200
        assert client.post(f"{API}/cases/{case}/aid", json=factories.aid(), headers=h).status_code == 200
        made[who] = (UUID(person), UUID(case))
    return made


def flip_last_byte(events, position: int) -> None:
    state = bytearray(events.row(position)[3])
    state[-2] ^= 0x01  # inside the JSON: it may still decode, but its MAC no longer holds
    events.set_state(position, bytes(state))


def run(settings, *args) -> subprocess.CompletedProcess:
    return subprocess.run([PILAR, *args], capture_output=True, text=True, env=pilar_env(settings), timeout=120)


def wait_for(predicate, seconds: float = 20.0) -> None:
    wait_until(predicate, seconds, step=0.05)


class Running:
    """The real projection process, in a thread, for as long as the `with` lasts."""

    def __init__(self, settings):
        self.stop = threading.Event()
        self.process = ProjectionProcess(settings, poll_interval=0.1, stop=self.stop)
        self.thread = threading.Thread(target=self.process.run)

    def __enter__(self) -> ProjectionProcess:
        self.thread.start()
        return self.process

    def __exit__(self, *_) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


def views_position(store) -> int:
    row = store.one("SELECT position FROM view_tracking WHERE name = 'workload'")
    return int(row[0]) if row else 0


# ----------------------------------------------------------------------------- the projection process
def test_the_projection_stops_at_a_damaged_event_says_so_once_and_goes_on_when_it_is_quarantined(
        settings, services, two_cases, events, store, client, auth, caplog, monkeypatch):
    monkeypatch.setattr(runner, "DAMAGE_RETRY", 0.25)  # it looks again every 2 s in production
    _, wati_case = two_cases["wati"]
    bad = events.position(wati_case, 3)
    events.set_state(bad, GARBAGE)
    h = auth("agus")
    _, agus_case = two_cases["agus"]
    assert client.post(f"{API}/cases/{agus_case}/aid", json=factories.aid(item="beras"), headers=h).status_code == 200

    caplog.set_level(logging.INFO, logger="pilar.projection")
    with Running(settings) as process:
        wait_for(lambda: process.state == "stuck")
        assert process.stuck_at == bad
        time.sleep(1.0)  # four more looks at it: still standing, nothing restarted, nothing said again
        assert process.state == "stuck"
        stops = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(stops) == 1 and f"stopped at position {bad} " in stops[0].getMessage()
        assert "pilar projections quarantine" in stops[0].getMessage()
        assert [r.getMessage() for r in caplog.records].count("leader: keeping the views current") == 1
        assert views_position(store) == bad - 1  # every event before it is in the views
        past = client.get(f"{API}/audit/views?as_of=2099-01-01T00:00:00%2B07:00", headers=auth("inspektur"))
        assert past.status_code == 500 and past.json["damaged"]["position"] == bad
        assert int(store.one("SELECT MAX(position) FROM audit_seals")[0]) == bad - 1  # nothing newer sealed

        # The case lists keep answering (from the views as they stand) and other cases take writes.
        assert client.get(f"{API}/cases?pillar=pkh", headers=h).status_code == 200
        assert client.post(f"{API}/cases/{agus_case}/assessments", json=factories.assessment(),
                           headers=h).status_code == 200

        found = status(settings)
        assert found.stopped_at is not None and found.stopped_at.position == bad
        assert found.stopped_at.reason == "it carries no MAC, though every event of this store must"
        shown = run(settings, "projections", "status")
        assert shown.returncode == 1 and f"STOPPED at damaged event position {bad} " in shown.stdout

        quarantined = run(settings, "projections", "quarantine", str(bad), "--reason", "disk fault, ticket 7")
        assert quarantined.returncode == 0, quarantined.stderr
        wait_for(lambda: process.state == "active" and views_position(store) == events.head())

    assert status(settings).stopped_at is None
    # The case itself stays unreadable: its state without the event was never recorded by anyone.
    assert client.get(f"{API}/cases/{wati_case}", headers=auth("wati")).json["rule"] == "damaged_event"
    past = client.get(f"{API}/audit/views?as_of=2099-01-01T00:00:00%2B07:00", headers=auth("inspektur"))
    assert past.status_code == 200
    shown = run(settings, "projections", "status")
    assert shown.returncode == 0 and f"quarantined: position {bad} " in shown.stdout
    assert "ticket 7" in shown.stdout and f"quarantined by os:{getpass.getuser()} at" in shown.stdout
    # The views equal a rebuild without the quarantined event, which check still lists.
    position, differences, still = check_with_damage(settings)
    assert position == events.head() and differences == []
    assert [d.position for d in still] == [bad]
    checked = run(settings, "projections", "check")
    assert checked.returncode == 1 and f"DAMAGED: the event at position {bad}," in checked.stdout
    assert "views match a rebuild" in checked.stdout


def test_pilar_project_does_not_crash_loop_on_a_damaged_event(settings, services, two_cases, events, store,
                                                              tmp_path):
    _, case = two_cases["agus"]
    bad = events.position(case, 2)
    flip_last_byte(events, bad)
    log = tmp_path / "project.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([PILAR, "project", "--poll-interval", "0.2"], env=pilar_env(settings),
                                   stdout=out, stderr=out)
    try:
        wait_for(lambda: "projection stopped at position" in log.read_text())
        time.sleep(5)
        assert process.poll() is None  # still running: no exit, no restart
        text = log.read_text()
        assert text.count("projection stopped at position") == 1 and "Traceback" not in text
        assert f"projection stopped at position {bad} (stream {case}, version 2): its MAC does not hold" in text
        assert text.count("leader: keeping the views current") == 1
    finally:
        process.terminate()
        process.wait(timeout=20)


# ----------------------------------------------------------------------------- the API
def test_the_damaged_case_answers_a_problem_naming_the_damage_and_the_others_answer_as_before(
        services, two_cases, events, client, auth, catch_up):
    catch_up()
    wati_person, wati_case = two_cases["wati"]
    _, agus_case = two_cases["agus"]
    bad = events.position(wati_case, 3)
    flip_last_byte(events, bad)
    h = auth("wati")
    damage = {"stream_id": str(wati_case), "version": 3, "position": None,
              "reason": "its MAC does not hold: its bytes, topic, stream or version were changed after Pilar wrote it"}

    read = client.get(f"{API}/cases/{wati_case}", headers=h)
    assert read.status_code == 500
    assert read.json["rule"] == "damaged_event" and read.json["damaged"] == damage
    assert f"stream {wati_case} version 3 is damaged" in read.json["message"]
    history = client.get(f"{API}/cases/{wati_case}/history", headers=h)
    assert history.status_code == 500 and history.json["rule"] == "damaged_event"
    write = client.post(f"{API}/cases/{wati_case}/aid", json=factories.aid(), headers=h)
    assert write.status_code == 409 and write.json["rule"] == "damaged_event"
    assert write.json["damaged"] == damage
    assert events.last_version(wati_case) == 3  # nothing written
    # The person's view lists their cases, and who may read the person is decided from them: it
    # answers the same problem. The case list still lists the case (from the views).
    person = client.get(f"{API}/beneficiaries/{wati_person}", headers=h)
    assert person.status_code == 500 and person.json["damaged"] == damage
    assert str(wati_case) in [c["id"] for c in client.get(f"{API}/cases", headers=h).json["items"]]

    # The feed page holding it lists it as damaged and every other event in full.
    feed = client.get(f"{API}/events?after={bad - 2}&limit=5", headers=auth("inspektur"))
    assert feed.status_code == 200
    by_position = {item["position"]: item for item in feed.json["items"]}
    assert by_position[bad]["damaged"] == damage["reason"]
    assert by_position[bad]["data"] is None and by_position[bad]["type"] is None
    assert all("damaged" not in item and item["data"] for p, item in by_position.items() if p != bad)

    # Another case of the same worker reads and takes writes.
    other = auth("agus")
    assert client.get(f"{API}/cases/{agus_case}", headers=other).status_code == 200
    assert client.get(f"{API}/cases/{agus_case}/history", headers=other).status_code == 200
    assert client.post(f"{API}/cases/{agus_case}/aid", json=factories.aid(), headers=other).status_code == 200


# ----------------------------------------------------------------------------- check and verify
def test_check_and_verify_list_every_damaged_event_sealed_or_not_and_rebuild_refuses(
        settings, services, service, two_cases, events, store, client, auth, catch_up):
    catch_up()
    _, wati_case = two_cases["wati"]
    _, agus_case = two_cases["agus"]
    assert client.post(f"{API}/cases/{agus_case}/aid", json=factories.aid(), headers=auth("agus")).status_code == 200
    sealed_one = events.position(wati_case, 2)
    flip_last_byte(events, sealed_one)
    sealed_two = events.position(agus_case, 3)
    events.set_state(sealed_two, GARBAGE)
    unsealed = events.position(agus_case, 4)
    flip_last_byte(events, unsealed)  # written after the last seal

    result = verify(service.recorder, store, settings.audit_key())
    assert result.sealed_up_to < unsealed
    assert [(b.kind, b.position) for b in result.breaks] == [
        ("edited", sealed_one), ("edited", sealed_two), ("forged", unsealed)]
    answer = client.get(f"{API}/audit/verify", headers=auth("inspektur")).json
    assert answer["breaks_total"] == 3 and [b["position"] for b in answer["breaks"]] == [
        sealed_one, sealed_two, unsealed]

    position, differences, found = check_with_damage(settings)
    assert [d.position for d in found] == [sealed_one, sealed_two, unsealed]
    assert "MAC does not hold" in found[0].reason and "carries no MAC" in found[1].reason
    # The live views took both sealed events in before they were damaged: a rebuild without them differs.
    assert position == views_position(store) >= sealed_two and differences
    checked = run(settings, "projections", "check")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert checked.stdout.count("DAMAGED:") == 3

    before = views_position(store)
    with pytest.raises(NotQuarantined) as refused:
        rebuild(settings)
    assert views_position(store) == before and check_with_damage(settings)[1] == differences  # views unchanged
    assert [d.position for d in refused.value.damaged] == [sealed_one, sealed_two, unsealed]
    cli = run(settings, "projections", "rebuild")
    assert cli.returncode == 1 and "rebuild refused: 3 damaged event(s) not quarantined" in cli.stderr

    for position in (sealed_one, sealed_two, unsealed):
        quarantine_event(settings, position, reason="restored nothing", by="os:test")
    assert rebuild(settings) == events.head()
    # Quarantined, each is still a break.
    assert [(b.kind, b.position) for b in verify(service.recorder, store, settings.audit_key()).breaks] == [
        ("edited", sealed_one), ("edited", sealed_two), ("forged", unsealed)]


def test_a_quarantined_event_whose_mac_holds_still_shows_in_verify(settings, services, service, two_cases, events,
                                                                  store, catch_up):
    # An event Pilar wrote (its MAC holds) of a type this Pilar cannot read, e.g. after a downgrade.
    _, case = two_cases["wati"]
    mac_key = event_mac.event_key(settings.audit_key())
    topic = "cases.case:Case.HomeVisitRecorded"
    unknown = events.insert(case, 4, topic, event_mac.sign(mac_key, case, 4, topic, b'{"timestamp":"x"}'))
    with Running(settings) as process:
        wait_for(lambda: process.state == "stuck")
        assert process.stuck_at == unknown
    assert "names no event class" in status(settings).stopped_at.reason
    assert verify(service.recorder, store, settings.audit_key()).ok  # as Pilar wrote it
    quarantine_event(settings, unknown, reason="written by Pilar 2.0", by="os:test")
    result = verify(service.recorder, store, settings.audit_key())
    assert [(b.kind, b.position, b.version) for b in result.breaks] == [("quarantined", unknown, 4)]
    assert "written by Pilar 2.0" in result.breaks[0].message


def test_quarantine_refuses_an_event_that_reads_and_a_position_without_one(settings, services, two_cases, events,
                                                                          store):
    _, case = two_cases["wati"]
    good = events.position(case, 2)
    with pytest.raises(NothingToQuarantine, match="reads as Pilar wrote it"):
        quarantine_event(settings, good, reason="oops", by="os:test")
    with pytest.raises(NothingToQuarantine, match="no event is stored at position"):
        quarantine_event(settings, events.head() + 10, reason="oops", by="os:test")
    refused = run(settings, "projections", "quarantine", str(good), "--reason", "oops")
    assert refused.returncode == 1 and "nothing to quarantine" in refused.stderr
    assert damaged(store) == []


# ----------------------------------------------------------------------------- repair from a backup
@pytest.fixture
def backup(settings, tmp_path):
    """backup() -> the URL of a copy of the store as it is now (a restored backup)."""
    made = []

    def take() -> str:
        if settings.store.kind == "sqlite":
            target = tmp_path / f"backup{len(made)}.db"
            source, copy = sqlite3.connect(settings.store.sqlite_path), sqlite3.connect(target)
            source.backup(copy)
            source.close(), copy.close()
            url = f"sqlite:///{target}"
        else:
            schema, copy = settings.store.schema, f"b_{uuid4().hex[:12]}"
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{copy}"')
                tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                      (schema,)).fetchall()
                for (table,) in tables:
                    conn.execute(f'CREATE TABLE "{copy}"."{table}" AS SELECT * FROM "{schema}"."{table}"')
            url = settings.store.url.replace(f"schema={schema}", f"schema={copy}")
        made.append(url)
        return url

    yield take
    for url in made:
        drop_store(url)


def test_a_damaged_event_is_repaired_from_a_backup_and_the_projection_goes_on(
        settings, services, service, two_cases, events, store, client, auth, catch_up, backup):
    catch_up()
    _, case = two_cases["wati"]
    assert client.post(f"{API}/cases/{case}/aid", json=factories.aid(), headers=auth("wati")).status_code == 200
    kept = backup()
    sealed = events.position(case, 3)  # sealed and in the views already
    flip_last_byte(events, sealed)
    bad = events.position(case, 4)  # neither: the projection process stops at it
    flip_last_byte(events, bad)
    assert repair_event(settings, sealed, backup_url=kept, by="os:test").repaired  # proven by its seal too
    _, other = two_cases["agus"]
    assert client.post(f"{API}/cases/{other}/aid", json=factories.aid(), headers=auth("agus")).status_code == 200
    with Running(settings) as process:
        wait_for(lambda: process.state == "stuck")
        assert process.stuck_at == bad
        repaired = run(settings, "projections", "repair", str(bad), "--from", kept)
        assert repaired.returncode == 0, repaired.stderr
        assert f"repaired: position {bad} " in repaired.stdout
        assert f"repaired by os:{getpass.getuser()}" in repaired.stdout
        wait_for(lambda: process.state == "active" and views_position(store) == events.head())
    assert client.get(f"{API}/cases/{case}", headers=auth("wati")).status_code == 200
    assert verify(service.recorder, store, settings.audit_key()).ok
    found = status(settings)
    assert found.stopped_at is None and [(d.position, d.repaired) for d in found.damaged] == [
        (sealed, True), (bad, True)]
    position, differences, still = check_with_damage(settings)
    assert differences == [] and still == []


def test_a_repair_made_after_the_event_was_read_stands_and_damage_found_after_it_counts(services, store):
    # The projection process read the event damaged, the repair committed, then the process
    # recorded what it had read: the repair must stand (it was lost: the row said damaged again).
    read_before_the_repair = DamagedEvent(uuid4(), 3, 41, "the MAC does not hold")
    time.sleep(0.01)
    repaired(store, read_before_the_repair, by="os:test")
    record_found(store, read_before_the_repair)
    assert [(d.position, d.repaired) for d in damaged(store)] == [(41, True)]
    time.sleep(0.01)
    record_found(store, DamagedEvent(read_before_the_repair.stream_id, 3, 41, "damaged again"))
    assert [(d.position, d.repaired, d.reason) for d in damaged(store)] == [(41, False, "damaged again")]


def test_a_repair_needs_the_event_pilar_wrote(settings, services, two_cases, events, store, catch_up, backup):
    catch_up()
    _, case = two_cases["wati"]
    bad = events.position(case, 3)
    with pytest.raises(CannotRepair, match="nothing to repair"):
        repair_event(settings, bad, backup_url=backup(), by="os:test")
    flip_last_byte(events, bad)
    damaged_too = backup()  # taken after the damage
    with pytest.raises(CannotRepair, match="carries no MAC that holds"):
        repair_event(settings, bad, backup_url=damaged_too, by="os:test")
    with pytest.raises(CannotRepair, match="no SQLite backup at"):
        repair_event(settings, bad, backup_url=f"sqlite:///{settings.instance_path}/none.db", by="os:test")
    refused = run(settings, "projections", "repair", str(bad), "--from", damaged_too)
    assert refused.returncode == 1 and "is not put back" in refused.stderr
    assert events.row(bad)[3] != b"" and status(settings).damaged == []


# ----------------------------------------------------------------------------- export
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_lists_a_damaged_event_as_damaged(fmt, services, service, two_cases, events, store):
    _, case = two_cases["wati"]
    bad = events.position(case, 2)
    events.set_state(bad, GARBAGE)
    out = __import__("io").StringIO()
    assert write(entries(service, store), out, fmt) == events.head()
    out.seek(0)
    items = [json.loads(line) for line in out] if fmt == "jsonl" else list(read_csv(out))
    marked = [item for item in items if item.get("damaged")]
    assert [(m["position"], m["data"]) for m in marked] == [(bad, None)]
    assert "do not decode" in marked[0]["damaged"]


def test_a_quarantined_event_cannot_be_repaired_later(settings, services, two_cases, events, store, backup):
    kept = backup()
    _, case = two_cases["wati"]
    bad = events.position(case, 3)
    flip_last_byte(events, bad)
    with Running(settings) as process:
        wait_for(lambda: process.state == "stuck")
        quarantine_event(settings, bad, reason="no backup yet", by="os:test")
        wait_for(lambda: process.state == "active" and views_position(store) == events.head())
    # Its seal, made since, vouches for the damaged bytes as they are: putting others back would break it.
    with pytest.raises(CannotRepair, match="is quarantined"):
        repair_event(settings, bad, backup_url=kept, by="os:test")
    assert [d.quarantined for d in damaged(store)] == [True]


def test_a_case_read_from_its_snapshot_still_answers_and_its_history_shows_the_damage(
        services, two_cases, events, client, auth):
    _, case = two_cases["wati"]
    h = auth("wati")
    for n in range(50):  # a snapshot is taken at version 50
        assert client.post(f"{API}/cases/{case}/aid", json=factories.aid(value_idr=1000 + n),
                           headers=h).status_code == 200
    bad = events.position(case, 3)
    flip_last_byte(events, bad)
    assert client.get(f"{API}/cases/{case}", headers=h).status_code == 200
    history = client.get(f"{API}/cases/{case}/history?limit=5", headers=h)
    assert history.status_code == 200
    assert [item.get("damaged") is not None for item in history.json["items"]] == [False, False, True, False, False]
