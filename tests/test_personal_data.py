"""Personal data is encrypted at rest per person, and erasure destroys the key (UU PDP)."""

from datetime import date

from pilar.cases.beneficiary import Beneficiary
from testkit import factories

API = "/api/v1"


def _register(service, actor, **overrides):
    body = factories.person(**overrides)
    person = service.register_beneficiary(
        actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
        sex=body["sex"], desa_code=body["desa_code"], kk=body["kk"], address=body["address"], phone=body["phone"])
    return person.id, body


def _stored(service, person_id) -> bytes:
    return b"".join(event.state for event in service.recorder.select_events(person_id))


def test_personal_fields_are_never_stored_in_clear(service, staff):
    person_id, body = _register(service, staff["wati"], name="Mbah Painem Rahasia")
    service.correct_beneficiary(staff["wati"], person_id, changes={"name": "Mbah Painem Benar"}, reason="typo")
    service.record_consent(staff["wati"], person_id, given_by="Pak Kadus Saksi", method="oral_witnessed",
                           purpose="case work")
    stored = _stored(service, person_id)
    for secret in (body["nik"], body["kk"], "Rahasia", "Painem Benar", "Kadus Saksi", body["address"], body["phone"]):
        assert secret.encode() not in stored, secret
    person = service.get_beneficiary(staff["wati"], person_id)
    assert (person.nik, person.name, person.consent["given_by"]) == (body["nik"], "Mbah Painem Benar", "Pak Kadus Saksi")
    assert person.desa_code == body["desa_code"]  # where someone lives (a desa) is not secret: the views need it


def test_erasure_makes_history_unreadable_but_still_verifiable(service, staff, client, auth, catch_up):
    person_id, body = _register(service, staff["wati"])
    # Dinas Sosial reads identifiers in clear (an auditor without pii would see them masked).
    history = client.get(f"{API}/beneficiaries/{person_id}/history", headers=auth("dinsos")).json["items"]
    assert history[0]["data"]["nik"] == body["nik"]

    assert client.post(f"{API}/beneficiaries/{person_id}/erasure", json={"reason": "she asked"},
                       headers=auth("sri")).status_code == 200
    catch_up()
    history = client.get(f"{API}/beneficiaries/{person_id}/history", headers=auth("dinsos")).json["items"]
    registered = history[0]["data"]
    assert registered["nik"] is None and registered["name"] is None and registered["birth_date"] is None
    assert registered["desa_code"] == body["desa_code"]
    assert client.get(f"{API}/audit/verify", headers=auth("inspektur")).json["ok"] is True
    again = client.post(f"{API}/beneficiaries", json=body, headers=auth("wati"))
    assert again.status_code == 201 and again.json["id"] != str(person_id)


def test_the_projection_process_finishes_an_interrupted_erasure(service, staff, catch_up):
    person_id, body = _register(service, staff["wati"])
    person = service.repository.get(person_id)
    person.erase_personal_data(actor="sri", reason="asked", keys=[person_id])
    service.save(person)  # as if the server died before destroying the key
    assert service.personal_keys.get(person_id) is not None
    catch_up()
    assert service.personal_keys.get(person_id) is None
    assert service.repository.get(person_id).nik is None
    registered = next(e for e in service.events.get(person_id) if isinstance(e, Beneficiary.BeneficiaryRegistered))
    assert registered.name is None


def test_taking_personal_fields_from_a_detached_copy_leaves_the_event_as_it_was():
    """Encryption takes the personal fields out of a copy of the event's state; the copy shares
    what take() never writes to (pilar/cases/personal_fields.py detached), so nothing else may move."""
    from pilar.cases.personal_fields import detached, take

    state = {"state": {"follow_ups": [{"purpose": "visit Bu Sri", "due_on": "2027-01-03"}, {"purpose": None}],
                       "referral": {"reason": "lansia", "source": "musdes"}, "pillar": "pkh"}, "id": "x"}
    before = repr(state)
    paths = [("state", "follow_ups", "*", "purpose"), ("state", "referral", "reason"), ("state", "closure_note",)]
    copy = detached(state, paths)
    assert take(copy, paths) == {"state.follow_ups.0.purpose": "visit Bu Sri", "state.referral.reason": "lansia"}
    assert repr(state) == before
    assert copy["state"]["follow_ups"][0] == {"purpose": None, "due_on": "2027-01-03"}
    assert copy["state"]["referral"] == {"reason": None, "source": "musdes"}
    assert copy["id"] == "x" and copy["state"]["pillar"] == "pkh"
