"""Answers kept per reader until the views move (pilar/api/kept_answers.py): a repeated workload or
case list GET is answered without a query, yet never to another reader, never after the views, the
day or the reader's standing change, and with the access log and metrics as any request."""

import gzip
import json
from datetime import timedelta

import pytest

from pilar.api import kept_answers
from pilar.api.cases import CaseList
from pilar.api.workloads import PillarDetail
from pilar.cases import clock
from pilar.cases.access import SYSTEM
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import PASSWORD

API = "/api/v1"
READS = ("/cases?pillar=pkh&per_page=20", "/cases", "/workloads/pkh", "/workloads")


def _open_case(client, auth, username: str = "wati") -> str:
    person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth(username)).json["id"]
    answer = client.post(f"{API}/cases", json=factories.case(person), headers=auth(username))
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


@pytest.fixture
def queries(services, monkeypatch):
    """How many times the views were queried for a case list or a workload."""
    asked = {"cases": 0, "detail": 0}
    for name in asked:
        original = getattr(services.views.queries, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            asked[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(services.views.queries, name, counted)
    return asked


@pytest.fixture
def settled(client, auth, catch_up, services):
    """Two cases in the views, and the views' position read afresh on every request."""
    for _ in range(2):
        _open_case(client, auth)
    catch_up()
    services.views.positions_ttl = 0


def test_a_repeated_read_is_answered_without_a_query_and_with_the_same_bytes(client, auth, settled, queries):
    for path in READS:
        first = client.get(f"{API}{path}", headers=auth("dinsos"))
        asked = dict(queries)
        again = client.get(f"{API}{path}", headers=auth("dinsos"))
        assert first.status_code == again.status_code == 200, path
        assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"], path
        assert queries == asked, f"{path} was queried again"
        assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
        for name in ("Content-Security-Policy", "Cache-Control", "X-Content-Type-Options", "Vary"):
            assert again.headers[name] == first.headers[name], name


def test_a_kept_answer_is_never_sent_to_another_reader(client, auth, settled, service, queries):
    service.add_user(SYSTEM, "tini", "worker", "pkh", PASSWORD, kecamatan=("35.01.01",))  # none of the cases
    whole = client.get(f"{API}/cases?pillar=pkh", headers=auth("wati"))
    assert whole.json["total"] == 2
    assert client.get(f"{API}/cases?pillar=pkh", headers=auth("tini")).json["total"] == 0
    assert client.get(f"{API}/workloads/pkh", headers=auth("wati")).json["open_cases"] == 2
    assert client.get(f"{API}/workloads/pkh", headers=auth("tini")).json["open_cases"] == 0
    # Another pillar's worker is refused what a PKH worker was answered a moment ago.
    for path in ("/cases?pillar=pkh", "/workloads/pkh"):
        assert client.get(f"{API}{path}", headers=auth("joko")).status_code == 403, path
    assert client.get(f"{API}/cases", headers=auth("joko")).json["total"] == 0
    assert client.get(f"{API}/cases", headers=auth("wati")).json["total"] == 2


def test_a_signed_out_or_deactivated_reader_is_refused_despite_a_kept_answer(client, auth, settled, service):
    headers = auth("wati")
    assert client.get(f"{API}/cases", headers=headers).status_code == 200
    assert client.post(f"{API}/auth/sign-out", headers=headers).status_code == 204
    refused = client.get(f"{API}/cases", headers=headers)
    assert refused.status_code == 401 and "signed out" in refused.json["message"]
    headers = auth("sri")
    assert client.get(f"{API}/workloads/pkh", headers=headers).status_code == 200
    service.deactivate_user(SYSTEM, "sri")
    assert client.get(f"{API}/workloads/pkh", headers=headers).status_code == 401


def test_a_change_of_scope_changes_the_answer(client, auth, settled, service):
    headers = auth("wati")
    assert client.get(f"{API}/cases", headers=headers).json["total"] == 2
    service.change_scope(SYSTEM, "wati", ("35.01.01",))
    assert client.get(f"{API}/cases", headers=headers).json["total"] == 0


def test_the_answer_follows_the_views_the_day_and_a_rebuild(client, auth, settled, catch_up, settings, queries,
                                                             monkeypatch):
    before = client.get(f"{API}/cases", headers=auth("dinsos")).json
    _open_case(client, auth)
    catch_up()
    after = client.get(f"{API}/cases", headers=auth("dinsos")).json
    assert (after["total"], after["position"]) == (before["total"] + 1, after["position"])
    assert after["position"] > before["position"]
    # A new day in Jakarta (overdue follow-ups, this month): read afresh.
    asked = queries["cases"]
    tomorrow = clock.today_in_jakarta() + timedelta(days=1)
    monkeypatch.setattr(clock, "today_in_jakarta", lambda: tomorrow)
    client.get(f"{API}/cases", headers=auth("dinsos"))
    assert queries["cases"] == asked + 1
    # A rebuild's swap writes the tracking row anew at the same position: read afresh.
    conn = ViewDB(settings.store).connect()
    try:
        with conn.transaction():
            conn.execute("UPDATE view_tracking SET updated_at = ?", ("2099-01-01T00:00:00.000000Z",))
    finally:
        conn.close()
    client.get(f"{API}/cases", headers=auth("dinsos"))
    assert queries["cases"] == asked + 2


def test_conditional_and_compressed_reads_are_answered_as_ever(client, auth, settled, catch_up):
    _open_case(client, auth)
    catch_up()  # three cases: over 1 KiB
    path = f"{API}/cases?per_page=50"
    plain = client.get(path, headers=auth("dinsos"))
    assert client.get(path, headers=auth("dinsos", **{"If-None-Match": plain.headers["ETag"]})).status_code == 304
    assert len(plain.data) > 1024 and "Content-Encoding" not in plain.headers
    for _ in range(2):
        packed = client.get(path, headers=auth("dinsos", **{"Accept-Encoding": "gzip"}))
        assert packed.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(packed.data)) == plain.json
    assert client.get(path, headers=auth("dinsos")).data == plain.data


def _kept_answers(app) -> kept_answers.KeptAnswers:
    """The KeptAnswers middleware, wherever it stands in the app's chain of WSGI middleware."""
    layer = app.wsgi_app
    while not isinstance(layer, kept_answers.KeptAnswers):
        layer = layer.app
    return layer


def test_kept_answers_are_counted_and_logged_as_any_read(client, auth, settled, app):
    from prometheus_client import REGISTRY

    def counted() -> float:
        return REGISTRY.get_sample_value("pilar_http_requests_total", {
            "method": "GET", "route": "/api/v1/workloads/<string:pillar>", "status": "200"}) or 0

    seen = []
    middleware = _kept_answers(app)
    assert isinstance(middleware, kept_answers.KeptAnswers)
    original = kept_answers.log_context.note
    kept_answers.log_context.note = lambda **values: (seen.append(values), original(**values))
    try:
        before = counted()
        for _ in range(3):
            assert client.get(f"{API}/workloads/pkh", headers=auth("sri")).status_code == 200
    finally:
        kept_answers.log_context.note = original
    assert counted() == before + 3
    assert {"user": "sri", "route": "/api/v1/workloads/<string:pillar>"} in seen


def test_what_is_kept_is_bounded(client, auth, settled, app, monkeypatch):
    middleware = _kept_answers(app)
    monkeypatch.setattr(kept_answers, "KEPT_BYTES", 3000)
    for per_page in range(1, 30):
        assert client.get(f"{API}/cases?per_page={per_page}", headers=auth("dinsos")).status_code == 200
        assert middleware._bytes <= 3000
        assert sum(len(k.body) for k in middleware._kept.values()) == middleware._bytes


def test_the_case_list_and_workload_are_exactly_what_their_documented_schemas_dump(client, auth, settled):
    """The views encode plain dicts: every field of the documented schema, in its type, nothing else."""
    listed = client.get(f"{API}/cases", headers=auth("dinsos")).json
    assert listed["items"] and CaseList().dump(listed) == listed
    assert set(listed) == set(CaseList().fields)
    detail = client.get(f"{API}/workloads/pkh", headers=auth("dinsos")).json
    assert PillarDetail().dump(detail) == detail and set(detail) == set(PillarDetail().fields)


def test_a_store_that_does_not_answer_is_a_503_not_a_kept_answer(client, auth, settled, services, monkeypatch):
    import sqlite3

    assert client.get(f"{API}/cases", headers=auth("dinsos")).status_code == 200

    def unreachable(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(services.views.queries, "positions", unreachable)
    answer = client.get(f"{API}/cases", headers=auth("dinsos"))
    assert answer.status_code == 503 and "Retry-After" in answer.headers
