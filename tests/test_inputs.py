"""Input rules (pilar/cases/inputs.py) as the API and any other caller of the service meet them:
where an error is named, what is refused before the role is judged, and inputs of the wrong
shape from callers that pass no schema (pages, the CLI, imports)."""

from uuid import UUID

import pytest

from pilar.cases.errors import InvalidInput
from testkit import factories

API = "/api/v1"


def _person(client, auth) -> str:
    return client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth("wati")).json["id"]


def test_a_corrected_fields_own_problem_is_named_under_changes(client, auth):
    person_id = _person(client, auth)
    answer = client.post(f"{API}/beneficiaries/{person_id}/corrections",
                         json={"changes": {"phone": "call the kades", "name": "x" * 201}, "reason": "KTP"},
                         headers=auth("wati"))
    assert answer.status_code == 422
    assert set(answer.json["errors"]["json"]) == {"changes"}
    assert set(answer.json["errors"]["json"]["changes"]) == {"phone", "name"}


def test_invalid_fields_are_named_before_the_role_is_judged(client, auth):
    # As when the schemas checked every rule: a malformed request is 422 for anyone.
    body = factories.person(name="x" * 300)
    for user in ("root", "inspektur"):
        answer = client.post(f"{API}/beneficiaries", json=body, headers=auth(user))
        assert answer.status_code == 422 and "name" in answer.json["errors"]["json"]


def test_a_need_named_twice_is_recorded_once(client, auth, service, staff):
    case_id = client.post(f"{API}/cases", json=factories.case(_person(client, auth)), headers=auth("wati")).json["id"]
    answer = client.post(f"{API}/cases/{case_id}/assessments", json=factories.assessment(needs=["care", "care"]),
                         headers=auth("wati"))
    assert answer.status_code == 200, answer.json
    assert service.get_case(staff["wati"], UUID(case_id)).assessment["needs"] == ["care"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_service_refuses_inputs_of_the_wrong_shape(client, auth, service, staff):
    wati = staff["wati"]
    case_id = client.post(f"{API}/cases", json=factories.case(_person(client, auth)), headers=auth("wati")).json["id"]
    wrong = [
        (lambda: service.assess_case(wati, case_id, needs=["care"], risk="low", summary="s", desil=[1, "2026Q3"]),
         "desil"),
        (lambda: service.assess_case(wati, case_id, needs=["care"], risk="low", summary="s",
                                     desil={"value": 1, "period": "2026Q3", "source": "x"}), "desil"),
        (lambda: service.assess_case(wati, case_id, needs=["care"], risk="low", summary=42), "summary"),
        (lambda: service.assess_case(wati, case_id, needs="care", risk="low", summary="s"), "needs"),
        (lambda: service.send_referral(wati, case_id, to_pillar="tksk", reason="\ud800"), "reason"),
    ]
    before = service.recorder.max_notification_id()
    for command, field in wrong:
        with pytest.raises(InvalidInput) as refused:
            command()
        assert field in refused.value.errors, refused.value.errors
    person = factories.case("x")["referral"] | {"\ud800": 1}
    with pytest.raises(InvalidInput) as refused:
        service.open_case(wati, beneficiary_id=case_id, pillar="pkh", referral=person, categories=["odgj"],
                          priority="normal")
    assert "referral" in refused.value.errors
    assert service.recorder.max_notification_id() == before
