"""The API's errors in the client's language (pilar/web/api_messages.py): English `code`, `rule` and
`errors` always; `message` in Indonesian from the pages' catalogue when Accept-Language asks for
it, English otherwise. On SQLite and PostgreSQL."""

import pytest
from babel.messages.mofile import read_mo

from testkit import factories
from pilar.web import HERE

API = "/api/v1"
ID = {"Accept-Language": "id"}


BODY = factories.person()


@pytest.fixture
def person(client, auth):
    return client.post(f"{API}/beneficiaries", json=BODY, headers=auth("wati")).json["id"]


def _catalogue() -> dict[str, str]:
    with open(HERE / "translations" / "id" / "LC_MESSAGES" / "messages.mo", "rb") as f:
        return {m.id: m.string for m in read_mo(f) if isinstance(m.id, str) and m.id}


def test_field_problems_in_indonesian_with_english_codes_and_fields(client, auth, staff):
    body = {**factories.person(), "desa_code": "99.99"}
    english = client.post(f"{API}/beneficiaries", json=body, headers=auth("wati"))
    indonesian = client.post(f"{API}/beneficiaries", json=body, headers=auth("wati", **ID))
    assert english.status_code == indonesian.status_code == 422
    assert english.json["message"] == "Some fields are not valid: see errors."
    assert indonesian.json["message"] == "Beberapa isian tidak sah: lihat errors."
    assert indonesian.json["errors"] == english.json["errors"] and indonesian.json["status"] == "Unprocessable Entity"
    assert "Accept-Language" in indonesian.headers["Vary"]
    # The schema's own 422 (a field missing) too.
    missing = client.post(f"{API}/beneficiaries", json={}, headers=auth("wati", **{"Accept-Language": "id-ID,en;q=0.5"}))
    assert missing.status_code == 422 and missing.json["message"] == "Beberapa isian tidak sah: lihat errors."


def test_forbidden_not_found_stale_and_rules_in_indonesian(client, auth, staff, person):
    catalogue = _catalogue()
    forbidden = client.get(f"{API}/audit/access-log", headers=auth("wati", **ID))
    assert forbidden.status_code == 403
    assert forbidden.json["message"] == catalogue["Your role, pillar or kecamatan does not allow this."]
    missing = client.get(f"{API}/beneficiaries/00000000-0000-4000-8000-000000000000", headers=auth("wati", **ID))
    assert missing.status_code == 404 and missing.json["message"] == catalogue["There is no such record."]
    stale = client.post(f"{API}/beneficiaries/{person}/consent/withdrawal", json={"reason": "x"},
                        headers=auth("wati", **ID, **{"If-Match": '"7"'}))
    assert stale.status_code == 412 and stale.json["message"].startswith("Data ini berubah setelah Anda membacanya")
    rule = client.post(f"{API}/beneficiaries/{person}/consent/withdrawal", json={"reason": "x"},
                       headers=auth("wati", **ID))
    assert rule.status_code == 409 and rule.json["rule"] == "consent_withdrawn_after_given"
    assert rule.json["message"] == catalogue["The record's state does not allow this now: see rule."]
    closed = client.post(f"{API}/cases", json=factories.case(person), headers=auth("wati"))
    case = closed.json["id"]
    client.post(f"{API}/cases/{case}/closure", json={"outcome": "graduated", "note": ""}, headers=auth("wati"))
    known = client.post(f"{API}/cases/{case}/follow-ups", json=factories.follow_up(), headers=auth("wati", **ID))
    assert known.status_code == 409 and known.json["rule"] == "case_closed"
    assert known.json["message"] == catalogue["The case is closed; only reopening is accepted."]
    duplicate = client.post(f"{API}/beneficiaries", json=BODY, headers=auth("wati", **ID))
    assert duplicate.status_code == 409 and duplicate.json["message"] == "NIK ini sudah terdaftar untuk orang lain."
    assert duplicate.json["rule"] == "nik_unique" and duplicate.json["existing_id"] == person
    unauthenticated = client.get(f"{API}/cases", headers=ID)
    assert unauthenticated.status_code == 401 and unauthenticated.json["message"].startswith("Masuk dulu")


def test_english_by_default_and_when_asked(client, auth, staff):
    for headers in ({}, {"Accept-Language": "en-US,en"}, {"Accept-Language": "fr"}):
        answer = client.get(f"{API}/beneficiaries/00000000-0000-4000-8000-000000000000", headers=auth("wati", **headers))
        assert answer.json["message"].endswith("not found")
