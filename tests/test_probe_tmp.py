import json
from tests import factories
from tests.test_case_rules import cheap_password_hashing
def test_probe(client, auth, service):
    h = auth("wati")
    r = client.post("/api/v1/beneficiaries", json=factories.person(), headers=h); pid = r.json["id"]; print(r.status_code, r.headers, r.json)
    r = client.post("/api/v1/beneficiaries", json=factories.person(address="x"*20000), headers=h); print("413?", r.status_code, r.json)
    r = client.post("/api/v1/beneficiaries", json=factories.person(address="x"*20000), headers={**h, "Idempotency-Key": "k1"}); print("413 idem?", r.status_code, r.json)
    r = client.post("/api/v1/beneficiaries", data="{bad", content_type="application/json", headers=h); print("400?", r.status_code, r.json)
    r = client.post("/api/v1/beneficiaries", data="null", content_type="application/json", headers=h); print("null", r.status_code, r.json)
    r = client.post("/api/v1/beneficiaries", json=[1], headers=h); print("list", r.status_code, r.json)
    r = client.post("/api/v1/beneficiaries", data="x", content_type="text/plain", headers=h); print("text", r.status_code, r.json)
    r = client.post(f"/api/v1/beneficiaries/{pid}/consent", json={"given_by":"her","method":"written","purpose":"p"}, headers=h); print(r.status_code, r.json)
    r = client.get(f"/api/v1/beneficiaries/{pid}", headers=h); print(r.status_code, r.json)
