"""deploy/nginx/pilar.conf in front of gunicorn, run with Debian's nginx on this machine (installed when
missing): slow clients wait in nginx, TLS and the forwarded headers reach Pilar as PILAR_TRUSTED_PROXIES=1
expects, a client's own X-Forwarded-For is not believed, and no security header is sent twice.
gunicorn runs its own gthread worker here (1 × 4 threads), which alone stalls under such a crowd
(tests/test_slow_clients.py): what keeps the others answered is nginx."""

import json
import time

import pytest
import requests

from testkit.fixtures import PASSWORD
from testkit.nginx import Nginx
from testkit.servers import Gunicorn
from testkit.slow_clients import slow_crowd, timed

pytestmark = pytest.mark.slow

TRICKLE = 10.0
# PILAR_MAX_BODY_BYTES: the default, which the site file's client_max_body_size matches.
BEHIND_NGINX = {"PILAR_TRUSTED_PROXIES": "1", "GUNICORN_CMD_ARGS": "--worker-class gthread", "PILAR_THREADS": "4",
                "PILAR_MAX_BODY_BYTES": "65536"}


@pytest.fixture
def stack(settings, staff, tmp_path):
    log = tmp_path / "gunicorn.log"
    with Gunicorn(settings, workers=1, log=log, env=BEHIND_NGINX) as server:
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        with Nginx(prefix, server.port) as nginx:
            yield nginx, log


def test_nginx_accepts_the_site_file(tmp_path):
    checked = Nginx(tmp_path, 8000).check()
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # gunicorn reads requests alike over either store
def test_sixteen_slow_clients_through_nginx_do_not_stall_other_users(stack):
    nginx, _ = stack
    signed_in = requests.post(f"{nginx.url}/api/v1/auth/token", json={"username": "wati", "password": PASSWORD},
                              verify=nginx.cert, timeout=10)
    bearer = signed_in.json()["token"]
    crowd = slow_crowd(nginx.url, 16, TRICKLE)
    time.sleep(1.5)
    answers = [timed("GET", f"{nginx.url}/healthz", verify=nginx.cert, timeout=TRICKLE),
               timed("GET", f"{nginx.url}/api/v1/cases", headers={"Authorization": f"Bearer {bearer}"},
                     verify=nginx.cert, timeout=TRICKLE)]
    still_trickling = all(t.is_alive() and t.closed_after is None for t in crowd)
    for trickler in crowd:
        trickler.join()
    assert still_trickling
    for seconds, status in answers:
        assert status == 200
        assert seconds < TRICKLE / 10, f"answered after {seconds:.1f} s while slow clients trickled for {TRICKLE} s"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # gunicorn reads requests alike over either store
def test_tls_forwarded_headers_and_the_body_limit(stack):
    nginx, log = stack
    redirect = requests.get(f"{nginx.http_url}/cases?page=2", allow_redirects=False, timeout=5)
    assert redirect.status_code == 301 and redirect.headers["Location"] == "https://127.0.0.1/cases?page=2"

    answer = requests.get(f"{nginx.url}/healthz", verify=nginx.cert, timeout=5)
    for name in ("Strict-Transport-Security", "X-Content-Type-Options", "Content-Security-Policy",
                 "Referrer-Policy", "X-Frame-Options", "Cache-Control"):
        assert len(answer.raw.headers.getlist(name)) == 1, name  # HSTS: Pilar was told the request came over TLS

    forged = requests.post(f"{nginx.url}/api/v1/auth/token", json={"username": "wati", "password": "not-the-password"},
                           headers={"X-Forwarded-For": "203.0.113.9"}, verify=nginx.cert, timeout=5)
    assert forged.status_code == 401
    time.sleep(0.5)
    lines = [json.loads(line) for line in log.read_text().splitlines() if '"sign_in_failed"' in line]
    assert lines and lines[-1]["client"] == "127.0.0.1", lines
    assert "203.0.113.9" not in log.read_text()

    too_large = requests.post(f"{nginx.url}/api/v1/auth/token", data=b"x" * 70_000, verify=nginx.cert, timeout=5,
                              headers={"Content-Type": "application/json"})
    assert too_large.status_code == 413  # refused by nginx, in Pilar's shape
    assert too_large.json() == {"code": 413, "status": "Content Too Large",
                                "message": "The body is larger than 65536 bytes."}
    within = requests.post(f"{nginx.url}/api/v1/auth/token", data=b"x" * 60_000, verify=nginx.cert, timeout=5,
                           headers={"Content-Type": "application/json"})
    assert within.status_code == 400  # Pilar's own answer: not JSON
