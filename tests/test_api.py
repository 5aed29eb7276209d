"""The HTTP API (SPEC §5) through Flask's test client: every endpoint's success and each error
it documents. Every rejected request is checked to have appended nothing to the store."""

import json
import re
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import URLSafeTimedSerializer

from pilar.api import is_api_request
from testkit import factories

API = "/api/v1"
TODAY = date.today()
MISSING = object()



# ---------------------------------------------------------------- helpers
@contextmanager
def nothing_appended(service):
    before = service.recorder.max_notification_id()
    yield
    assert service.recorder.max_notification_id() == before, "a rejected request appended events"


def rejected(service, call, status: int):
    """Run `call()`; the answer has `status`, the standard error shape, and appended nothing."""
    with nothing_appended(service):
        response = call()
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == status and body["message"], body
    return body


def assert_field_named(body: dict, field: str, location: str = "json") -> None:
    assert field in body["errors"][location], body["errors"]


def register(client, auth, user="wati", **overrides) -> str:
    response = client.post(f"{API}/beneficiaries", json=factories.person(**overrides), headers=auth(user))
    assert response.status_code == 201, response.json
    return response.json["id"]


def open_case(client, auth, user="wati", beneficiary_id=None, **overrides) -> str:
    beneficiary_id = beneficiary_id or register(client, auth, user)
    response = client.post(f"{API}/cases", json=factories.case(beneficiary_id, **overrides), headers=auth(user))
    assert response.status_code == 201, response.json
    return response.json["id"]


def write(client, auth, path, body, user="wati", status=200, **headers):
    response = client.post(f"{API}{path}", json=body, headers=auth(user, **headers))
    assert response.status_code == status, response.json
    assert response.headers["ETag"] == f'"{response.json["version"]}"'
    return response.json


def get_case(client, auth, case_id, user="wati", **query):
    response = client.get(f"{API}/cases/{case_id}", query_string=query, headers=auth(user))
    assert response.status_code == 200, response.json
    return response.json


# ================================================================ authentication
def test_token_for_good_credentials(client, staff):
    response = client.post(f"{API}/auth/token", json={"username": "joko", "password": "correct-horse-battery"})
    assert response.status_code == 200
    assert response.json["token"] and response.json["token_type"] == "Bearer"
    assert (response.json["role"], response.json["pillar"]) == ("worker", "tksk")


@pytest.mark.parametrize(
    "credentials, status, field",
    [
        ({"username": "joko", "password": "wrong-password"}, 401, None),
        ({"username": "nobody", "password": "correct-horse-battery"}, 401, None),
        ({"username": "joko"}, 422, "password"),
        ({"password": "correct-horse-battery"}, 422, "username"),
        ({"username": 7, "password": "correct-horse-battery"}, 422, "username"),
    ],
)
def test_token_refused(client, service, staff, credentials, status, field):
    body = rejected(service, lambda: client.post(f"{API}/auth/token", json=credentials), status)
    assert "token" not in body
    if field:
        assert_field_named(body, field)


def _other_key_token() -> str:
    return URLSafeTimedSerializer("not-the-key", salt="pilar-api-token").dumps({"u": "wati", "p": "x"})


@pytest.mark.parametrize(
    "authorization",
    [MISSING, "", "Bearer", "Bearer ", "Bearer not-a-token", "Basic d2F0aTpjb3JyZWN0LWhvcnNl", "Token abc",
     "other-key"],
)
def test_401_without_or_with_a_bad_token(client, auth, service, authorization):
    case_id = open_case(client, auth)
    beneficiary_id = get_case(client, auth, case_id)["beneficiary_id"]
    headers = {}
    if authorization == "other-key":
        headers["Authorization"] = f"Bearer {_other_key_token()}"
    elif authorization is not MISSING:
        headers["Authorization"] = authorization
    calls = [
        lambda: client.post(f"{API}/beneficiaries", json=factories.person(), headers=headers),
        lambda: client.get(f"{API}/beneficiaries/{beneficiary_id}", headers=headers),
        lambda: client.post(f"{API}/beneficiaries/search", json={"nik": "3501041403500001"}, headers=headers),
        lambda: client.post(f"{API}/cases", json=factories.case(beneficiary_id), headers=headers),
        lambda: client.get(f"{API}/cases/{case_id}", headers=headers),
        lambda: client.post(f"{API}/cases/{case_id}/assessments", json=factories.assessment(), headers=headers),
        lambda: client.post(f"{API}/cases/{uuid.uuid4()}/closure", json={"outcome": "other"}, headers=headers),
    ]
    for call in calls:
        with nothing_appended(service):
            response = call()
        assert response.status_code == 401, response.json
        assert response.json["code"] == 401 and response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_401_for_a_token_of_an_unknown_user(client, app, service, staff):
    with app.app_context():
        token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="pilar-api-token").dumps(
            {"u": "ghost", "p": "x"})
    rejected(service, lambda: client.post(f"{API}/beneficiaries", json=factories.person(),
                                          headers={"Authorization": f"Bearer {token}"}), 401)


def test_a_token_is_refused_once_it_expires_even_after_it_was_accepted(client, app, service, auth, monkeypatch):
    import time

    headers = auth("wati")
    assert client.get(f"{API}/workloads/pkh", headers=headers).status_code == 200
    later = time.time() + app.config["TOKEN_MAX_AGE"] + 1
    monkeypatch.setattr(time, "time", lambda: later)
    expired = client.get(f"{API}/workloads/pkh", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json["message"]


# ================================================================ beneficiaries
def test_register_and_read_a_beneficiary(client, auth):
    body = factories.person()
    response = client.post(f"{API}/beneficiaries", json=body, headers=auth("wati"))
    assert response.status_code == 201
    answer = response.json
    assert answer["version"] == 1 and answer["position"] > 0
    assert response.headers["ETag"] == '"1"'
    person = client.get(f"{API}/beneficiaries/{answer['id']}", headers=auth("agus")).json
    assert person["id"] == answer["id"] and person["version"] == 1
    for field in ("nik", "kk", "name", "birth_date", "sex", "desa_code", "address", "phone"):
        assert person[field] == body[field], field
    assert person["kecamatan_code"] == "35.01.04"
    assert person["registered_by"] == "wati" and person["cases"] == [] and person["consent"] is None
    # Optional fields may be left out.
    minimal = {k: v for k, v in factories.person().items() if k not in ("kk", "address", "phone")}
    response = client.post(f"{API}/beneficiaries", json=minimal, headers=auth("sri"))
    assert response.status_code == 201, response.json
    person = client.get(f"{API}/beneficiaries/{response.json['id']}", headers=auth("sri")).json
    assert (person["kk"], person["address"], person["phone"]) == (None, None, None)


def test_the_same_nik_again_is_409_with_the_existing_id(client, auth, service):
    body = factories.person()
    first = register(client, auth, nik=body["nik"])
    again = rejected(service, lambda: client.post(f"{API}/beneficiaries", json=factories.person(nik=body["nik"]),
                                                  headers=auth("joko")), 409)
    assert again["existing_id"] == first
    assert again["rule"] == "nik_unique"


FUTURE_BIRTH = TODAY + timedelta(days=400)
REGISTRATION_ERRORS = {
    "nik too short": ({"nik": "350104540350001"}, "nik"),
    "nik a number": ({"nik": 3501045403500001}, "nik"),
    "nik fullwidth digit": ({"nik": "350104540350000３"}, "nik"),
    "nik arabic-indic digit": ({"nik": "350104540350000\u0663"}, "nik"),
    "nik province 95": ({"nik": "9501045403500001"}, "nik"),
    "nik serial 0000": ({"nik": "3501045403500000"}, "nik"),
    "nik month 13": ({"nik": "3501045413500001"}, "nik"),
    "nik not the birth date": ({"nik": factories.nik_for(date(1950, 3, 15), "P")}, "nik"),
    "nik not the sex": ({"nik": factories.nik_for(date(1950, 3, 14), "L")}, "nik"),
    "nik missing": ({"nik": MISSING}, "nik"),
    "kk malformed": ({"kk": "35010412"}, "kk"),
    "kk province 10": ({"kk": "1001041203040005"}, "kk"),
    "name blank": ({"name": ""}, "name"),
    "name not a string": ({"name": 42}, "name"),
    "name null": ({"name": None}, "name"),
    "name missing": ({"name": MISSING}, "name"),
    "birth_date malformed": ({"birth_date": "14-03-1950"}, "birth_date"),
    "birth_date in the future": ({"birth_date": FUTURE_BIRTH.isoformat(),
                                  "nik": factories.nik_for(FUTURE_BIRTH, "P")}, "birth_date"),
    "sex unknown": ({"sex": "X"}, "sex"),
    "sex lowercase": ({"sex": "p"}, "sex"),
    "desa_code unknown": ({"desa_code": "35.01.04.9999"}, "desa_code"),
    "desa_code a kecamatan": ({"desa_code": "35.01.04"}, "desa_code"),
    "desa_code another regency": ({"desa_code": "35.02.01.2001"}, "desa_code"),
    "desa_code missing": ({"desa_code": MISSING}, "desa_code"),
    "phone not a number": ({"phone": "call the kades"}, "phone"),
    "address too long": ({"address": "x" * 501}, "address"),
    "unknown field": ({"religion": "islam"}, "religion"),
}


@pytest.mark.parametrize("overrides, field", REGISTRATION_ERRORS.values(), ids=REGISTRATION_ERRORS.keys())
def test_register_422_names_the_field(client, auth, service, overrides, field):
    body = factories.person()
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not MISSING}
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries", json=body, headers=auth("wati")), 422)
    assert_field_named(answer, field)


def test_look_up_by_nik_with_cases_across_pillars(client, auth, service):
    body = factories.person()
    person_id = register(client, auth, nik=body["nik"])
    pkh_case = open_case(client, auth, "wati", person_id)
    tksk_case = open_case(client, auth, "joko", person_id, pillar="tksk", categories=["odgj"])
    # Each reader sees the cases they may read in full, another pillar's as pillar, status and
    # dates only (no id, worker or categories); the auditor, without pii, a masked NIK.
    for user, readable, nik in (("wati", {"pkh"}, body["nik"]), ("joko", {"tksk"}, body["nik"]),
                                ("dinsos", {"pkh", "tksk"}, body["nik"]),
                                ("inspektur", {"pkh", "tksk"}, body["nik"][:4] + "*" * 10 + body["nik"][-2:])):
        with nothing_appended(service):
            found = client.post(f"{API}/beneficiaries/search", json={"nik": body["nik"]}, headers=auth(user))
        assert found.status_code == 200, found.json
        [person] = found.json["items"]
        assert person["id"] == person_id and person["nik"] == nik
        assert {(c.get("id"), c["pillar"], c["status"]) for c in person["cases"]} == {
            (pkh_case if "pkh" in readable else None, "pkh", "referred"),
            (tksk_case if "tksk" in readable else None, "tksk", "referred")}
        for case in person["cases"]:
            expected = {"id", "pillar", "status", "worker", "opened_at", "closed_at"}
            assert set(case) == (expected if case["pillar"] in readable else {"pillar", "status", "opened_at", "closed_at"})
    by_id = client.get(f"{API}/beneficiaries/{person_id}", headers=auth("joko")).json
    assert {c.get("id") for c in by_id["cases"]} == {None, tksk_case}

    unknown = client.post(f"{API}/beneficiaries/search", json={"nik": factories.person()["nik"]},
                          headers=auth("wati"))
    assert unknown.status_code == 200 and unknown.json == {"items": []}
    for bad in ("123", "3501045403500000", "350104540350000３", 3501041403500001, None):
        answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/search", json={"nik": bad},
                                                       headers=auth("wati")), 422)
        assert_field_named(answer, "nik")
    for missing in ({}, {"kk": body["nik"]}):
        answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/search", json=missing,
                                                       headers=auth("wati")), 422)
        assert_field_named(answer, "nik")
    rejected(service, lambda: client.post(f"{API}/beneficiaries/search", data="{", content_type="application/json",
                                          headers=auth("wati")), 400)
    rejected(service, lambda: client.post(f"{API}/beneficiaries/search", json={"nik": body["nik"]},
                                          headers=auth("root")), 403)
    rejected(service, lambda: client.get(f"{API}/beneficiaries/{person_id}", headers=auth("root")), 403)


def test_search_by_nik_is_a_read_that_ignores_idempotency_keys(client, auth, service):
    body = factories.person()
    person_id = register(client, auth, nik=body["nik"])
    for sent in ({"nik": body["nik"]}, {"nik": body["nik"]}, {"nik": factories.person()["nik"]}):
        with nothing_appended(service):
            found = client.post(f"{API}/beneficiaries/search", json=sent,
                                headers=auth("wati", **{"Idempotency-Key": "search-1"}))
        assert found.status_code == 200 and "Idempotent-Replayed" not in found.headers
        assert [p["id"] for p in found.json["items"]] == ([person_id] if sent["nik"] == body["nik"] else [])


def test_nik_in_the_url_is_refused_and_points_at_the_search(client, auth, service):
    body = factories.person()
    register(client, auth, nik=body["nik"])
    for query in ({"nik": body["nik"]}, {"nik": "123"}, {}):
        answer = rejected(service, lambda: client.get(f"{API}/beneficiaries", query_string=query,
                                                      headers=auth("wati")), 400)
        assert "POST /api/v1/beneficiaries/search" in answer["message"]
        assert body["nik"] not in json.dumps(answer)
    # Nothing was looked up.
    entries = client.get(f"{API}/audit/access-log?user=wati", headers=auth("inspektur")).json["items"]
    assert "find_beneficiary_by_nik" not in {i["action"] for i in entries}
    rejected(service, lambda: client.get(f"{API}/beneficiaries", query_string={"nik": body["nik"]}), 401)


def test_unknown_beneficiary_is_404(client, auth, service):
    unknown = uuid.uuid4()
    rejected(service, lambda: client.get(f"{API}/beneficiaries/{unknown}", headers=auth("wati")), 404)
    for path, body, user in [
        ("corrections", {"changes": {"name": "X"}, "reason": "typo"}, "wati"),
        ("consent", {"given_by": "her", "method": "written", "purpose": "case work"}, "wati"),
        ("consent/withdrawal", {"reason": "x"}, "wati"),
        ("erasure", {"reason": "x"}, "sri"),
    ]:
        rejected(service, lambda: client.post(f"{API}/beneficiaries/{unknown}/{path}", json=body,
                                              headers=auth(user)), 404)
    rejected(service, lambda: client.get(f"{API}/beneficiaries/not-a-uuid", headers=auth("wati")), 404)


def test_register_403_for_roles_that_do_not_handle_cases(client, auth, service):
    for user in ("inspektur", "root"):
        rejected(service, lambda: client.post(f"{API}/beneficiaries", json=factories.person(),
                                              headers=auth(user)), 403)


# ---------------------------------------------------------------- corrections
def test_correct_details(client, auth, service):
    person_id = register(client, auth, name="Mbah Sainem")
    path = f"/beneficiaries/{person_id}/corrections"
    answer = write(client, auth, path, {"changes": {"name": "Mbah Sainem Wiryo", "address": None},
                                        "reason": "spelling from the KTP"})
    assert answer["version"] == 2 and answer["changed"] == ["address", "name"]
    person = client.get(f"{API}/beneficiaries/{person_id}", headers=auth("wati")).json
    assert person["name"] == "Mbah Sainem Wiryo" and person["address"] is None

    answer = write(client, auth, path, {"changes": {"desa_code": "35.01.01.2001"}, "reason": "moved"}, user="sri")
    person = client.get(f"{API}/beneficiaries/{person_id}", headers=auth("wati")).json
    assert person["desa_code"] == "35.01.01.2001" and person["kecamatan_code"] == "35.01.01"

    # Nothing actually changes: a rule, not a write.
    body = rejected(service, lambda: client.post(f"{API}{path}", json={"changes": {"name": "Mbah Sainem Wiryo"},
                                                                        "reason": "x"}, headers=auth("wati")), 409)
    assert body["rule"] == "correction_changes_something"


def test_correct_the_nik_frees_the_old_one(client, auth, service):
    old = factories.person()
    person_id = register(client, auth, nik=old["nik"])
    new_birth = date(1951, 7, 2)
    new_nik = factories.nik_for(new_birth, "P")
    write(client, auth, f"/beneficiaries/{person_id}/corrections",
          {"changes": {"nik": new_nik, "birth_date": new_birth.isoformat()}, "reason": "KTP re-issued"})
    lookup = lambda nik: client.post(f"{API}/beneficiaries/search", json={"nik": nik}, headers=auth("wati")).json
    assert lookup(old["nik"]) == {"items": []}
    assert lookup(new_nik)["items"][0]["id"] == person_id
    assert register(client, auth, nik=old["nik"]) != person_id


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"changes": {}, "reason": "x"}, 422, "changes"),
        ({"changes": {"name": "X"}}, 422, "reason"),
        ({"reason": "x"}, 422, "changes"),
        ({"changes": {"name": None}, "reason": "x"}, 422, "changes"),
        ({"changes": {"kecamatan_code": "35.01.01"}, "reason": "x"}, 422, "changes"),
        ({"changes": {"nik": "123"}, "reason": "x"}, 422, "changes"),
        ({"changes": {"birth_date": "1950-03-15"}, "reason": "x"}, 422, "nik"),  # NIK says the 14th
        ({"changes": {"sex": "L"}, "reason": "x"}, 422, "nik"),  # NIK says a woman
        ({"changes": {"desa_code": "35.01.04"}, "reason": "x"}, 422, "desa_code"),
        ({"changes": {"name": "X"}, "reason": "x", "extra": 1}, 422, "extra"),
    ],
)
def test_correction_422_names_the_field(client, auth, service, body, status, field):
    person_id = register(client, auth)
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/{person_id}/corrections", json=body,
                                                   headers=auth("wati")), status)
    assert_field_named(answer, field)


def test_correct_to_a_nik_already_registered_is_409_with_its_holder(client, auth, service):
    other = factories.person()
    other_id = register(client, auth, nik=other["nik"])
    person_id = register(client, auth)
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/{person_id}/corrections",
                                                   json={"changes": {"nik": other["nik"]}, "reason": "x"},
                                                   headers=auth("wati")), 409)
    assert answer["existing_id"] == other_id


# ---------------------------------------------------------------- consent, withdrawal, erasure
def test_consent_and_its_withdrawal(client, auth, service):
    person_id = register(client, auth)
    base = f"/beneficiaries/{person_id}"
    body = rejected(service, lambda: client.post(f"{API}{base}/consent/withdrawal", json={"reason": "x"},
                                                 headers=auth("wati")), 409)
    assert body["rule"] == "consent_withdrawn_after_given"
    for bad, field in [({"given_by": "her", "method": "shout", "purpose": "p"}, "method"),
                       ({"given_by": "her", "method": "written"}, "purpose"),
                       ({"given_by": "", "method": "written", "purpose": "p"}, "given_by")]:
        answer = rejected(service, lambda: client.post(f"{API}{base}/consent", json=bad, headers=auth("wati")), 422)
        assert_field_named(answer, field)

    answer = write(client, auth, f"{base}/consent",
                   {"given_by": "Mbah Sainem", "method": "thumbprint", "purpose": "case work by the pillars"})
    assert answer["version"] == 2
    consent = client.get(f"{API}{base}", headers=auth("wati")).json["consent"]
    assert consent["status"] == "given" and consent["method"] == "thumbprint" and consent["recorded_by"] == "wati"
    # Timestamps are ISO 8601 like every other instant in the API.
    assert datetime.fromisoformat(consent["recorded_at"]).tzinfo is not None

    answer = rejected(service, lambda: client.post(f"{API}{base}/consent/withdrawal", json={},
                                                   headers=auth("wati")), 422)
    assert_field_named(answer, "reason")
    write(client, auth, f"{base}/consent/withdrawal", {"reason": "no longer wants the service"}, user="agus")
    consent = client.get(f"{API}{base}", headers=auth("wati")).json["consent"]
    assert consent["status"] == "withdrawn" and consent["withdrawn_by"] == "agus"
    assert consent["withdrawal_reason"] == "no longer wants the service"
    assert datetime.fromisoformat(consent["withdrawn_at"]).tzinfo is not None


def test_erasure_by_a_supervisor_frees_the_nik(client, auth, service):
    body = factories.person()
    person_id = register(client, auth, nik=body["nik"])
    case_id = open_case(client, auth, beneficiary_id=person_id)
    for user in ("wati", "inspektur", "root"):
        rejected(service, lambda: client.post(f"{API}/beneficiaries/{person_id}/erasure", json={"reason": "x"},
                                              headers=auth(user)), 403)
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/{person_id}/erasure", json={},
                                                   headers=auth("sri")), 422)
    assert_field_named(answer, "reason")

    write(client, auth, f"/beneficiaries/{person_id}/erasure", {"reason": "asked, UU PDP"}, user="sri")
    person = client.get(f"{API}/beneficiaries/{person_id}", headers=auth("wati")).json
    for field in ("nik", "kk", "name", "birth_date", "sex", "address", "phone"):
        assert person[field] is None, field
    assert person["erased_at"] is not None
    assert [c["id"] for c in person["cases"]] == [case_id]  # the case work itself remains
    assert client.post(f"{API}/beneficiaries/search", json={"nik": body["nik"]},
                       headers=auth("wati")).json == {"items": []}

    # Erased is final.
    for path, user, req in [("erasure", "sri", {"reason": "again"}),
                            ("corrections", "wati", {"changes": {"name": "X"}, "reason": "x"}),
                            ("consent", "wati", {"given_by": "x", "method": "written", "purpose": "x"})]:
        answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/{person_id}/{path}", json=req,
                                                       headers=auth(user)), 409)
        assert answer["rule"] == "erased_is_final"

    again = register(client, auth, nik=body["nik"])
    assert again != person_id
    found = client.post(f"{API}/beneficiaries/search", json={"nik": body["nik"]}, headers=auth("wati")).json
    assert [p["id"] for p in found["items"]] == [again]


# ---------------------------------------------------------------- who changes a person (policy.write_beneficiary)
PERSON_WRITES = {
    "corrections": {"changes": {"name": "Mbah Sainem Wiryo"}, "reason": "spelling from the KTP"},
    "consent": {"given_by": "Mbah Sainem", "method": "thumbprint", "purpose": "case work"},
    "consent/withdrawal": {"reason": "no longer wants the service"},
    "erasure": {"reason": "asked, UU PDP"},
}


def refused_person_write(client, auth, service, person_id, path, user, **headers):
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries/{person_id}/{path}", json=PERSON_WRITES[path],
                                                   headers=auth(user, **headers)), 403)
    assert "pkh" not in answer["message"] and "tksk" not in answer["message"]  # not allowed, and no more
    return answer


def test_another_pillars_worker_changes_nothing_of_a_person(client, auth, service):
    person_id = register(client, auth)
    open_case(client, auth, beneficiary_id=person_id)  # with PKH
    write(client, auth, f"/beneficiaries/{person_id}/consent", PERSON_WRITES["consent"])  # withdrawable
    for path in PERSON_WRITES:  # each would otherwise succeed; a stale If-Match still gets only 403
        answer = refused_person_write(client, auth, service, person_id, path, "joko", **{"If-Match": '"1"'})
        if path != "erasure":  # a worker never erases: refused by role first
            assert "holds or held a case of this person, in their kecamatan, or Dinas Sosial" in answer["message"]


def test_the_holding_pillar_corrects_and_consents_and_its_supervisor_erases(client, auth, service):
    person_id = register(client, auth)
    open_case(client, auth, beneficiary_id=person_id)  # with PKH
    for path in ("corrections", "consent", "consent/withdrawal"):
        write(client, auth, f"/beneficiaries/{person_id}/{path}", PERSON_WRITES[path], user="agus")
    answer = refused_person_write(client, auth, service, person_id, "erasure", "wati")
    assert answer["message"] == "only supervisors erase personal data"
    write(client, auth, f"/beneficiaries/{person_id}/erasure", PERSON_WRITES["erasure"], user="sri")


def test_dinas_sosial_erases_anyone_a_pillar_supervisor_only_its_own(client, auth, service):
    person_id = register(client, auth, user="joko")
    open_case(client, auth, user="joko", beneficiary_id=person_id, pillar="tksk")
    refused_person_write(client, auth, service, person_id, "erasure", "sri")
    write(client, auth, f"/beneficiaries/{person_id}/corrections", PERSON_WRITES["corrections"], user="dinsos")
    write(client, auth, f"/beneficiaries/{person_id}/erasure", PERSON_WRITES["erasure"], user="dinsos")


def test_a_person_with_no_case_yet_is_any_pillars(client, auth, service):
    person_id = register(client, auth, user="wati")
    write(client, auth, f"/beneficiaries/{person_id}/corrections", PERSON_WRITES["corrections"], user="joko")
    write(client, auth, f"/beneficiaries/{person_id}/consent", PERSON_WRITES["consent"], user="joko")
    refused_person_write(client, auth, service, person_id, "erasure", "joko")
    write(client, auth, f"/beneficiaries/{person_id}/erasure", PERSON_WRITES["erasure"], user="sri")


def test_a_referral_brings_in_the_receiving_pillar_and_the_sender_keeps_its_part(client, auth, service):
    person_id = register(client, auth)
    case_id = open_case(client, auth, beneficiary_id=person_id)
    correct = lambda user, name: write(client, auth, f"/beneficiaries/{person_id}/corrections",  # noqa: E731
                                       {"changes": {"name": name}, "reason": "x"}, user=user)
    refused_person_write(client, auth, service, person_id, "corrections", "joko")
    rid = write(client, auth, f"/cases/{case_id}/referrals", {"to_pillar": "tksk", "reason": "x"})["referral_id"]
    correct("joko", "Asked While Pending")  # a pending referral asks TKSK in: it reads the case already
    write(client, auth, f"/cases/{case_id}/referrals/{rid}/acceptance", {}, user="joko")
    correct("joko", "Holds Now")
    correct("wati", "Held Before")
    # A declined referral brings no one in.
    other_id = register(client, auth)
    other_case = open_case(client, auth, beneficiary_id=other_id)
    rid = write(client, auth, f"/cases/{other_case}/referrals", {"to_pillar": "tksk", "reason": "x"})["referral_id"]
    write(client, auth, f"/cases/{other_case}/referrals/{rid}/decline", {"reason": "not ours"}, user="joko")
    refused_person_write(client, auth, service, other_id, "corrections", "joko")


# ================================================================ cases
def test_open_and_read_a_case(client, auth):
    person_id = register(client, auth)
    response = client.post(f"{API}/cases", json=factories.case(person_id), headers=auth("wati"))
    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"' and response.json["version"] == 1
    case_id = response.json["id"]
    read = client.get(f"{API}/cases/{case_id}", headers=auth("agus"))
    assert read.status_code == 200 and read.headers["ETag"].startswith('"1.')  # the version, then a digest
    case = read.json
    assert case["id"] == case_id and case["beneficiary_id"] == person_id
    assert (case["status"], case["pillar"], case["priority"], case["worker"]) == ("referred", "pkh", "high", None)
    assert case["categories"] == ["lansia_terlantar", "fakir_miskin"]
    assert case["desa_code"] == "35.01.04.1001" and case["kecamatan_code"] == "35.01.04"
    assert case["referral"]["source"] == "musdes"
    assert case["assessment"] is None and case["aid"] == [] and case["follow_ups"] == []
    assert case["next_follow_up_due"] is None and case["overdue"] is False and case["pending_referral"] is None
    assert case["closed_at"] is None and case["outcome"] is None
    # Priority defaults to normal; the desa may differ from the person's.
    body = factories.case(person_id, desa_code="35.01.01.2001")
    del body["priority"]
    other = client.post(f"{API}/cases", json=body, headers=auth("wati")).json["id"]
    case = get_case(client, auth, other)
    assert case["priority"] == "normal" and case["kecamatan_code"] == "35.01.01"


OPEN_CASE_ERRORS = {
    "pillar unknown": ({"pillar": "dinas"}, "pillar"),
    "pillar missing": ({"pillar": MISSING}, "pillar"),
    "categories empty": ({"categories": []}, "categories"),
    "categories unknown": ({"categories": ["miskin"]}, "categories"),
    "categories a string": ({"categories": "fakir_miskin"}, "categories"),
    "categories repeated": ({"categories": ["odgj", "odgj"]}, "categories"),
    "priority unknown": ({"priority": "asap"}, "priority"),
    "referral missing": ({"referral": MISSING}, "referral"),
    "referral source unknown": ({"referral": {"source": "facebook", "referred_by": "x", "reason": "y"}},
                                "referral"),
    "referral reason missing": ({"referral": {"source": "hotline", "referred_by": "x"}}, "referral"),
    "referral unknown field": ({"referral": {"source": "hotline", "referred_by": "x", "reason": "y", "z": 1}},
                               "referral"),
    "beneficiary_id not a uuid": ({"beneficiary_id": "42"}, "beneficiary_id"),
    "beneficiary_id unknown": ({"beneficiary_id": str(uuid.uuid4())}, "beneficiary_id"),
    "desa_code unknown": ({"desa_code": "35.01.04.9999"}, "desa_code"),
    "unknown field": ({"status": "aided"}, "status"),
}


@pytest.mark.parametrize("overrides, field", OPEN_CASE_ERRORS.values(), ids=OPEN_CASE_ERRORS.keys())
def test_open_case_422_names_the_field(client, auth, service, overrides, field):
    body = factories.case(register(client, auth))
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not MISSING}
    answer = rejected(service, lambda: client.post(f"{API}/cases", json=body, headers=auth("wati")), 422)
    assert_field_named(answer, field)


def test_open_case_403_outside_the_pillar_or_role(client, auth, service):
    person_id = register(client, auth)
    for user, pillar in [("joko", "pkh"), ("wati", "tksk"), ("sri", "tksk"), ("inspektur", "pkh"), ("root", "pkh")]:
        rejected(service, lambda: client.post(f"{API}/cases", json=factories.case(person_id, pillar=pillar),
                                              headers=auth(user)), 403)


def test_every_case_write_in_turn(client, auth):
    case_id = open_case(client, auth)
    base = f"/cases/{case_id}"
    assert write(client, auth, f"{base}/assignment", {"worker": "agus"}, user="sri")["version"] == 2
    assert write(client, auth, f"{base}/assessments", factories.assessment())["version"] == 3
    assert write(client, auth, f"{base}/aid", factories.aid(component="accessibility", item="motor roda tiga",
                                                             value_idr=25_000_000, funding_source="csr"))["version"] == 4
    answer = write(client, auth, f"{base}/follow-ups", factories.follow_up())
    fid = answer["follow_up_id"]
    assert answer["version"] == 5
    assert write(client, auth, f"{base}/follow-ups/{fid}/completion", {"outcome": "improved"})["version"] == 6
    closed = write(client, auth, f"{base}/closure", {"outcome": "graduated", "note": "mandiri"})
    reopened = write(client, auth, f"{base}/reopening", {"reason": "lost income again"})
    assert reopened["version"] == closed["version"] + 1 == 8
    assert reopened["position"] > closed["position"]

    case = get_case(client, auth, case_id)
    assert case["version"] == 8 and case["worker"] == "agus" and case["status"] == "aided"
    assert case["assessment"]["risk"] == "high" and case["assessment"]["desil"] == {"value": 1, "period": "2026Q3"}
    assert case["aid"][0]["item"] == "motor roda tiga" and case["aid"][0]["value_idr"] == 25_000_000
    assert case["follow_ups"][0]["outcome"] == "improved" and case["follow_ups"][0]["notes"] == ""
    assert case["reopenings"][0]["previous_outcome"] == "graduated"


def test_next_follow_up_due_and_overdue(client, auth):
    case_id = open_case(client, auth)
    soon = write(client, auth, f"/cases/{case_id}/follow-ups",
                 factories.follow_up(due_on=(TODAY + timedelta(days=3)).isoformat()))["follow_up_id"]
    write(client, auth, f"/cases/{case_id}/follow-ups", factories.follow_up(due_on=(TODAY + timedelta(days=9)).isoformat()))
    case = get_case(client, auth, case_id)
    assert case["next_follow_up_due"] == (TODAY + timedelta(days=3)).isoformat() and case["overdue"] is False
    write(client, auth, f"/cases/{case_id}/follow-ups/{soon}/completion", {"outcome": "stable", "notes": "ok"})
    assert get_case(client, auth, case_id)["next_follow_up_due"] == (TODAY + timedelta(days=9)).isoformat()


def _case_with_everything(client, auth):
    """A pkh case, assessed, with a follow-up and a referral to tksk pending."""
    case_id = open_case(client, auth)
    write(client, auth, f"/cases/{case_id}/assessments", factories.assessment())
    fid = write(client, auth, f"/cases/{case_id}/follow-ups", factories.follow_up())["follow_up_id"]
    rid = write(client, auth, f"/cases/{case_id}/referrals", {"to_pillar": "tksk", "reason": "needs a TKSK"})[
        "referral_id"]
    return case_id, fid, rid


CASE_WRITE_ERRORS = {
    "assignment worker missing": ("assignment", {}, "sri", "worker"),
    "assignment worker of another pillar": ("assignment", {"worker": "joko"}, "sri", "worker"),
    "assignment a supervisor": ("assignment", {"worker": "sri"}, "dinsos", "worker"),
    "assignment nobody": ("assignment", {"worker": "nobody"}, "sri", "worker"),
    "assessment needs empty": ("assessments", factories.assessment(needs=[]), "wati", "needs"),
    "assessment needs unknown": ("assessments", factories.assessment(needs=["money"]), "wati", "needs"),
    "assessment risk unknown": ("assessments", factories.assessment(risk="extreme"), "wati", "risk"),
    "assessment desil 11": ("assessments", factories.assessment(desil={"value": 11, "period": "2026Q3"}), "wati",
                            "desil"),
    "assessment desil 0": ("assessments", factories.assessment(desil={"value": 0, "period": "2026Q3"}), "wati",
                           "desil"),
    "assessment desil a string": ("assessments", factories.assessment(desil={"value": "1", "period": "2026Q3"}),
                                  "wati", "desil"),
    "assessment desil a boolean": ("assessments", factories.assessment(desil={"value": True, "period": "2026Q3"}),
                                   "wati", "desil"),
    "assessment desil period": ("assessments", factories.assessment(desil={"value": 2, "period": "2026-09"}),
                                "wati", "desil"),
    "assessment summary missing": ("assessments", {"needs": ["care"], "risk": "low"}, "wati", "summary"),
    "assessment unknown field": ("assessments", factories.assessment(status="assessed"), "wati", "status"),
    "aid component unknown": ("aid", factories.aid(component="cash"), "wati", "component"),
    "aid quantity 0": ("aid", factories.aid(quantity=0), "wati", "quantity"),
    "aid quantity a string": ("aid", factories.aid(quantity="1"), "wati", "quantity"),
    "aid quantity a fraction": ("aid", factories.aid(quantity=1.5), "wati", "quantity"),
    "aid quantity a boolean": ("aid", factories.aid(quantity=True), "wati", "quantity"),
    "aid value negative": ("aid", factories.aid(value_idr=-1), "wati", "value_idr"),
    "aid value a fraction": ("aid", factories.aid(value_idr=300000.5), "wati", "value_idr"),
    "aid value too large": ("aid", factories.aid(value_idr=10**13 + 1), "wati", "value_idr"),
    "aid funding unknown": ("aid", factories.aid(funding_source="bank"), "wati", "funding_source"),
    "aid given_on in the future": ("aid", factories.aid(given_on=(TODAY + timedelta(days=2)).isoformat()), "wati",
                                   "given_on"),
    "aid given_on malformed": ("aid", factories.aid(given_on="yesterday"), "wati", "given_on"),
    "aid item missing": ("aid", {k: v for k, v in factories.aid().items() if k != "item"}, "wati", "item"),
    "aid unit empty": ("aid", factories.aid(unit=""), "wati", "unit"),
    "aid given_on over ten years ago": ("aid", factories.aid(given_on="1026-11-28"), "wati", "given_on"),
    "follow-up due_on over a year ago": ("follow-ups", factories.follow_up(
        due_on=(TODAY - timedelta(days=400)).isoformat()), "wati", "due_on"),
    "follow-up due_on over five years ahead": ("follow-ups", factories.follow_up(
        due_on=(TODAY + timedelta(days=6 * 366)).isoformat()), "wati", "due_on"),
    "follow-up due_on missing": ("follow-ups", {"purpose": "visit"}, "wati", "due_on"),
    "follow-up purpose empty": ("follow-ups", factories.follow_up(purpose=""), "wati", "purpose"),
    "completion outcome unknown": ("follow-ups/{fid}/completion", {"outcome": "great"}, "wati", "outcome"),
    "completion outcome missing": ("follow-ups/{fid}/completion", {"notes": "x"}, "wati", "outcome"),
    "referral to_pillar unknown": ("referrals", {"to_pillar": "dinsos", "reason": "x"}, "wati", "to_pillar"),
    "referral reason missing": ("referrals", {"to_pillar": "psm"}, "wati", "reason"),
    "acceptance with a field": ("referrals/{rid}/acceptance", {"note": "ok"}, "joko", "note"),
    "decline reason missing": ("referrals/{rid}/decline", {}, "joko", "reason"),
    "closure outcome unknown": ("closure", {"outcome": "solved"}, "wati", "outcome"),
    "closure note too long": ("closure", {"outcome": "other", "note": "x" * 2001}, "wati", "note"),
    "reopening reason missing": ("reopening", {}, "wati", "reason"),
}


@pytest.mark.parametrize("path, body, user, field", CASE_WRITE_ERRORS.values(), ids=CASE_WRITE_ERRORS.keys())
def test_case_write_422_names_the_field(client, auth, service, path, body, user, field):
    case_id, fid, rid = _case_with_everything(client, auth)
    url = f"{API}/cases/{case_id}/" + path.format(fid=fid, rid=rid)
    answer = rejected(service, lambda: client.post(url, json=body, headers=auth(user)), 422)
    assert_field_named(answer, field)


def test_case_404s(client, auth, service):
    case_id, fid, rid = _case_with_everything(client, auth)
    unknown = uuid.uuid4()
    rejected(service, lambda: client.get(f"{API}/cases/{unknown}", headers=auth("wati")), 404)
    rejected(service, lambda: client.get(f"{API}/cases/not-a-uuid", headers=auth("wati")), 404)
    for path, body in [("assignment", {"worker": "wati"}), ("assessments", factories.assessment()),
                       ("aid", factories.aid()), ("follow-ups", factories.follow_up()),
                       (f"follow-ups/{fid}/completion", {"outcome": "stable"}),
                       ("referrals", {"to_pillar": "tksk", "reason": "x"}),
                       (f"referrals/{rid}/acceptance", {}), (f"referrals/{rid}/decline", {"reason": "x"}),
                       ("closure", {"outcome": "other"}), ("reopening", {"reason": "x"})]:
        rejected(service, lambda: client.post(f"{API}/cases/{unknown}/{path}", json=body, headers=auth("wati")), 404)
    # A beneficiary id is not a case id.
    beneficiary_id = get_case(client, auth, case_id)["beneficiary_id"]
    rejected(service, lambda: client.get(f"{API}/cases/{beneficiary_id}", headers=auth("wati")), 404)
    rejected(service, lambda: client.post(f"{API}/cases/{case_id}/follow-ups/{uuid.uuid4()}/completion",
                                          json={"outcome": "stable"}, headers=auth("wati")), 404)
    rejected(service, lambda: client.post(f"{API}/cases/{case_id}/referrals/{uuid.uuid4()}/acceptance",
                                          json={}, headers=auth("joko")), 404)
    rejected(service, lambda: client.post(f"{API}/cases/{case_id}/referrals/{uuid.uuid4()}/decline",
                                          json={"reason": "x"}, headers=auth("joko")), 404)


def test_case_403s(client, auth, service):
    case_id = open_case(client, auth)
    write(client, auth, f"/cases/{case_id}/assessments", factories.assessment())
    # A worker of another pillar neither reads nor writes the case; nor does the admin; the auditor only reads.
    for user in ("joko", "root"):
        rejected(service, lambda: client.get(f"{API}/cases/{case_id}", headers=auth(user)), 403)
    assert client.get(f"{API}/cases/{case_id}", headers=auth("inspektur")).status_code == 200
    for user in ("joko", "root", "inspektur"):
        for path, body in [("assignment", {"worker": user}), ("assessments", factories.assessment()),
                           ("aid", factories.aid()), ("follow-ups", factories.follow_up()),
                           ("referrals", {"to_pillar": "psm", "reason": "x"}), ("closure", {"outcome": "other"})]:
            rejected(service, lambda: client.post(f"{API}/cases/{case_id}/{path}", json=body, headers=auth(user)),
                     403)
    # A worker assigns the case only to themselves.
    rejected(service, lambda: client.post(f"{API}/cases/{case_id}/assignment", json={"worker": "agus"},
                                          headers=auth("wati")), 403)
    write(client, auth, f"/cases/{case_id}/assignment", {"worker": "wati"})


def test_rule_violations_are_409_naming_the_rule(client, auth, service):
    def refused(path, body, rule, user="wati"):
        answer = rejected(service, lambda: client.post(f"{API}/cases/{case_id}/{path}", json=body,
                                                       headers=auth(user)), 409)
        assert answer["rule"] == rule, answer

    case_id = open_case(client, auth)
    refused("aid", factories.aid(), "aid_needs_assessment")
    refused("reopening", {"reason": "x"}, "reopen_only_closed")
    refused("referrals", {"to_pillar": "pkh", "reason": "x"}, "referral_to_other_pillar")
    fid = write(client, auth, f"/cases/{case_id}/follow-ups", factories.follow_up())["follow_up_id"]
    write(client, auth, f"/cases/{case_id}/follow-ups/{fid}/completion", {"outcome": "stable"})
    refused(f"follow-ups/{fid}/completion", {"outcome": "worse"}, "follow_up_completes_once")
    rid = write(client, auth, f"/cases/{case_id}/referrals", {"to_pillar": "tksk", "reason": "x"})["referral_id"]
    refused("referrals", {"to_pillar": "psm", "reason": "y"}, "one_pending_referral")
    refused(f"referrals/{rid}/acceptance", {}, "only_receiving_pillar")
    refused(f"referrals/{rid}/decline", {"reason": "x"}, "only_receiving_pillar", user="sri")
    write(client, auth, f"/cases/{case_id}/referrals/{rid}/decline", {"reason": "not ours"}, user="joko")
    refused(f"referrals/{rid}/decline", {"reason": "again"}, "referral_answered_once", user="joko")
    refused(f"referrals/{rid}/acceptance", {}, "referral_answered_once", user="joko")

    write(client, auth, f"/cases/{case_id}/closure", {"outcome": "graduated"})
    for path, body in [("assignment", {"worker": "wati"}), ("assessments", factories.assessment()),
                       ("aid", factories.aid()), ("follow-ups", factories.follow_up()),
                       ("referrals", {"to_pillar": "psm", "reason": "x"}), ("closure", {"outcome": "other"})]:
        refused(path, body, "case_closed")
    assert get_case(client, auth, case_id)["status"] == "closed"


# ---------------------------------------------------------------- referral flow
def test_referral_from_pkh_accepted_by_tksk(client, auth, service):
    case_id = open_case(client, auth)
    write(client, auth, f"/cases/{case_id}/assignment", {"worker": "wati"})
    # Before any referral the tksk worker cannot see the case.
    rejected(service, lambda: client.get(f"{API}/cases/{case_id}", headers=auth("joko")), 403)
    rid = write(client, auth, f"/cases/{case_id}/referrals",
                {"to_pillar": "tksk", "reason": "needs a TKSK in the kecamatan"})["referral_id"]

    pending = get_case(client, auth, case_id, user="joko")
    assert pending["pillar"] == "pkh"
    assert pending["pending_referral"]["id"] == rid and pending["pending_referral"]["to_pillar"] == "tksk"
    # While pending, the receiving pillar reads the case but does not yet work it.
    rejected(service, lambda: client.post(f"{API}/cases/{case_id}/assessments", json=factories.assessment(),
                                          headers=auth("joko")), 403)

    accepted = write(client, auth, f"/cases/{case_id}/referrals/{rid}/acceptance", {}, user="joko")
    case = get_case(client, auth, case_id, user="joko")
    assert case["version"] == accepted["version"]
    assert case["pillar"] == "tksk" and case["worker"] is None and case["pending_referral"] is None
    assert case["referrals"][0]["status"] == "accepted" and case["referrals"][0]["answered_by"] == "joko"

    write(client, auth, f"/cases/{case_id}/assignment", {"worker": "joko"}, user="joko")
    write(client, auth, f"/cases/{case_id}/assessments", factories.assessment(), user="joko")
    for path, body in [("assessments", factories.assessment()), ("assignment", {"worker": "wati"}),
                       ("closure", {"outcome": "other"})]:
        rejected(service, lambda: client.post(f"{API}/cases/{case_id}/{path}", json=body, headers=auth("wati")),
                 403)
    rejected(service, lambda: client.get(f"{API}/cases/{case_id}", headers=auth("wati")), 403)
    # The person's record still shows the case, now with tksk.
    person = client.get(f"{API}/beneficiaries/{case['beneficiary_id']}", headers=auth("wati")).json
    assert [(c.get("id"), c["pillar"]) for c in person["cases"]] == [(None, "tksk")]  # no longer PKH's to read


def test_referral_declined_stays_with_the_sender(client, auth, service):
    case_id = open_case(client, auth)
    rid = write(client, auth, f"/cases/{case_id}/referrals", {"to_pillar": "tksk", "reason": "x"})["referral_id"]
    write(client, auth, f"/cases/{case_id}/referrals/{rid}/decline", {"reason": "outside our field"}, user="joko")
    case = get_case(client, auth, case_id)
    assert case["pillar"] == "pkh" and case["pending_referral"] is None
    assert case["referrals"][0]["decline_reason"] == "outside our field"
    rejected(service, lambda: client.get(f"{API}/cases/{case_id}", headers=auth("joko")), 403)


# ---------------------------------------------------------------- past states
def test_read_a_case_at_a_version(client, auth, service):
    case_id = open_case(client, auth)
    write(client, auth, f"/cases/{case_id}/assessments", factories.assessment())
    write(client, auth, f"/cases/{case_id}/aid", factories.aid())
    first = client.get(f"{API}/cases/{case_id}", query_string={"version": 1}, headers=auth("wati"))
    assert first.status_code == 200
    assert (first.json["version"], first.json["status"], first.json["assessment"]) == (1, "referred", None)
    second = get_case(client, auth, case_id, version=2)
    assert (second["version"], second["status"], second["aid"]) == (2, "assessed", [])
    assert get_case(client, auth, case_id, version=3)["status"] == "aided"
    assert get_case(client, auth, case_id, user="inspektur", version=1)["status"] == "referred"

    rejected(service, lambda: client.get(f"{API}/cases/{case_id}", query_string={"version": 4},
                                         headers=auth("wati")), 404)
    for bad in (0, -1, "two", "1.5"):
        answer = rejected(service, lambda: client.get(f"{API}/cases/{case_id}", query_string={"version": bad},
                                                      headers=auth("wati")), 422)
        assert_field_named(answer, "version", "query")
    # Scope is judged on the case as it is now.
    rejected(service, lambda: client.get(f"{API}/cases/{case_id}", query_string={"version": 1},
                                         headers=auth("joko")), 403)


def test_read_a_case_as_of_a_moment(client, auth, service):
    case_id = open_case(client, auth)
    write(client, auth, f"/cases/{case_id}/assessments", factories.assessment())
    now = get_case(client, auth, case_id)
    opened_at = datetime.fromisoformat(now["opened_at"])
    assessed_at = datetime.fromisoformat(now["assessment"]["assessed_at"])
    assert opened_at < assessed_at

    def as_of(moment: datetime):
        return client.get(f"{API}/cases/{case_id}", query_string={"as_of": moment.isoformat()}, headers=auth("wati"))

    rejected(service, lambda: as_of(opened_at - timedelta(microseconds=1)), 404)
    rejected(service, lambda: as_of(opened_at - timedelta(days=365)), 404)
    at_open = as_of(opened_at).json
    assert (at_open["version"], at_open["status"]) == (1, "referred")
    between = as_of(opened_at + (assessed_at - opened_at) / 2).json
    assert (between["version"], between["status"]) == (1, "referred")
    assert as_of(assessed_at).json["version"] == 2
    assert as_of(assessed_at + timedelta(days=1)).json == now
    # Any offset names the same instant: Jakarta time, seven hours ahead.
    jakarta = assessed_at.astimezone(ZoneInfo("Asia/Jakarta"))
    assert as_of(jakarta).json["version"] == 2
    assert as_of(jakarta - timedelta(microseconds=1)).json["version"] == 1

    for bad in (assessed_at.replace(tzinfo=None).isoformat(), "yesterday", "2026-13-01T00:00:00+00:00"):
        answer = rejected(service, lambda: client.get(f"{API}/cases/{case_id}", query_string={"as_of": bad},
                                                      headers=auth("wati")), 422)
        assert_field_named(answer, "as_of", "query")
    both = rejected(service, lambda: client.get(f"{API}/cases/{case_id}",
                                                query_string={"as_of": assessed_at.isoformat(), "version": 1},
                                                headers=auth("wati")), 422)
    assert "as_of" in json.dumps(both["errors"])


# ================================================================ HTTP preconditions
def test_if_match(client, auth, service):
    case_id = open_case(client, auth)
    url = f"{API}/cases/{case_id}/assessments"
    assert client.get(f"{API}/cases/{case_id}", headers=auth("wati")).headers["ETag"].startswith('"1.')
    ok = client.post(url, json=factories.assessment(), headers=auth("wati", **{"If-Match": '"1"'}))
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"' and ok.json["version"] == 2
    def stale():
        return client.post(url, json=factories.assessment(), headers=auth("wati", **{"If-Match": '"1"'}))

    answer = rejected(service, stale, 412)
    assert "version" in answer["message"]
    assert stale().headers["ETag"] == '"2"'  # the 412 tells the current version
    rejected(service, lambda: client.post(url, json=factories.assessment(),
                                          headers=auth("wati", **{"If-Match": '"3"'})), 412)
    assert client.get(f"{API}/cases/{case_id}", headers=auth("wati")).headers["ETag"].startswith('"2.')
    weak = client.post(f"{API}/cases/{case_id}/follow-ups", json=factories.follow_up(),
                       headers=auth("wati", **{"If-Match": 'W/"2"'}))
    assert weak.status_code == 200 and weak.headers["ETag"] == '"3"'

    star = client.post(f"{API}/cases/{case_id}/follow-ups", json=factories.follow_up(),
                       headers=auth("wati", **{"If-Match": "*"}))
    assert star.status_code == 200 and star.headers["ETag"] == '"4"'
    missing = client.post(f"{API}/cases/{uuid.uuid4()}/follow-ups", json=factories.follow_up(),
                          headers=auth("wati", **{"If-Match": "*"}))
    assert missing.status_code == 404

    for malformed in ("abc", '"one"', '"1", "2"', '""', "-1", '"1.0"'):
        answer = rejected(service, lambda: client.post(url, json=factories.assessment(),
                                                       headers=auth("wati", **{"If-Match": malformed})), 400)
        assert "If-Match" in answer["message"]


def test_if_match_on_a_beneficiary(client, auth, service):
    person_id = register(client, auth)
    url = f"{API}/beneficiaries/{person_id}/consent"
    body = {"given_by": "her", "method": "written", "purpose": "case work"}
    rejected(service, lambda: client.post(url, json=body, headers=auth("wati", **{"If-Match": '"2"'})), 412)
    ok = client.post(url, json=body, headers=auth("wati", **{"If-Match": '"1"'}))
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'


def test_malformed_json_is_400(client, auth, service):
    case_id = open_case(client, auth)
    person_id = get_case(client, auth, case_id)["beneficiary_id"]
    for path in ("/beneficiaries", "/cases", f"/cases/{case_id}/assessments", f"/cases/{case_id}/closure",
                 f"/beneficiaries/{person_id}/consent", "/auth/token"):
        for data in ("{bad", '{"outcome": "other",}', "{'outcome': 'other'}", "\xff", b'{"reason": "\xff"}', b"\xff\xfe"):
            answer = rejected(service, lambda: client.post(f"{API}{path}", data=data, content_type="application/json",
                                                           headers=auth("wati")), 400)
            assert answer["errors"]["json"], answer


def test_json_that_is_not_an_object_is_422(client, auth, service):
    case_id = open_case(client, auth)
    for data in ("null", "[]", "[1]", '"text"', "42"):
        rejected(service, lambda: client.post(f"{API}/cases/{case_id}/closure", data=data,
                                              content_type="application/json", headers=auth("wati")), 422)


def test_oversized_body_is_413(client, auth, service):
    case_id = open_case(client, auth)
    huge = "x" * (17 * 1024)
    for path, body in [("/beneficiaries", factories.person(address=huge)),
                       (f"/cases/{case_id}/assessments", factories.assessment(summary=huge)),
                       (f"/cases/{case_id}/closure", {"outcome": "other", "note": huge})]:
        rejected(service, lambda: client.post(f"{API}{path}", json=body, headers=auth("wati")), 413)
        rejected(service, lambda: client.post(f"{API}{path}", json=body,
                                              headers=auth("wati", **{"Idempotency-Key": "big-1"})), 413)
    # Just under the cap is judged on its fields, not its size.
    answer = rejected(service, lambda: client.post(f"{API}/cases/{case_id}/closure",
                                                   json={"outcome": "other", "note": "x" * (15 * 1024)},
                                                   headers=auth("wati")), 422)
    assert_field_named(answer, "note")


# ---------------------------------------------------------------- Idempotency-Key
def test_idempotent_registration_retry(client, auth, service):
    body = factories.person()
    headers = auth("wati", **{"Idempotency-Key": "reg-7f3a"})
    first = client.post(f"{API}/beneficiaries", json=body, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    with nothing_appended(service):
        retry = client.post(f"{API}/beneficiaries", json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.json == first.json and retry.get_data() == first.get_data()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["ETag"] == first.headers["ETag"]

    # The same key with a different body is refused, naming the header.
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries", json=factories.person(), headers=headers),
                      422)
    assert "Idempotency-Key" in answer["errors"]["headers"]
    # A key is one user's: another user's identical key is a different request.
    other = client.post(f"{API}/beneficiaries", json=factories.person(),
                        headers=auth("agus", **{"Idempotency-Key": "reg-7f3a"}))
    assert other.status_code == 201 and other.json["id"] != first.json["id"]


def test_idempotent_case_write_retry(client, auth, service):
    case_id = open_case(client, auth)
    url = f"{API}/cases/{case_id}/follow-ups"
    body = factories.follow_up()
    headers = auth("wati", **{"Idempotency-Key": "fu-1"})
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 200 and first.json["follow_up_id"]
    write(client, auth, f"/cases/{case_id}/assessments", factories.assessment())  # the case moves on
    with nothing_appended(service):
        retry = client.post(url, json=body, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == first.json
    assert len(get_case(client, auth, case_id)["follow_ups"]) == 1
    # Same key, other endpoint: a different request.
    answer = rejected(service, lambda: client.post(f"{API}/cases/{case_id}/closure", json={"outcome": "other"},
                                                   headers=headers), 422)
    assert "Idempotency-Key" in answer["errors"]["headers"]
    # A rejected write records no answer: after fixing the cause, the same key writes.
    aid_key = auth("wati", **{"Idempotency-Key": "aid-1"})
    other_case = open_case(client, auth)
    refused = client.post(f"{API}/cases/{other_case}/aid", json=factories.aid(), headers=aid_key)
    assert refused.status_code == 409
    write(client, auth, f"/cases/{other_case}/assessments", factories.assessment())
    assert client.post(f"{API}/cases/{other_case}/aid", json=factories.aid(), headers=aid_key).status_code == 200


def test_malformed_idempotency_key_is_400(client, auth, service):
    for key in ("has space", "x" * 256, "tab\tkey", "ümlaut"):
        headers = {**auth("wati"), "Idempotency-Key": key}
        answer = rejected(service, lambda: client.post(f"{API}/beneficiaries", json=factories.person(),
                                                       headers=headers), 400)
        assert "Idempotency-Key" in answer["message"]


# ================================================================ OpenAPI and docs
def test_openapi_document_lists_every_path(client, app):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"].startswith("3.")
    documented = document["paths"]
    undocumented = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/static/<path:filename>",
                    "/static/<path:filename>"}
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in undocumented or not is_api_request(rule.rule):  # pages (pilar/web/) are not the API
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    for expected in ("/api/v1/auth/token", "/api/v1/beneficiaries", "/api/v1/beneficiaries/search",
                     "/api/v1/beneficiaries/{beneficiary_id}",
                     "/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/assignment",
                     "/api/v1/cases/{case_id}/follow-ups/{follow_up_id}/completion",
                     "/api/v1/cases/{case_id}/referrals/{referral_id}/acceptance",
                     "/api/v1/cases/{case_id}/referrals/{referral_id}/decline"):
        assert expected in routes
    for path, methods in routes.items():
        assert path in documented, path
        assert methods <= set(documented[path]), (path, methods)
    # Each case write documents its error answers.
    responses = documented["/api/v1/cases/{case_id}/aid"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "412", "413", "422"} <= set(responses)
    search = documented["/api/v1/beneficiaries/search"]["post"]
    assert {"200", "400", "401", "403", "413", "422"} <= set(search["responses"])
    assert search["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/NikSearchIn")
    searched_by = document["components"]["schemas"]["NikSearchIn"]
    assert {"nik", "name"} <= set(searched_by["properties"]) and "parameters" not in search  # one of them, in the body
    assert documented["/api/v1/beneficiaries"]["get"].get("deprecated") is True
    assert "parameters" not in documented["/api/v1/beneficiaries"]["get"]


def test_docs_work_offline(client):
    page = client.get(f"{API}/docs")
    assert page.status_code == 200 and "text/html" in page.content_type
    html = page.get_data(as_text=True)
    assets = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html) + re.findall(r'<link[^>]*\shref="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
    for asset in assets:
        assert "http" not in asset and not asset.startswith("//"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.get_data()) > 1000, asset
        served.close()
    assert "http://" not in html and "https://" not in html


# ================================================================ known bugs
def test_text_with_a_lone_surrogate_is_422_not_500(client, auth, service):
    case_id = open_case(client, auth)
    answer = rejected(service, lambda: client.post(
        f"{API}/cases/{case_id}/assessments",
        data='{"needs": ["care"], "risk": "low", "summary": "tidak \\ud800 makan"}',
        content_type="application/json", headers=auth("wati")), 422)
    assert_field_named(answer, "summary")


def test_text_with_control_characters_is_422(client, auth, service):
    body = factories.person(name="Sainem\x00")
    answer = rejected(service, lambda: client.post(f"{API}/beneficiaries", json=body, headers=auth("wati")), 422)
    assert_field_named(answer, "name")
    case_id = open_case(client, auth)
    answer = rejected(service, lambda: client.post(
        f"{API}/cases/{case_id}/assessments", json={"needs": ["care"], "risk": "low", "summary": "a\x1bb"},
        headers=auth("wati")), 422)
    assert_field_named(answer, "summary")
