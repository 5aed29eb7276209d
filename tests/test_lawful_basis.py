"""Every case records its lawful basis (UU PDP Pasal 20), the consent rules answer 409 through the
API, the pillars' defaults come from PILAR_LAWFUL_BASIS, and cases opened before bases were
recorded still load (and are judged as public_task)."""

from dataclasses import replace
from datetime import date
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import StoredEvent

from pilar.bootstrap import bootstrap
from pilar.cases import event_mac, lawful_basis
from pilar.cases.case import Case
from pilar.cases.presenters import case_view
from pilar.settings import Settings
from testkit import factories

API = "/api/v1"
CONSENT = {"given_by": "herself", "method": "thumbprint", "purpose": "case work by the pillars"}


def _person(client, headers) -> str:
    response = client.post(f"{API}/beneficiaries", json=factories.person(), headers=headers)
    assert response.status_code == 201, response.json
    return response.json["id"]


def _open(client, headers, person_id, **overrides):
    return client.post(f"{API}/cases", json=factories.case(person_id, **overrides), headers=headers)


def test_a_case_shows_its_basis_and_the_consent_rules_answer_409(client, auth):
    wati = auth("wati")
    person_id = _person(client, wati)
    opened = _open(client, wati, person_id)
    assert client.get(f"{API}/cases/{opened.json['id']}", headers=wati).json["lawful_basis"] == "public_task"

    refused = _open(client, wati, person_id, lawful_basis="consent")
    assert refused.status_code == 409 and refused.json["rule"] == "consent_required"
    assert _open(client, wati, person_id, lawful_basis="whim").status_code == 422

    assert client.post(f"{API}/beneficiaries/{person_id}/consent", json=CONSENT, headers=wati).status_code == 200
    case_id = _open(client, wati, person_id, lawful_basis="consent").json["id"]
    assert client.get(f"{API}/cases/{case_id}", headers=wati).json["lawful_basis"] == "consent"
    assert client.post(f"{API}/cases/{case_id}/assessments", json=factories.assessment(), headers=wati).status_code == 200

    withdrawn = client.post(f"{API}/beneficiaries/{person_id}/consent/withdrawal", json={"reason": "no more"},
                            headers=wati)
    assert withdrawn.status_code == 200
    for path, body in (("assessments", factories.assessment()), ("aid", factories.aid()),
                       ("follow-ups", factories.follow_up())):
        answer = client.post(f"{API}/cases/{case_id}/{path}", json=body, headers=wati)
        assert answer.status_code == 409 and answer.json["rule"] == "consent_withdrawn", (path, answer.json)
    assert client.get(f"{API}/cases/{case_id}", headers=wati).status_code == 200  # reading goes on
    closed = client.post(f"{API}/cases/{case_id}/closure", json={"outcome": "declined_service"}, headers=wati)
    assert closed.status_code == 200
    # The public-task case of the same person goes on.
    assert client.post(f"{API}/cases/{opened.json['id']}/assessments", json=factories.assessment(),
                       headers=wati).status_code == 200


def test_a_coordinator_changes_a_case_basis_with_a_reason(client, auth):
    case_id = _open(client, auth("wati"), _person(client, auth("wati"))).json["id"]
    body = {"lawful_basis": "vital_interest", "reason": "flood: life at risk"}
    assert client.post(f"{API}/cases/{case_id}/lawful-basis", json=body, headers=auth("wati")).status_code == 403
    assert client.post(f"{API}/cases/{case_id}/lawful-basis", json=body, headers=auth("sri")).status_code == 200
    again = client.post(f"{API}/cases/{case_id}/lawful-basis", json=body, headers=auth("sri"))
    assert again.status_code == 409 and again.json["rule"] == "lawful_basis_changes_something"
    assert client.get(f"{API}/cases/{case_id}", headers=auth("sri")).json["lawful_basis"] == "vital_interest"
    history = client.get(f"{API}/cases/{case_id}/history", headers=auth("inspektur")).json["items"]
    assert history[-1]["type"] == "LawfulBasisChanged"


def test_an_erasure_request_is_recorded_once_and_shown_on_the_person(client, auth):
    person_id = _person(client, auth("wati"))
    path = f"{API}/beneficiaries/{person_id}/erasure-request"
    assert client.post(path, json={"reason": "asked at the desa office"}, headers=auth("wati")).status_code == 200
    again = client.post(path, json={"reason": "again"}, headers=auth("wati"))
    assert again.status_code == 409 and again.json["rule"] == "erasure_requested_once"
    assert client.post(path, json={"reason": "x"}, headers=auth("inspektur")).status_code == 403
    assert client.get(f"{API}/beneficiaries/{person_id}", headers=auth("wati")).json["erasure_requested_at"]


# ---------------------------------------------------------------- the pillars' defaults
def test_the_setting_names_each_pillar_default_and_refuses_what_it_cannot_read():
    read = Settings.from_env({"PILAR_LAWFUL_BASIS": " tagana=vital_interest, psm=consent "})
    assert dict(read.lawful_bases) == {"tagana": "vital_interest", "psm": "consent"}
    assert Settings.from_env({}).lawful_bases == ()
    for bad in ("tagana=whim", "nopillar=consent", "tagana", "psm=consent,psm=public_task"):
        with pytest.raises(ValueError, match="PILAR_LAWFUL_BASIS") as info:
            Settings.from_env({"PILAR_LAWFUL_BASIS": bad})
        assert "pillar=basis" in str(info.value)
    assert lawful_basis.default_for("pkh", {"tagana": "vital_interest"}) == "public_task"


def test_a_case_opened_without_a_basis_takes_its_pillar_default(settings, services, staff):
    configured = bootstrap(replace(settings, lawful_bases=(("pkh", "consent"), ("tksk", "vital_interest"))))
    try:
        app, wati, joko = configured.cases, staff["wati"], staff["joko"]
        body = factories.person()
        person = app.register_beneficiary(wati, nik=body["nik"], name=body["name"], sex=body["sex"],
                                          birth_date=date.fromisoformat(body["birth_date"]),
                                          desa_code=body["desa_code"]).id
        case = factories.case(str(person))
        opening = dict(beneficiary_id=person, referral=case["referral"], categories=case["categories"],
                       priority="normal")
        with pytest.raises(Exception, match="consent_required"):
            app.open_case(wati, pillar="pkh", **opening)
        assert app.get_case(joko, app.open_case(joko, pillar="tksk", **opening).id).lawful_basis == "vital_interest"
        chosen = app.open_case(wati, pillar="pkh", lawful_basis="public_task", **opening).id
        assert app.get_case(wati, chosen).lawful_basis == "public_task"
    finally:
        configured.close()


# ---------------------------------------------------------------- cases opened before bases were recorded
def _without_basis(service, stored: StoredEvent) -> StoredEvent:
    """The stored event as an older Pilar wrote it: no lawful_basis field (and no MAC)."""
    state = service.mapper.transcoder.decode(event_mac.payload(stored.state))
    del state["lawful_basis"]
    return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                       topic=stored.topic, state=service.mapper.transcoder.encode(state))


def test_an_older_case_opened_event_loads_as_not_recorded_and_is_judged_public_task(service, staff, client, auth):
    wati = staff["wati"]
    case_id = _open(client, auth("wati"), _person(client, auth("wati"))).json["id"]
    stored = service.recorder.select_events(UUID(case_id))
    older = _without_basis(service, stored[0])
    with service.mapper.key_scope():
        event = service.mapper.to_domain_event(older)
    assert isinstance(event, Case.CaseOpened) and event.lawful_basis is None
    assert event.referral["reason"] == factories.case("x")["referral"]["reason"]  # its free text still opens
    case = event.mutate(None)
    assert case.lawful_basis is None and case_view(case, date.today())["lawful_basis"] is None
    assert lawful_basis.for_rules(case.lawful_basis) == "public_task"
    assert not lawful_basis.needs_consent(case.lawful_basis)
    lawful_basis.check(case.lawful_basis, "withdrawn", "assessment")  # no consent rule: nothing raised
    assert service.get_case(wati, case.id).lawful_basis == "public_task"  # the stored (new) one is untouched


def test_a_snapshot_taken_before_bases_were_recorded_loads_as_not_recorded(service, staff, client, auth):
    case_id = _open(client, auth("wati"), _person(client, auth("wati"))).json["id"]
    with service.mapper.key_scope():
        case = service.repository.get(UUID(case_id))
    snapshot = Snapshot.take(case)
    del snapshot.state["lawful_basis"]
    loaded = snapshot.mutate(None)
    assert loaded.lawful_basis is None and loaded.pillar == "pkh"
