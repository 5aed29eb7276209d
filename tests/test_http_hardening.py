"""HTTP hardening (issue 13, item 5): security headers on every answer, HSTS only over TLS (as this
server sees it, or as a trusted proxy says, never as a client says), CORS closed unless configured,
a body over the limit a 413 however it is sent, and on a real gunicorn: no Server header, and the
connection after a 413 announced closed."""

import base64
import hashlib
import io
import re
import socket
import threading
from dataclasses import replace
from uuid import uuid4

import pytest

from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token
from pilar.wsgi import PAGES_CSP, create_app

API = "/api/v1"
SAME_EVERYWHERE = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
APP_ORIGIN = "https://app.pilar.example"


def _answers(client, auth, **headers):
    """One answer of each kind, with its expected status: API reads and errors, health, docs, pages."""
    too_big = b'{"name": "' + b"x" * 20_000 + b'"}'  # the tests' limit is 16 KiB
    chunked = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    return {
        "API read": (client.get(f"{API}/workloads", headers=auth("sri", **headers)), 200),
        "sign-in": (client.post(f"{API}/auth/token", json={"username": "wati", "password": PASSWORD},
                                headers=headers), 200),
        "401": (client.get(f"{API}/workloads", headers=headers), 401),
        "403": (client.get(f"{API}/events", headers=auth("wati", **headers)), 403),
        "404": (client.get(f"{API}/cases/{uuid4()}", headers=auth("wati", **headers)), 404),
        "404 no route": (client.get(f"{API}/no-such-thing", headers=headers), 404),
        "405": (client.delete(f"{API}/workloads", headers=auth("sri", **headers)), 405),
        "413": (client.post(f"{API}/beneficiaries", data=too_big, content_type="application/json",
                            headers=auth("wati", **headers)), 413),
        "413 chunked": (client.post(f"{API}/beneficiaries", input_stream=io.BytesIO(too_big),
                                    headers=auth("wati", **chunked, **headers)), 413),
        "422": (client.get(f"{API}/events?after=-1", headers=auth("inspektur", **headers)), 422),
        "healthz": (client.get("/healthz", headers=headers), 200),
        "readyz": (client.get("/readyz", headers=headers), 200),
        "metrics": (client.get("/metrics", headers=headers), 200),
        "OpenAPI document": (client.get(f"{API}/openapi.json", headers=headers), 200),
        "docs": (client.get(f"{API}/docs", headers=headers), 200),
        "page 404": (client.get("/no-such-page", headers=headers), 404),
    }


def test_every_answer_carries_the_security_headers(client, auth):
    for kind, (answer, status) in _answers(client, auth).items():
        assert answer.status_code == status, (kind, answer.get_data(as_text=True)[:200])
        page = kind.startswith("page")  # pages load their stylesheet and send their address to this server
        for name, value in {**SAME_EVERYWHERE, **({"Referrer-Policy": "same-origin"} if page else {})}.items():
            assert answer.headers.get(name) == value, (kind, name)
        assert answer.headers["Cache-Control"] == "no-store", kind
        if kind != "docs":
            assert answer.headers["Content-Security-Policy"] == (PAGES_CSP if page else STRICT_CSP), kind
        assert "Strict-Transport-Security" not in answer.headers, kind  # plain HTTP, no proxy trusted
        assert "Access-Control-Allow-Origin" not in answer.headers, kind


def test_hsts_only_over_https_as_this_server_or_a_trusted_proxy_sees_it(services, settings, client, auth):
    https = client.application.test_client()
    assert https.get("/healthz", base_url="https://localhost").headers["Strict-Transport-Security"] == HSTS
    # Without PILAR_TRUSTED_PROXIES, anyone could send X-Forwarded-Proto: it changes nothing.
    for kind, (answer, _) in _answers(client, auth, **{"X-Forwarded-Proto": "https"}).items():
        assert "Strict-Transport-Security" not in answer.headers, kind
    behind_proxy = create_app(replace(services, settings=replace(settings, trusted_proxies=1))).test_client()
    for kind, (answer, status) in _answers(behind_proxy, auth, **{"X-Forwarded-Proto": "https"}).items():
        assert answer.status_code == status, kind
        assert answer.headers["Strict-Transport-Security"] == HSTS, kind
    for kind, (answer, _) in _answers(behind_proxy, auth, **{"X-Forwarded-Proto": "http"}).items():
        assert "Strict-Transport-Security" not in answer.headers, kind


def test_the_docs_page_runs_only_what_this_server_serves(client):
    page = client.get(f"{API}/docs")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.headers["Content-Security-Policy"]
    inline = re.findall(rb"<script>(.*?)</script>", page.data, re.DOTALL)
    assert len(inline) == 1
    assert policy["script-src"] == f"'self' 'sha256-{base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()}'"
    assert b'validatorUrl": null' in page.data  # no badge fetched from an online validator
    # Everything else the page loads comes from this server (so the docs work offline), with the headers.
    assets = re.findall(rb'(?:src|href)="([^"]+)"', page.data)
    assert len(assets) == 3
    for asset in assets:
        assert asset.startswith(b"/api/v1/docs/static/"), asset
        served = client.get(asset.decode())
        assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Security-Policy"] == STRICT_CSP
        served.close()


def _preflight(client, origin):
    return client.options(f"{API}/cases", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "authorization, content-type"})


def test_cors_is_closed_unless_configured(services, settings, client, auth):
    assert "Access-Control-Allow-Origin" not in client.get(f"{API}/workloads",
                                                           headers=auth("sri", Origin=APP_ORIGIN)).headers
    assert not [h for h in _preflight(client, APP_ORIGIN).headers if h[0].startswith("Access-Control")]

    opened = create_app(replace(services, settings=replace(settings, cors_origins=(APP_ORIGIN,)))).test_client()
    preflight = _preflight(opened, APP_ORIGIN)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert {"Authorization", "Content-Type", "If-Match", "Idempotency-Key"} <= {
        h.strip() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    read = opened.get(f"{API}/workloads", headers=auth("sri", Origin=APP_ORIGIN))
    assert read.status_code == 200 and read.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Origin" in read.headers["Vary"] and "ETag" in read.headers["Access-Control-Expose-Headers"]
    assert "X-Request-ID" in read.headers["Access-Control-Expose-Headers"]  # a browser may read the request's id
    # Any other origin, and a configured one's look-alike, get nothing.
    for stranger in ("https://evil.example", APP_ORIGIN + ".evil.example", "null"):
        assert "Access-Control-Allow-Origin" not in opened.get(f"{API}/workloads",
                                                               headers=auth("sri", Origin=stranger)).headers
        assert "Access-Control-Allow-Origin" not in _preflight(opened, stranger).headers
    # Pages and health are not the API's: no CORS for them even from the configured origin.
    assert "Access-Control-Allow-Origin" not in opened.get("/no-such-page", headers={"Origin": APP_ORIGIN}).headers


# ----------------------------------------------------------------------------- a real gunicorn

def _send(sock: socket.socket, data: bytes) -> threading.Thread:
    """Sends in the background: a server that answers 413 stops reading, and the answer must be
    read while the rest of the body is still on its way."""
    def send():
        try:
            sock.sendall(data)
        except OSError:
            pass
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed within an answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _closed(sock: socket.socket) -> bool:
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: pilar.test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _chunked(body: bytes, size: int = 8192) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # framing and body limits: before any store read
def test_gunicorn_says_who_it_is_not_and_closes_honestly_after_a_413(settings, services, staff, tmp_path):
    with Gunicorn(settings, workers=1, log=tmp_path / "gunicorn.log") as server:
        bearer = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}",
                  "Content-Type": "application/json"}
        # An ordinary conversation keeps its connection: a write's body read, then a read.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sign_in = b'{"username": "wati", "password": "%s"}' % PASSWORD.encode()
            sock.sendall(_request("POST", f"{API}/auth/token", {"Content-Type": "application/json",
                                                                  "Content-Length": str(len(sign_in))}, sign_in))
            status, headers, _ = _read_answer(sock)
            assert (status, headers["connection"]) == (200, "keep-alive")
            assert "server" not in headers
            assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
            sock.sendall(_request("GET", "/healthz", {"X-Forwarded-Proto": "https"}))
            status, headers, _ = _read_answer(sock)
            assert status == 200 and "server" not in headers
            assert "strict-transport-security" not in headers  # no proxy is trusted: gunicorn's default is off

        for size in (70_000, 2_000_000):
            body = b'{"name": "' + b"x" * size + b'"}'
            for framing in ("Content-Length", "chunked"):
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                    if framing == "chunked":
                        request = _request("POST", f"{API}/beneficiaries",
                                           {**bearer, "Transfer-Encoding": "chunked"}, _chunked(body))
                    else:
                        request = _request("POST", f"{API}/beneficiaries",
                                           {**bearer, "Content-Length": str(len(body))}, body)
                    _send(sock, request)
                    status, headers, answer = _read_answer(sock)
                    assert status == 413, (size, framing, answer)
                    assert b"Content Too Large" in answer
                    # The rest of the body is not read, so the answer says the connection ends, and it does.
                    assert headers["connection"] == "close", (size, framing)
                    assert "server" not in headers
                    assert _closed(sock), (size, framing)
                # and the client's next request, on a new connection, is answered
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                    sock.sendall(_request("GET", "/healthz", {}))
                    assert _read_answer(sock)[0] == 200


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # headers of /healthz, which reads no store
def test_gunicorn_behind_a_trusted_proxy_sends_hsts_over_https_only(settings, services, tmp_path):
    with Gunicorn(replace(settings, trusted_proxies=1), workers=1, log=tmp_path / "gunicorn.log") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_request("GET", "/healthz", {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"}))
            status, headers, _ = _read_answer(sock)
            assert status == 200 and headers["strict-transport-security"] == HSTS
            sock.sendall(_request("GET", "/healthz", {"X-Forwarded-Proto": "http"}))
            status, headers, _ = _read_answer(sock)
            assert status == 200 and "strict-transport-security" not in headers


def test_a_write_that_keeps_colliding_answers_503_with_retry_after_and_writes_nothing(
        client, auth, service, monkeypatch):
    from eventsourcing.persistence import IntegrityError

    from pilar.cases import write_path

    beneficiary = client.post("/api/v1/beneficiaries", json=factories.person(), headers=auth("wati")).json["id"]
    case_id = client.post("/api/v1/cases", json=factories.case(beneficiary), headers=auth("wati")).json["id"]
    head = service.recorder.max_notification_id()
    waits = []
    monkeypatch.setattr(write_path.time, "sleep", waits.append)
    monkeypatch.setattr(type(service), "save", lambda self, *aggregates: (_ for _ in ()).throw(IntegrityError()))
    answer = client.post(f"/api/v1/cases/{case_id}/follow-ups", json=factories.follow_up(),
                         headers=auth("wati", **{"Idempotency-Key": "contended-1"}))
    assert answer.status_code == 503, answer.json
    assert answer.headers["Retry-After"] == "1"
    assert answer.json["rule"] == "concurrent_writes" and "same Idempotency-Key" in answer.json["message"]
    # Each re-decision waited a random moment under a ceiling that doubles, up to 50 ms.
    assert len(waits) == write_path.WRITE_ATTEMPTS - 1
    assert all(0 <= w <= min(write_path.BACKOFF_CEILING, write_path.BACKOFF_FIRST * 2 ** (i + 1))
               for i, w in enumerate(waits))
    assert service.recorder.max_notification_id() == head
