"""The Flask app is composed at the top (wsgi.create_app): the API's bearer auth and JSON errors
are scoped to its blueprints, so pages beside it keep cookie sessions and HTML errors."""

import pytest
from flask import Blueprint, abort, session

from pilar.wsgi import create_app

API = "/api/v1"


def _app_with_pages(services):
    app = create_app(services)
    pages = Blueprint("pages_probe", __name__)

    @pages.get("/probe/remember/<value>")
    def remember(value):
        session["remembered"] = value
        return "<p>ok</p>"

    @pages.get("/probe/recall")
    def recall():
        return f"<p>{session.get('remembered', '')}</p>"

    @pages.get("/probe/forbidden")
    def forbidden():
        abort(403)

    app.register_blueprint(pages)
    return app


def test_pages_keep_cookie_sessions_without_a_bearer_token(services):
    client = _app_with_pages(services).test_client()
    answer = client.get("/probe/remember/sainem")
    assert answer.status_code == 200
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/probe/recall").get_data(as_text=True) == "<p>sainem</p>"


def test_page_errors_are_html_and_api_errors_json(services):
    client = _app_with_pages(services).test_client()
    for path, status in (("/probe/forbidden", 403), ("/no-such-page", 404)):
        answer = client.get(path)
        assert answer.status_code == status
        assert answer.mimetype == "text/html" and f"{status}" in answer.get_data(as_text=True)
    for path, status in ((f"{API}/no-such-thing", 404), (f"{API}/cases", 401)):
        answer = client.get(path)
        assert answer.status_code == status
        assert answer.mimetype == "application/json" and answer.json["code"] == status
    assert client.delete(f"{API}/workloads").status_code == 405
    assert client.delete(f"{API}/workloads").json["code"] == 405


def test_the_api_opens_no_session(services, auth, client):
    answer = client.get(f"{API}/workloads", headers=auth("wati"))
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers


def test_the_composition_root_takes_its_dependencies(settings, tmp_path):
    """bootstrap() builds every service from settings; what it is handed (here another regency's
    wilayah) reaches the rules of the application service."""
    from datetime import date

    from pilar.bootstrap import bootstrap, init_store
    from pilar.cases.access import Actor
    from pilar.cases.errors import InvalidInput
    from pilar.cases.wilayah import Wilayah
    from testkit import factories

    csv = tmp_path / "other.csv"
    csv.write_text("code,name,level\n35.02,PONOROGO,kabupaten\n35.02.01,NGRAYUN,kecamatan\n"
                   "35.02.01.2001,BAOSAN LOR,desa\n")
    init_store(settings)
    services = bootstrap(settings, wilayah=Wilayah.from_csv(csv))
    try:
        worker = Actor("wati", "worker", "pkh")
        person = factories.person(desa_code="35.02.01.2001")
        person["birth_date"] = date.fromisoformat(person["birth_date"])
        assert services.cases.register_beneficiary(worker, **person).version == 1
        with pytest.raises(InvalidInput) as refused:
            services.cases.register_beneficiary(worker, **{**person, "nik": factories.person()["nik"],
                                                           "desa_code": "35.01.04.1001"})
        assert "PONOROGO" in refused.value.errors["desa_code"][0]
        assert services.views.queries.readers is services.readers is services.audit.readers
    finally:
        services.close()


def test_an_input_rule_answers_the_api_with_the_services_own_message(client, auth, service, staff):
    """Each rule has one home (pilar/cases/inputs.py): the API's 422 carries the service's message."""
    from pilar.cases.errors import InvalidInput
    from testkit import factories

    person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth("wati")).json["id"]
    case_id = client.post(f"{API}/cases", json=factories.case(person), headers=auth("wati")).json["id"]
    for path, body, command in [
        ("closure", {"outcome": "solved", "note": ""},
         lambda: service.close_case(staff["wati"], case_id, outcome="solved", note="")),
        ("referrals", {"to_pillar": "dinsos", "reason": " "},
         lambda: service.send_referral(staff["wati"], case_id, to_pillar="dinsos", reason=" ")),
    ]:
        with pytest.raises(InvalidInput) as refused:
            command()
        answer = client.post(f"{API}/cases/{case_id}/{path}", json=body, headers=auth("wati"))
        assert answer.status_code == 422
        assert answer.json["errors"]["json"] == refused.value.errors
