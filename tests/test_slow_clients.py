"""Slow clients against gunicorn alone (gunicorn_worker.py): connections trickling a head or a body
one byte per 0.5 s hold none of the 2×4 threads, and a request that takes too long to arrive is
answered 408 and closed. Harsher than the production set-up (2 workers × 4 threads against 8 slow
clients): one worker with 4 threads against 16, since the kernel need not share connections evenly
between workers, and the control below, gunicorn's own gthread, must stall for certain."""

import socket
import time

import pytest
import requests

from pilar.gunicorn_worker import request_complete
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token
from testkit.slow_clients import HEAD, Trickler, slow_crowd, timed

pytestmark = pytest.mark.slow

TRICKLE = 10.0  # seconds the slow clients keep at it
# Deadlines long enough that the crowd is not cut off meanwhile.
PATIENT = {"PILAR_HEADER_TIMEOUT": "60", "PILAR_BODY_TIMEOUT": "60", "PILAR_THREADS": "4"}


def _others_while_crowded(server: Gunicorn, bearer: str, count: int = 16) -> tuple[list, bool]:
    """How long /healthz and a signed-in GET took while `count` slow clients trickled, and whether
    every slow client was still connected and sending when they had been answered."""
    crowd = slow_crowd(server.url, count, TRICKLE)
    time.sleep(1.5)  # every slow connection accepted and part-way through its request
    answers = [timed("GET", f"{server.url}/healthz", timeout=TRICKLE),
               timed("GET", f"{server.url}/api/v1/cases", headers={"Authorization": f"Bearer {bearer}"},
                     timeout=TRICKLE)]
    still_trickling = all(t.is_alive() and t.closed_after is None for t in crowd)
    for trickler in crowd:
        trickler.join()
    return answers, still_trickling


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # gunicorn reads requests alike over either store
def test_slow_clients_do_not_stall_other_users(settings, staff, tmp_path):
    with Gunicorn(settings, workers=1, log=tmp_path / "gunicorn.log", env=PATIENT) as server:
        bearer = token(server.url, "wati", PASSWORD)
        answers, still_trickling = _others_while_crowded(server, bearer)
    assert still_trickling, "the slow clients were cut off before the others were answered"
    for seconds, status in answers:
        assert status == 200
        assert seconds < TRICKLE / 10, f"answered after {seconds:.1f} s while slow clients trickled for {TRICKLE} s"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # gunicorn reads requests alike over either store
def test_plain_gthread_stalls_under_the_same_crowd(settings, staff, tmp_path):
    """The control: gunicorn's own gthread worker, with the same settings otherwise, does stall."""
    env = PATIENT | {"GUNICORN_CMD_ARGS": "--worker-class gthread"}
    with Gunicorn(settings, workers=1, log=tmp_path / "gunicorn.log", env=env) as server:
        bearer = token(server.url, "wati", PASSWORD)
        answers, _ = _others_while_crowded(server, bearer)
        seconds = answers[0][0]
    assert seconds > TRICKLE / 3


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # gunicorn reads requests alike over either store
def test_a_request_that_does_not_arrive_in_time_is_answered_408(settings, service, tmp_path):
    env = {"PILAR_HEADER_TIMEOUT": "2", "PILAR_BODY_TIMEOUT": "2"}
    with Gunicorn(settings, workers=1, log=tmp_path / "gunicorn.log", env=env) as server:
        slow = [Trickler(server.url, b"", HEAD, 20), Trickler(server.url, b"POST /x HTTP/1.1\r\nHost: p\r\n"
                                                              b"Content-Length: 50\r\n\r\n", b"{" * 50, 20)]
        for trickler in slow:
            trickler.start()
        for trickler in slow:
            trickler.join()
    for trickler in slow:
        assert trickler.closed_after is not None and trickler.closed_after < 6
        assert trickler.answer.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # gunicorn reads requests alike over either store
def test_kept_alive_and_pipelined_requests_are_still_answered(settings, service, tmp_path):
    with Gunicorn(settings, workers=1, log=tmp_path / "gunicorn.log") as server:
        with requests.Session() as session:  # one connection, reused
            for _ in range(3):
                assert session.get(f"{server.url}/healthz", timeout=5).status_code == 200
            refused = session.post(f"{server.url}/api/v1/auth/token", json={"username": "nobody", "password": "x" * 20},
                                   timeout=5)
            assert refused.status_code == 401
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n" * 2 + b"GET /healthz HTTP/1.1\r\nHost: p\r\n"
                         b"Connection: close\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received.count(b"HTTP/1.1 200 ") == 3


@pytest.mark.parametrize(("request_bytes", "complete"), [
    (b"GET / HTTP/1.1\r\nHost: p\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: p\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", False),
    (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", True),  # over the limit: refused unread
    (b"POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", False),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", True),  # for the parser to refuse
])
def test_when_a_request_is_all_there(request_bytes, complete):
    assert request_complete(request_bytes, 64 * 1024) is complete
