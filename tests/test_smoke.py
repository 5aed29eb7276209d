from testkit import factories


def test_register_open_assess_aid(client, auth):
    person = client.post("/api/v1/beneficiaries", json=factories.person(), headers=auth("wati"))
    assert person.status_code == 201, person.json
    case = client.post("/api/v1/cases", json=factories.case(person.json["id"]), headers=auth("wati"))
    assert case.status_code == 201, case.json
    case_id = case.json["id"]
    assessed = client.post(f"/api/v1/cases/{case_id}/assessments", json=factories.assessment(), headers=auth("wati"))
    assert assessed.status_code == 200
    given = client.post(f"/api/v1/cases/{case_id}/aid", json=factories.aid(), headers=auth("wati"))
    assert given.status_code == 200
    assert given.json["version"] == 3
    assert given.json["position"] > assessed.json["position"]
    state = client.get(f"/api/v1/cases/{case_id}", headers=auth("wati")).json
    assert state["status"] == "aided"
    assert state["aid"][0]["value_idr"] == 300000
