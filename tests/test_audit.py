"""Auditors: histories, past moments, tamper evidence, the feed and exports, the access log."""

import io
import json
import time
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

import pytest

from pilar.audit.export import entries, read_csv, write
from pilar.audit.seals import verify
from pilar.store.connection import ViewDB
from testkit import factories

API = "/api/v1"


def _register_and_open(client, auth, who="wati"):
    person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth(who)).json["id"]
    case = client.post(f"{API}/cases", json=factories.case(person), headers=auth(who)).json["id"]
    return person, case


def _story(client, auth):
    """A case with assessment, two aids, a follow-up done, a referral declined: 7 events."""
    person, case = _register_and_open(client, auth)
    h = auth("wati")
    client.post(f"{API}/cases/{case}/assessments", json=factories.assessment(), headers=h)
    client.post(f"{API}/cases/{case}/aid", json=factories.aid(), headers=h)
    client.post(f"{API}/cases/{case}/aid", json=factories.aid(item="paket perawatan diri", value_idr=150000), headers=h)
    follow_up = client.post(f"{API}/cases/{case}/follow-ups", json=factories.follow_up(), headers=h).json
    client.post(f"{API}/cases/{case}/follow-ups/{follow_up['follow_up_id']}/completion",
                json={"outcome": "improved", "notes": "ok"}, headers=h)
    return person, case


@pytest.fixture
def store(settings):
    conn = ViewDB(settings.store).connect()
    yield conn
    conn.close()


def test_case_history_lists_every_event_with_actor_time_and_chained_hash(client, auth, catch_up):
    _, case = _story(client, auth)
    catch_up()
    history = client.get(f"{API}/cases/{case}/history", headers=auth("inspektur"))
    assert history.status_code == 200
    items = history.json["items"]
    assert [i["type"] for i in items] == ["CaseOpened", "NeedsAssessed", "AidGiven", "AidGiven",
                                          "FollowUpScheduled", "FollowUpCompleted"]
    assert [i["version"] for i in items] == [1, 2, 3, 4, 5, 6]
    assert [i["position"] for i in items] == sorted(i["position"] for i in items)
    assert {i["actor"] for i in items} == {"wati"}
    assert all(i["hash"] and len(i["hash"]) == 64 for i in items)
    assert len({i["hash"] for i in items}) == 6
    assert items[2]["data"]["value_idr"] == 300000 and items[2]["data"]["given_on"] == date.today().isoformat()
    assert datetime.fromisoformat(items[0]["at"]).tzinfo is not None

    first = client.get(f"{API}/cases/{case}/history?limit=4", headers=auth("inspektur")).json
    assert [i["version"] for i in first["items"]] == [1, 2, 3, 4] and first["next_after_version"] == 4
    rest = client.get(f"{API}/cases/{case}/history?after_version=4&limit=4", headers=auth("inspektur")).json
    assert [i["version"] for i in rest["items"]] == [5, 6] and rest["next_after_version"] is None

    assert client.get(f"{API}/cases/{case}/history", headers=auth("wati")).status_code == 200
    assert client.get(f"{API}/cases/{case}/history", headers=auth("joko")).status_code == 403
    assert client.get(f"{API}/cases/{UUID(int=1)}/history", headers=auth("inspektur")).status_code == 404
    assert client.get(f"{API}/cases/{case}/history?limit=0", headers=auth("inspektur")).status_code == 422


def test_beneficiary_history(client, auth, catch_up):
    person, case = _register_and_open(client, auth)
    client.post(f"{API}/beneficiaries/{person}/consent",
                json={"given_by": "herself", "method": "written", "purpose": "case work"}, headers=auth("wati"))
    history = client.get(f"{API}/beneficiaries/{person}/history", headers=auth("inspektur")).json
    assert [i["type"] for i in history["items"]] == ["BeneficiaryRegistered", "CaseLinked", "ConsentRecorded"]
    assert history["items"][1]["data"]["case_id"] == case
    assert history["items"][0]["hash"] is None  # not sealed until the projection process passes


def test_as_of_and_version_match_a_hand_built_expectation(client, auth, service):
    _, case = _register_and_open(client, auth)
    expected = []  # (instant just after the write, version, status, number of aid records)
    h = auth("wati")
    steps = [("assessments", factories.assessment())] + [("aid", factories.aid(value_idr=1000 * n)) for n in range(12)]
    steps += [("follow-ups", factories.follow_up()) for _ in range(6)]
    steps += [("closure", {"outcome": "graduated", "note": ""}), ("reopening", {"reason": "again"})]
    for n, (path, body) in enumerate(steps):
        answer = client.post(f"{API}/cases/{case}/{path}", json=body, headers=h).json
        time.sleep(0.002)
        expected.append((datetime.now(timezone.utc), answer["version"]))
    history = client.get(f"{API}/cases/{case}/history?limit=1000", headers=auth("inspektur")).json["items"]
    assert len(history) == 1 + len(steps)

    for instant, version in expected:
        state = client.get(f"{API}/cases/{case}", query_string={"as_of": instant.isoformat()},
                           headers=auth("inspektur")).json
        assert state["version"] == version
        by_version = client.get(f"{API}/cases/{case}?version={version}", headers=auth("inspektur")).json
        assert by_version == state
    at_aid_5 = client.get(f"{API}/cases/{case}?version=7", headers=auth("inspektur")).json
    assert len(at_aid_5["aid"]) == 5 and at_aid_5["status"] == "aided"
    # Exactly at an event's time: that event is included; just before the first: nothing yet.
    second = datetime.fromisoformat(history[1]["at"])
    assert client.get(f"{API}/cases/{case}", query_string={"as_of": second.isoformat()},
                      headers=auth("inspektur")).json["version"] == 2
    first = datetime.fromisoformat(history[0]["at"])
    before = client.get(f"{API}/cases/{case}", query_string={"as_of": (first - timedelta(microseconds=1)).isoformat()},
                        headers=auth("inspektur"))
    assert before.status_code == 404
    closed = [s for s in history if s["type"] == "CaseClosed"][0]
    at_close = client.get(f"{API}/cases/{case}", query_string={"as_of": closed["at"]}, headers=auth("inspektur")).json
    assert at_close["status"] == "closed"


def test_views_as_of_a_past_instant_leave_the_live_views_alone(client, auth, catch_up):
    cases = [_register_and_open(client, auth)[1] for _ in range(3)]
    time.sleep(0.01)
    moment = datetime.now(timezone.utc)
    time.sleep(0.01)
    client.post(f"{API}/cases/{cases[0]}/closure", json={"outcome": "moved_away", "note": ""}, headers=auth("wati"))
    catch_up()
    live_before = client.get(f"{API}/workloads/pkh", headers=auth("inspektur")).json
    past = client.get(f"{API}/audit/views", query_string={"as_of": moment.isoformat()}, headers=auth("inspektur"))
    assert past.status_code == 200
    pkh = [p for p in past.json["pillars"] if p["pillar"] == "pkh"][0]
    assert pkh["open_cases"] == 3 and pkh["closed_this_month"] == 0
    assert live_before["open_cases"] == 2
    assert client.get(f"{API}/workloads/pkh", headers=auth("inspektur")).json == live_before
    assert client.get(f"{API}/audit/views?as_of=2026-01-01T00:00:00", headers=auth("inspektur")).status_code == 422
    assert client.get(f"{API}/audit/views?as_of={moment.isoformat()}".replace("+", "%2B"),
                      headers=auth("sri")).status_code == 403


# ---------------------------------------------------------------------- tamper evidence
def _events_table(store) -> tuple[str, str, callable]:
    if store.kind == "sqlite":
        return "stored_events", "rowid", lambda u: u.hex
    return "pilar_events", "notification_id", lambda u: u


def _sealed_story(client, auth, catch_up):
    _, case = _story(client, auth)
    _register_and_open(client, auth)
    catch_up()
    return UUID(case)


def _verify(service, store, settings):
    return verify(service.recorder, store, settings.audit_key())


def test_untouched_history_verifies_clean(client, auth, catch_up, service, store, settings):
    _sealed_story(client, auth, catch_up)
    result = _verify(service, store, settings)
    assert result.ok and result.checked == service.recorder.max_notification_id() and result.unsealed == 0
    answer = client.get(f"{API}/audit/verify", headers=auth("inspektur")).json
    assert answer["ok"] is True and answer["first_break"] is None
    assert client.get(f"{API}/audit/verify", headers=auth("wati")).status_code == 403
    _register_and_open(client, auth)
    later = _verify(service, store, settings)
    assert later.ok and later.unsealed == 4  # written after the last seal: reported, not broken


def test_an_edited_event_is_named(client, auth, catch_up, service, store, settings):
    case = _sealed_story(client, auth, catch_up)
    table, position_column, key = _events_table(store)
    if store.kind == "sqlite":
        store.execute(f"UPDATE {table} SET state = CAST(replace(CAST(state AS TEXT), '300000', '900000') AS BLOB) "
                      "WHERE originator_id = ? AND originator_version = 3", (key(case),))
    else:
        # The stored bytes begin with a MAC (binary), so they are edited as bytes.
        store.execute(f"UPDATE {table} SET state = overlay(state placing '9'::bytea from "
                      "position('300000'::bytea in state) for 1) WHERE originator_id = %s AND originator_version = 3",
                      (key(case),))
    result = _verify(service, store, settings)
    (broken,) = result.breaks
    assert (broken.kind, broken.stream_id, broken.version) == ("edited", str(case), 3)
    answer = client.get(f"{API}/audit/verify", headers=auth("inspektur")).json
    assert answer["ok"] is False and answer["first_break"]["stream_id"] == str(case)
    assert answer["first_break"]["version"] == 3


def test_a_deleted_stream_tail_is_named(client, auth, catch_up, service, store, settings):
    case = _sealed_story(client, auth, catch_up)
    table, position_column, key = _events_table(store)
    store.execute(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 6", (key(case),))
    broken = _verify(service, store, settings).breaks[0]
    assert (broken.kind, broken.stream_id, broken.version) == ("missing_event", str(case), 6)


def test_a_deleted_whole_stream_is_named(client, auth, catch_up, service, store, settings):
    case = _sealed_story(client, auth, catch_up)
    table, position_column, key = _events_table(store)
    store.execute(f"DELETE FROM {table} WHERE originator_id = ?", (key(case),))
    broken = _verify(service, store, settings).breaks[0]
    assert (broken.kind, broken.stream_id, broken.version) == ("missing_event", str(case), 1)


def test_two_swapped_positions_are_named(client, auth, catch_up, service, store, settings):
    case = _sealed_story(client, auth, catch_up)
    table, column, key = _events_table(store)
    a, b = [row[0] for row in store.all(
        f"SELECT {column} FROM {table} WHERE originator_id = ? AND originator_version IN (2, 3) ORDER BY 1",
        (key(case),))]
    with store.transaction():
        store.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (-1, a))
        store.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (a, b))
        store.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (b, -1))
    broken = _verify(service, store, settings).breaks[0]
    assert broken.kind in ("reordered", "stream_gap") and broken.stream_id == str(case) and broken.position == a


def test_rewritten_seals_are_caught_without_the_audit_key(client, auth, catch_up, service, store, settings):
    case = _sealed_story(client, auth, catch_up)
    table, _, key = _events_table(store)
    store.execute(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 6", (key(case),))
    store.execute("DELETE FROM audit_seals WHERE stream_id = ? AND version = 6", (str(case),))
    broken = _verify(service, store, settings).breaks[0]
    assert broken.kind == "seal_chain"


def test_cli_verify_exits_1_on_a_break(client, auth, catch_up, service, store, settings):
    from tests.test_cli import run

    case = _sealed_story(client, auth, catch_up)
    assert run(settings, "audit", "verify").returncode == 0
    table, _, key = _events_table(store)
    store.execute(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 6", (key(case),))
    broken = run(settings, "audit", "verify")
    assert broken.returncode == 1 and str(case) in broken.stderr and "version 6" in broken.stderr


# ---------------------------------------------------------------------- feed and exports
def test_feed_is_ordered_and_pages_stably(client, auth, catch_up, service):
    _story(client, auth)
    catch_up()
    head = service.recorder.max_notification_id()
    seen, after = [], 0
    while True:
        page = client.get(f"{API}/events?after={after}&limit=5", headers=auth("inspektur")).json
        if not page["items"]:
            break
        seen += page["items"]
        after = page["next_after"]
    assert [i["position"] for i in seen] == sorted({i["position"] for i in seen})
    assert seen[-1]["position"] == head == page["head"]
    users = [i for i in seen if i["stream_type"] == "UserAccount"]
    assert users and all(i["data"]["password_hash"] == "[redacted]" for i in users)
    assert client.get(f"{API}/events", headers=auth("dinsos")).status_code == 403
    assert client.get(f"{API}/events?limit=5000", headers=auth("inspektur")).status_code == 422


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_round_trips_and_matches_the_feed(fmt, client, auth, catch_up, service, store):
    _story(client, auth)
    catch_up()
    feed = client.get(f"{API}/events?limit=1000", headers=auth("inspektur")).json["items"]
    out = io.StringIO()
    count = write(entries(service, store, batch_size=7), out, fmt)
    assert count == len(feed)
    out.seek(0)
    back = [json.loads(line) for line in out] if fmt == "jsonl" else list(read_csv(out))
    assert back == feed
    window = list(entries(service, store, from_position=feed[3]["position"], to_position=feed[9]["position"]))
    assert [i["position"] for i in window] == [i["position"] for i in feed[4:10]]


def test_cli_export_streams_to_a_file(client, auth, catch_up, settings, tmp_path):
    from tests.test_cli import run

    _story(client, auth)
    catch_up()
    target = tmp_path / "events.csv"
    done = run(settings, "audit", "export", "--format", "csv", "--output", str(target), "--from", "2")
    assert done.returncode == 0, done.stderr
    with target.open() as lines:
        rows = list(read_csv(lines))
    assert rows[0]["position"] == 3 and "exported" in done.stderr
    bad = run(settings, "audit", "export", "--from", "yesterday")
    assert bad.returncode == 2 and "--from" in bad.stderr


# ---------------------------------------------------------------------- access log
def test_every_read_of_personal_data_is_logged_for_auditors(client, auth, catch_up):
    person, case = _register_and_open(client, auth)
    client.get(f"{API}/cases/{case}", headers=auth("agus"))
    client.get(f"{API}/beneficiaries/{person}", headers=auth("agus"))
    client.get(f"{API}/cases/{case}/history", headers=auth("inspektur"))
    client.get(f"{API}/beneficiaries/{person}/history", headers=auth("inspektur"))
    nik = client.get(f"{API}/beneficiaries/{person}", headers=auth("wati")).json["nik"]
    client.post(f"{API}/beneficiaries/search", json={"nik": nik}, headers=auth("sri"))

    log = client.get(f"{API}/audit/access-log?user=agus", headers=auth("inspektur")).json
    assert {(i["action"], i["case_id"], i["beneficiary_id"]) for i in log["items"]} == {
        ("read_case", case, person), ("read_beneficiary", None, person)}
    about_person = client.get(f"{API}/audit/access-log?beneficiary_id={person}", headers=auth("inspektur")).json
    assert {i["username"] for i in about_person["items"]} == {"agus", "inspektur", "wati", "sri"}
    assert {i["action"] for i in about_person["items"]} >= {"read_case_history", "read_beneficiary_history",
                                                            "find_beneficiary_by_nik"}
    about_case = client.get(f"{API}/audit/access-log?case_id={case}", headers=auth("inspektur")).json
    assert all(i["case_id"] == case for i in about_case["items"]) and about_case["total"] == 2
    assert client.get(f"{API}/audit/access-log", headers=auth("sri")).status_code == 403
    assert client.get(f"{API}/audit/access-log?case_id=nope", headers=auth("inspektur")).status_code == 422
