"""No NIK, name or phone number leaves the request it came in (issue 12, item 2): not in a log
line, a URL, an access-log row, an idempotency record or a metric label; and idempotency
fingerprints are keyed hashes, while records written before still replay."""

import hashlib
import json
import logging
import re
from uuid import UUID

import pytest
import requests

from pilar.cases.idempotency import IdempotencyRecord
from pilar.cases.lookup import FINGERPRINT_PREFIX
from pilar.cases.write_path import Idempotency
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token

API = "/api/v1"
IDEMPOTENCY_TOPIC = "cases.idempotency:IdempotencyRecord.WriteAnswered"


def _person() -> dict:
    # A name and phone number found nowhere else in the code or fixtures, so any hit is a leak.
    return factories.person(name="Sainem Wiryodikromo", phone="+62 813 2468 1357", birth_date="1951-07-05")


def _secrets(person: dict, *more: str) -> dict[str, str]:
    phone_digits = "".join(c for c in person["phone"] if c.isdigit())
    found = {"nik": person["nik"], "name": person["name"], "phone": person["phone"], "phone digits": phone_digits,
             "name (lower case)": person["name"].lower()}
    found.update({f"other {n}": value for n, value in enumerate(more)})
    return found


def _assert_absent(where: str, text: str, secrets: dict[str, str]) -> None:
    leaked = [what for what, value in secrets.items() if value in text]
    assert not leaked, f"{where} holds the {', '.join(leaked)}"


def _canonical(method: str, path: str, body) -> bytes:
    return json.dumps([method, path, body], sort_keys=True, default=str, separators=(",", ":")).encode()


def _idempotency_records(service) -> list[tuple[bytes, dict]]:
    """Every stored idempotency record: its stored bytes and its decoded fields."""
    found = []
    for notification in service.recorder.select_notifications(1, 10_000, topics=[IDEMPOTENCY_TOPIC]):
        event = service.mapper.to_domain_event(notification)
        found.append((bytes(notification.state), dict(vars(event))))
    return found


def test_no_personal_data_in_logs_access_log_idempotency_records_or_metrics(
        client, auth, service, services, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    person = _person()
    malformed_nik = "3501049905510001"  # month 05 fine, day 99: not a NIK
    secrets = _secrets(person, malformed_nik)

    # Register, with an Idempotency-Key, and retry it.
    register_headers = auth("wati", **{"Idempotency-Key": "reg-pii-1"})
    first = client.post(f"{API}/beneficiaries", json=person, headers=register_headers)
    assert first.status_code == 201, first.json
    person_id = first.json["id"]
    assert client.post(f"{API}/beneficiaries", json=person, headers=register_headers).status_code == 201

    # Look them up, by the body and (refused) by the URL.
    found = client.post(f"{API}/beneficiaries/search", json={"nik": person["nik"]}, headers=auth("sri"))
    assert found.status_code == 200 and [p["id"] for p in found.json["items"]] == [person_id]
    refused = client.get(f"{API}/beneficiaries", query_string={"nik": person["nik"]}, headers=auth("sri"))
    assert refused.status_code == 400
    _assert_absent("the answer to GET ?nik=", refused.get_data(as_text=True), secrets)
    assert client.get(f"{API}/beneficiaries/{person['nik']}", headers=auth("sri")).status_code == 404

    # A duplicate registration: 409 with the existing id, echoing none of the input.
    duplicate = client.post(f"{API}/beneficiaries", json={**person, "name": person["name"]},
                            headers=auth("agus", **{"Idempotency-Key": "reg-pii-2"}))
    assert duplicate.status_code == 409 and duplicate.json["existing_id"] == person_id
    _assert_absent("the 409 for a duplicate NIK", duplicate.get_data(as_text=True), secrets)

    # Malformed registrations: a NIK that is no NIK, and one that disagrees with the birth date.
    for bad in ({**person, "nik": malformed_nik}, {**person, "nik": "12345"},
                {**person, "birth_date": "1951-07-06"}, {**person, "phone": person["phone"] + " ext"}):
        answer = client.post(f"{API}/beneficiaries", json=bad, headers=auth("wati", **{"Idempotency-Key": "reg-bad"}))
        assert answer.status_code == 422, answer.json
        assert set(answer.json["errors"]["json"]) <= {"nik", "phone"}
        _assert_absent("a 422 for a malformed registration", json.dumps(answer.json["errors"]) + answer.json["message"],
                       {k: v for k, v in secrets.items() if k in ("nik", "other 0", "phone", "name")})
    malformed_search = client.post(f"{API}/beneficiaries/search", json={"nik": malformed_nik}, headers=auth("sri"))
    assert malformed_search.status_code == 422
    _assert_absent("a 422 for a malformed search", malformed_search.get_data(as_text=True), secrets)

    # An unexpected failure whose message quotes the NIK is logged without its message.
    def failing(actor, nik):
        raise ValueError(f"cannot look up {nik} for {person['name']}")

    monkeypatch.setattr(service, "find_beneficiary_by_nik", failing)
    crashed = client.post(f"{API}/beneficiaries/search", json={"nik": person["nik"]}, headers=auth("sri"))
    assert crashed.status_code == 500
    _assert_absent("the 500 answer", crashed.get_data(as_text=True), secrets)
    monkeypatch.undo()
    assert any("unhandled error" in r.getMessage() for r in caplog.records), "the unexpected error was not logged"

    # Every log line of the process, with any traceback attached.
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = "\n".join(formatter.format(r) for r in caplog.records)  # with any traceback attached
    _assert_absent("the log", lines + caplog.text, secrets)

    # The access-log table: every column of every row.
    with services.readers.connection() as conn:
        rows = conn.all("SELECT * FROM audit_access_log")
    assert any("find_beneficiary_by_nik" in map(str, row) for row in rows)
    _assert_absent("the access-log table", json.dumps([list(map(str, row)) for row in rows]), secrets)

    # The idempotency records: stored bytes and decoded fields; the fingerprint a keyed hash.
    records = _idempotency_records(service)
    assert [fields["key"] for _, fields in records] == ["reg-pii-1"]  # refused writes keep no record
    for state, fields in records:
        _assert_absent("a stored idempotency record", state.decode("utf-8", "replace"), secrets)
        _assert_absent("an idempotency record", json.dumps(fields, default=str), secrets)
        unkeyed = hashlib.sha256(_canonical("POST", f"{API}/beneficiaries", person)).hexdigest()
        assert fields["fingerprint"].startswith(FINGERPRINT_PREFIX) and unkeyed not in fields["fingerprint"]
        assert fields["fingerprint"] == service.lookup.fingerprint(_canonical("POST", f"{API}/beneficiaries", person))

    # Metric labels are route templates, never raw paths.
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'route="/api/v1/beneficiaries/search"' in metrics
    assert 'route="unmatched"' in metrics  # the 404 for a NIK in the path
    _assert_absent("the metrics", metrics, secrets)
    assert person_id not in metrics


def test_old_unkeyed_idempotency_records_still_replay(client, auth, service, staff):
    """Records written before fingerprints were keyed hold a plain SHA-256: the same request
    replays, a different one under the same key is refused, and new records are keyed."""
    person_id = client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth("wati")).json["id"]
    case_id = client.post(f"{API}/cases", json=factories.case(person_id), headers=auth("wati")).json["id"]
    path = f"{API}/cases/{case_id}/follow-ups"
    body = factories.follow_up()
    first = client.post(path, json=body, headers=auth("wati"))
    assert first.status_code == 200

    # What an older Pilar stored for that request under the key "old-fu".
    old = IdempotencyRecord.record(
        actor="wati", key="old-fu", fingerprint=hashlib.sha256(_canonical("POST", path, body)).hexdigest(),
        aggregate_id=UUID(case_id),
        aggregate_version=first.json["version"],
        answer={k: v for k, v in first.json.items() if k != "position"})
    service.save(old)
    assert not old.fingerprint.startswith(FINGERPRINT_PREFIX)

    before = service.recorder.max_notification_id()
    retry = client.post(path, json=body, headers=auth("wati", **{"Idempotency-Key": "old-fu"}))
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == first.json
    assert service.recorder.max_notification_id() == before

    other = client.post(path, json=factories.follow_up(purpose="another visit"),
                        headers=auth("wati", **{"Idempotency-Key": "old-fu"}))
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]["headers"]
    assert service.recorder.max_notification_id() == before

    # A new key is recorded keyed, and replays too.
    new_headers = auth("wati", **{"Idempotency-Key": "new-fu"})
    body2 = factories.follow_up(purpose="third visit")
    assert client.post(path, json=body2, headers=new_headers).status_code == 200
    record = service.repository.get(IdempotencyRecord.id_for("wati", "new-fu"))
    assert record.fingerprint == service.lookup.fingerprint(_canonical("POST", path, body2))
    assert record.fingerprint != hashlib.sha256(_canonical("POST", path, body2)).hexdigest()
    assert client.post(path, json=body2, headers=new_headers).headers["Idempotent-Replayed"] == "true"


def test_fingerprints_compare_by_their_format(service):
    lookup = service.lookup
    idem = Idempotency.of_request(lookup, "k", "POST", "/x", {"nik": "3501044507510001"})
    canonical = _canonical("POST", "/x", {"nik": "3501044507510001"})
    assert idem.fingerprint == lookup.fingerprint(canonical)
    assert idem.matches(lookup.fingerprint(canonical))
    assert idem.matches(hashlib.sha256(canonical).hexdigest())
    assert not idem.matches(hashlib.sha256(b"other").hexdigest())
    assert not idem.matches(lookup.fingerprint(b"other"))
    # A keyed fingerprint is never accepted as an unkeyed one, nor the reverse.
    assert not idem.matches(FINGERPRINT_PREFIX + hashlib.sha256(canonical).hexdigest())
    assert not idem.matches(lookup.fingerprint(canonical)[len(FINGERPRINT_PREFIX):])
    assert "3501044507510001" not in repr(idem) and idem.unkeyed not in repr(idem)


class _LoggingGunicorn(Gunicorn):
    """A test server with gunicorn's access log on (the fixtures' servers turn it off)."""

    def _spawn(self, env, out):
        return super()._spawn({**env, "PILAR_ACCESS_LOG": "-"}, out)


# How each log format writes the access lines the test looks for.
ACCESS_LINES = {
    "text": ("POST /api/v1/beneficiaries/search HTTP/1.1", "GET /api/v1/beneficiaries HTTP/1.1"),
    # JSON lines name the route, not the path, once a route matched (docs/operations.md, Logs).
    "json": ('"message": "POST /api/v1/beneficiaries/search 200"', '"message": "GET /api/v1/beneficiaries 400"'),
}


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ACCESS_LINES)
def test_gunicorn_logs_hold_no_personal_data(settings, service, staff, tmp_path, log_format):
    person = _person()
    malformed_nik = "3501049905510001"
    secrets = _secrets(person, malformed_nik)
    log = tmp_path / "gunicorn.log"
    with _LoggingGunicorn(settings, workers=1, log=log, env={"PILAR_LOG_FORMAT": log_format}) as server:
        bearer = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}
        api = f"{server.url}{API}"
        first = requests.post(f"{api}/beneficiaries", json=person, headers={**bearer, "Idempotency-Key": "g-1"},
                              timeout=30)
        assert first.status_code == 201, first.text
        found = requests.post(f"{api}/beneficiaries/search", json={"nik": person["nik"]}, headers=bearer, timeout=30)
        assert found.status_code == 200 and found.json()["items"][0]["id"] == first.json()["id"]
        assert requests.post(f"{api}/beneficiaries", json=person, headers=bearer, timeout=30).status_code == 409
        assert requests.post(f"{api}/beneficiaries", json={**person, "nik": malformed_nik}, headers=bearer,
                             timeout=30).status_code == 422
        # Mistakes a client may make: the NIK or the phone in the URL, in the query or the path.
        assert requests.get(f"{api}/beneficiaries", params={"nik": person["nik"]}, headers=bearer,
                            timeout=30).status_code == 400
        assert requests.get(f"{api}/beneficiaries/{person['nik']}", headers={**bearer, "Referer": (
            f"{server.url}/?nik={person['nik']}&name={person['name']}")}, timeout=30).status_code == 404
        assert requests.get(f"{api}/beneficiaries/{person['phone']}", headers=bearer, timeout=30).status_code == 404
        assert requests.get(f"{server.url}/metrics", timeout=30).status_code == 200
        metrics = requests.get(f"{server.url}/metrics", timeout=30).text
    text = log.read_text(errors="replace")
    search, listing = ACCESS_LINES[log_format]
    assert search in text, text  # the access log is on
    assert listing in text
    if log_format == "text":  # each access line ends with the request's id
        assert re.search(r'HTTP/1.1" 200 \d+ "[^"]*" request_id=[0-9a-f]{32}$', text, re.MULTILINE), text
    _assert_absent("gunicorn's log", text, secrets)
    _assert_absent("the metrics", metrics, secrets)
    _assert_absent("gunicorn's log", text, {"birth date": person["birth_date"]})
