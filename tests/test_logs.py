"""Logs: one JSON object a line from gunicorn (access and error), the app and `pilar project`, each
with the request's id (echoed in X-Request-ID), user and route; never a person's NIK, name or phone."""

import json
import logging

import pytest
import requests

from pilar.cases import log_context
from pilar.log_format import JsonFormatter, TextFormatter, chosen, configure
from pilar.settings import Settings
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token

NIK_IN_A_URL = "3501044507510001"


@pytest.mark.slow
def test_every_line_is_json_with_the_request_id_and_no_personal_data(settings, service, staff, tmp_path):
    body = factories.person(name="Mbah Wagiyem Sastro", phone="+62 813 9988 7766")
    log = tmp_path / "server.log"
    with Gunicorn(settings, workers=2, log=log, projector=True,
                  env={"PILAR_ACCESS_LOG": "-", "PILAR_LOG_FORMAT": "json"}) as server:
        wati = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}
        auditor = {"Authorization": f"Bearer {token(server.url, 'inspektur', PASSWORD)}"}
        registered = requests.post(f"{server.url}/api/v1/beneficiaries", json=body,
                                   headers={**wati, "X-Request-ID": "register-1"}, timeout=10)
        assert registered.status_code == 201, registered.text
        assert registered.headers["X-Request-ID"] == "register-1"
        person = registered.json()["id"]
        found = requests.post(f"{server.url}/api/v1/beneficiaries/search", json={"nik": body["nik"]},
                              headers={**wati, "X-Request-ID": "search-1"}, timeout=10)
        assert found.status_code == 200, found.text
        # An auditor may not erase: a 403, logged by the app's pilar.security logger.
        refused = requests.post(f"{server.url}/api/v1/beneficiaries/{person}/erasure", json={"reason": "x"},
                                headers={**auditor, "X-Request-ID": "erase-1"}, timeout=10)
        assert refused.status_code == 403
        # An id offered that could be a NIK, or that is too long, is replaced by one of the server's.
        nik_as_id = requests.get(f"{server.url}/api/v1/beneficiaries/{NIK_IN_A_URL}",
                                 headers={**wati, "X-Request-ID": body["nik"]}, timeout=10)
        assert nik_as_id.status_code == 404
        assert nik_as_id.headers["X-Request-ID"] != body["nik"]
        generated = nik_as_id.headers["X-Request-ID"]
        too_long = requests.get(f"{server.url}/healthz", headers={"X-Request-ID": "a" * 65}, timeout=10)
        assert len(too_long.headers["X-Request-ID"]) == 32
        read = requests.get(f"{server.url}/api/v1/beneficiaries/{person}", headers={**wati, "X-Request-ID": "read-1"},
                            timeout=10)
        assert read.json()["phone"] == body["phone"]
    text = log.read_text()
    for secret in (body["nik"], body["kk"], body["name"], body["phone"], NIK_IN_A_URL, "Sainem", "8139988"):
        assert secret not in text, secret
    lines = [json.loads(line) for line in text.splitlines()]  # every line, whoever wrote it
    assert all({"ts", "level", "logger", "message", "request_id", "user", "route"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "pilar.security", "pilar.projection"} <= loggers, loggers

    def of(request_id):
        return {line["logger"]: line for line in lines if line["request_id"] == request_id}

    assert of("register-1")["gunicorn.access"] | {"status": 201} == of("register-1")["gunicorn.access"]
    access = of("register-1")["gunicorn.access"]
    assert (access["user"], access["route"], access["method"]) == ("wati", "/api/v1/beneficiaries", "POST")
    erase = of("erase-1")
    assert erase["pilar.security"]["event"] == erase["pilar.security"]["message"] == "forbidden"
    assert erase["pilar.security"]["route"] == erase["gunicorn.access"]["route"] == \
        "/api/v1/beneficiaries/<uuid:beneficiary_id>/erasure"
    assert erase["pilar.security"]["user"] == erase["gunicorn.access"]["user"] == "inspektur"
    assert of("search-1")["gunicorn.access"]["route"] == "/api/v1/beneficiaries/search"
    unknown = of(generated)["gunicorn.access"]
    assert unknown["status"] == 404 and unknown["route"] is None and unknown["path"] == "/api/v1/beneficiaries/***"
    assert "path" not in access and "path" not in erase["pilar.security"]  # a route: no ids in the line
    assert not any(line["request_id"] for line in lines if line["logger"] == "pilar.projection")


def test_a_request_id_is_kept_only_when_well_formed():
    assert log_context.request_id("abc-123_x.y:z") == "abc-123_x.y:z"
    assert log_context.request_id("0b6c2b5e-8a9f-4e0a-9d3c-6c1f2b7a8e90") == "0b6c2b5e-8a9f-4e0a-9d3c-6c1f2b7a8e90"
    for bad in (None, "", "a" * 65, "has space", "quote\"", "line\nbreak", "3501044507510001", "tel+62-812-3456-7890"):
        assert len(log_context.request_id(bad)) == 32 and log_context.request_id(bad) != bad


def test_the_log_format_is_json_or_text_and_nothing_else():
    assert chosen(None) == "json" and chosen("TEXT") == "text"
    with pytest.raises(ValueError, match="PILAR_LOG_FORMAT must be json or text, not 'xml'"):
        Settings.from_env({"PILAR_LOG_FORMAT": "xml"})


def test_a_security_event_masks_a_number_in_its_path(caplog):
    from pilar.cases.security_log import security_event

    with caplog.at_level(logging.INFO, logger="pilar.security"):
        security_event("forbidden", user="wati", client="10.0.0.1", path=f"/api/v1/beneficiaries/{NIK_IN_A_URL}/x")
    (record,) = caplog.records
    assert record.getMessage() == 'event=forbidden user=wati client=10.0.0.1 path="/api/v1/beneficiaries/***/x"'
    line = json.loads(JsonFormatter().format(record))  # outside a request: no route, so the masked path
    assert (line["path"], line["request_id"], line["message"]) == ("/api/v1/beneficiaries/***/x", None, "forbidden")


def test_a_logging_configuration_of_the_operators_wins():
    root = logging.getLogger()
    mine = logging.NullHandler()
    root.addHandler(mine)
    try:
        before = list(root.handlers)
        configure("json")
        assert root.handlers == before
    finally:
        root.removeHandler(mine)


def test_make_run_logs_text_for_a_person_and_leaves_an_operators_choice():
    import subprocess

    from pilar.settings import PROJECT_ROOT

    def database(**env):
        done = subprocess.run(["make", "-pn", "run"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", **env})
        return done.stdout

    assert "run: PILAR_LOG_FORMAT = text" in database()
    assert "run: PILAR_LOG_FORMAT = text" not in database(PILAR_LOG_FORMAT="json")


def test_a_text_line_written_during_a_request_ends_with_its_id_user_and_route():
    record = logging.LogRecord("pilar.projection", logging.INFO, __file__, 1, "hello", None, None)
    token = log_context.current.set({"request_id": "r-1", "user": "wati", "route": "/api/v1/cases/<uuid:case_id>"})
    try:
        text = TextFormatter().format(record)
    finally:
        log_context.current.reset(token)
    assert text.endswith("INFO hello request_id=r-1 user=wati route=/api/v1/cases/<uuid:case_id>")
    assert TextFormatter().format(record).endswith("INFO hello")  # outside a request
