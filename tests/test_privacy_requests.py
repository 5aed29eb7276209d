"""GET /privacy/requests and `pilar privacy requests`: consent withdrawals and erasure requests
against UU PDP's 3×24 h, open ones first by deadline (so the overdue first), with whether each
was fulfilled; from a view that a rebuild reproduces, scoped like the people's cases."""

from datetime import datetime, timedelta

from pilar.cases import clock
from pilar.projections.maintenance import check
from pilar.store.connection import ViewDB
from testkit import factories
from tests.test_cli import run

API = "/api/v1"
CONSENT = {"given_by": "herself", "method": "thumbprint", "purpose": "case work by the pillars"}


def _person(client, headers, name="Mbah Sainem") -> str:
    return client.post(f"{API}/beneficiaries", json=factories.person(name=name), headers=headers).json["id"]


def _views(settings):
    import contextlib

    return contextlib.closing(ViewDB(settings.store).connect())


def _requests(client, headers, query=""):
    answer = client.get(f"{API}/privacy/requests{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def _story(client, auth):
    """Three people with pkh cases: a withdrawal, an erasure request, and a request already met."""
    wati, sri = auth("wati"), auth("sri")
    withdrew, asked, erased = (_person(client, wati, name) for name in ("Mbah Withdrew", "Mbah Asked", "Mbah Erased"))
    for person in (withdrew, asked, erased):
        assert client.post(f"{API}/cases", json=factories.case(person), headers=wati).status_code == 201
    client.post(f"{API}/beneficiaries/{withdrew}/consent", json=CONSENT, headers=wati)
    client.post(f"{API}/beneficiaries/{withdrew}/consent/withdrawal", json={"reason": "no more"}, headers=wati)
    client.post(f"{API}/beneficiaries/{asked}/erasure-request", json={"reason": "asked"}, headers=wati)
    client.post(f"{API}/beneficiaries/{erased}/erasure-request", json={"reason": "asked"}, headers=wati)
    assert client.post(f"{API}/beneficiaries/{erased}/erasure", json={"reason": "request met"},
                       headers=sri).status_code == 200
    return withdrew, asked, erased


def test_requests_are_listed_open_first_by_deadline_with_the_72_hour_duty(client, auth, catch_up, monkeypatch):
    withdrew, asked, erased = _story(client, auth)
    catch_up()
    listed = _requests(client, auth("sri"))
    assert [(i["beneficiary_id"], i["kind"], i["status"]) for i in listed["items"]] == [
        (withdrew, "consent_withdrawn", "open"), (asked, "erasure_requested", "open"),
        (erased, "erasure_requested", "erased")]
    first, second, met = listed["items"]
    requested = datetime.fromisoformat(first["requested_at"])
    assert datetime.fromisoformat(first["deadline"]) - requested == timedelta(hours=72)
    assert not first["overdue"] and not first["fulfilled"] and first["in_time"] is None
    assert met["fulfilled"] and met["in_time"] and met["resolved_at"] and not met["overdue"]
    assert [i["name"] for i in listed["items"]] == ["Mbah Withdrew", "Mbah Asked", None]  # erased: no name left

    # Between the two deadlines only the first is overdue; past both, both are, the earliest first.
    between = datetime.fromisoformat(first["deadline"]) + (datetime.fromisoformat(second["deadline"]) -
                                                            datetime.fromisoformat(first["deadline"])) / 2
    monkeypatch.setattr(clock, "now_utc", lambda: between)
    assert [i["overdue"] for i in _requests(client, auth("sri"))["items"]] == [True, False, False]
    monkeypatch.setattr(clock, "now_utc", lambda: requested + timedelta(days=4))
    overdue = _requests(client, auth("sri"), "?overdue=true")
    assert [i["beneficiary_id"] for i in overdue["items"]] == [withdrew, asked] and overdue["total"] == 2
    assert [i["beneficiary_id"] for i in _requests(client, auth("sri"), "?status=erased")["items"]] == [erased]


def test_consent_given_again_answers_a_withdrawal_but_not_an_erasure_request(client, auth, catch_up):
    wati = auth("wati")
    person = _person(client, wati)
    client.post(f"{API}/beneficiaries/{person}/consent", json=CONSENT, headers=wati)
    client.post(f"{API}/beneficiaries/{person}/consent/withdrawal", json={"reason": "no more"}, headers=wati)
    catch_up()  # the withdrawal and its answer in different batches
    client.post(f"{API}/beneficiaries/{person}/erasure-request", json={"reason": "asked"}, headers=wati)
    client.post(f"{API}/beneficiaries/{person}/consent", json=CONSENT, headers=wati)
    catch_up()
    items = _requests(client, auth("dinsos"))["items"]
    assert [(i["kind"], i["status"]) for i in items] == [("erasure_requested", "open"),
                                                          ("consent_withdrawn", "consent_renewed")]


def test_coordinators_see_their_pillars_people_auditors_all_without_names(client, auth, catch_up):
    _story(client, auth)
    joko = auth("joko")
    other = _person(client, joko, "Mbah Tksk")
    client.post(f"{API}/cases", json=factories.case(other, pillar="tksk"), headers=joko)
    client.post(f"{API}/beneficiaries/{other}/erasure-request", json={"reason": "asked"}, headers=joko)
    catch_up()
    assert other not in {i["beneficiary_id"] for i in _requests(client, auth("sri"))["items"]}
    everyone = _requests(client, auth("dinsos"))
    assert other in {i["beneficiary_id"] for i in everyone["items"]} and everyone["total"] == 4
    audited = _requests(client, auth("inspektur"))
    assert audited["total"] == 4 and {i["name"] for i in audited["items"]} == {None}
    for who in ("wati", "root"):
        assert client.get(f"{API}/privacy/requests", headers=auth(who)).status_code == 403
    assert client.get(f"{API}/privacy/requests").status_code == 401


def test_the_view_holds_no_personal_data_and_a_rebuild_reproduces_it(client, auth, catch_up, settings, service):
    _story(client, auth)
    catch_up()
    assert check(settings) == (service.recorder.max_notification_id(), [])
    with _views(settings) as conn:
        rows = conn.all("SELECT * FROM view_privacy_requests")
    assert len(rows) == 3 and not any("Mbah" in str(value) or "asked" == value for row in rows for value in row)


def test_the_cli_prints_the_requests_overdue_first(settings, client, auth, catch_up):
    withdrew, asked, erased = _story(client, auth)
    catch_up()
    printed = run(settings, "privacy", "requests")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert lines[0].startswith("3 request(s)")
    assert [line.split()[4] for line in lines[1:]] == [withdrew, asked, erased]
    assert "Mbah" not in printed.stdout
    assert run(settings, "privacy", "requests", "--status", "erased").stdout.count("\n") == 2


def test_a_lawful_basis_setting_it_cannot_read_stops_the_cli_with_its_message(settings):
    from dataclasses import replace

    printed = run(replace(settings, lawful_bases=(("tagana", "whim"),)), "privacy", "requests")
    assert printed.returncode == 1 and "PILAR_LAWFUL_BASIS: cannot read 'tagana=whim'" in printed.stderr


def test_a_kecamatan_scoped_coordinator_lists_the_people_of_their_kecamatan(client, auth, service, catch_up):
    """Donorojo's PKH coordinator sees the requests of people who live in Donorojo (a move there by
    a correction included) or have a case there, not those of Pacitan's people; the unscoped PKH
    coordinator sees them all."""
    from pilar.cases.access import SYSTEM
    from testkit.fixtures import PASSWORD

    service.add_user(SYSTEM, "rina", "supervisor", "pkh", PASSWORD, kecamatan=("35.01.01",))
    wati = auth("wati")
    lives_there = client.post(f"{API}/beneficiaries", headers=wati, json=factories.person(
        name="Mbah Donorojo", desa_code="35.01.01.2001")).json["id"]
    pacitan = _person(client, wati, "Mbah Pacitan")
    client.post(f"{API}/cases", json=factories.case(pacitan), headers=wati)
    case_there = _person(client, wati, "Mbah Kasus Donorojo")
    assert client.post(f"{API}/cases", json=factories.case(case_there, desa_code="35.01.01.2001"),
                       headers=wati).status_code == 201
    moved = _person(client, wati, "Mbah Pindah")
    assert client.post(f"{API}/beneficiaries/{moved}/corrections", headers=wati, json={
        "changes": {"desa_code": "35.01.01.2001"}, "reason": "pindah ke Donorojo"}).status_code == 200
    for person in (lives_there, pacitan, case_there, moved):
        assert client.post(f"{API}/beneficiaries/{person}/erasure-request", json={"reason": "asked"},
                           headers=wati).status_code == 200
    catch_up()
    scoped = _requests(client, auth("rina"))
    assert {i["beneficiary_id"] for i in scoped["items"]} == {lives_there, case_there, moved}
    assert scoped["total"] == 3
    assert {i["beneficiary_id"] for i in _requests(client, auth("sri"))["items"]} == {
        lives_there, pacitan, case_there, moved}
