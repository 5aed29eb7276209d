"""Rate limits on failed sign-ins and NIK look-ups (pilar/api/limits.py) and their counters in the store
(pilar/store/rate_limits.py), on SQLite and PostgreSQL. Across gunicorn workers: tests/test_gunicorn.py."""

import logging
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from pilar.settings import Settings
from pilar.store import rate_limits
from pilar.store.rate_limits import StoreRateLimits
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import pilar_env

API = "/api/v1"
OTHER_OFFICE = {"REMOTE_ADDR": "10.1.2.3"}



def sign_in(client, username, password, environ=None):
    return client.post(f"{API}/auth/token", json={"username": username, "password": password},
                       environ_base=environ or {})


def look_up(client, auth, user="wati"):
    return client.post(f"{API}/beneficiaries/search", json={"nik": factories.person()["nik"]}, headers=auth(user))


def assert_limited(response, limit: str, window: int):
    assert response.status_code == 429, response.json
    assert response.json["code"] == 429 and response.json["status"] == "Too Many Requests"
    assert response.json["limit"] == limit
    assert 1 <= int(response.headers["Retry-After"]) <= window + 1
    assert f"try again in {response.headers['Retry-After']} s" in response.json["message"]


# ---------------------------------------------------------------- the counters in the store
@pytest.fixture
def counters(services):
    return StoreRateLimits(readers=services.readers)


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(rate_limits, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


def test_counters_count_within_their_window_and_start_again_after(counters, clock):
    assert [counters.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert counters.incr("k", 60, amount=2) == 5
    assert counters.get("k") == 5 and counters.get("other") == 0
    assert counters.get_expiry("k") == clock[0] + 60
    clock[0] += 59
    assert counters.get("k") == 5
    clock[0] += 1  # the window has ended
    assert counters.get("k") == 0 and counters.get_expiry("k") == clock[0]
    assert counters.incr("k", 60) == 1
    assert counters.get_expiry("k") == clock[0] + 60


def test_ended_windows_are_pruned_and_counters_cleared(counters, clock, services):
    counters.incr("LIMITER/user:a/x", 10)
    counters.incr("LIMITER/user:b/x", 10)
    counters.incr("LIMITER/user:ab/x", 1000)
    clock[0] += rate_limits.PRUNE_EVERY + 1
    counters.incr("fresh", 10)  # a write prunes (at most once a minute per process)
    with services.readers.connection() as conn:
        keys = {key for (key,) in conn.all("SELECT key FROM pilar_rate_limits")}
    assert keys == {"LIMITER/user:ab/x", "fresh"}
    assert counters.clear_prefix("LIMITER/user:a/") == 0  # a prefix, not a pattern: user:ab stays
    assert counters.clear_prefix("LIMITER/user:ab/") == 1
    counters.clear("fresh")
    assert counters.get("fresh") == 0 and counters.check()
    counters.incr("x", 10)
    assert counters.reset() == 1


def test_increments_from_many_threads_are_each_counted_once(counters):
    seen: list[int] = []

    def hit():
        for _ in range(25):
            seen.append(counters.incr("shared", 60))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 201))
    assert counters.get("shared") == 200


# ---------------------------------------------------------------- sign-in
def test_the_sixth_failed_sign_in_is_429_even_with_the_right_password(client, staff, caplog):
    for _ in range(5):
        assert sign_in(client, "wati", "wrong-password").status_code == 401
    with caplog.at_level(logging.WARNING, logger="pilar.security"):
        refused = sign_in(client, "wati", PASSWORD)
    assert_limited(refused, "signin_user", 15 * 60)
    assert "failed sign-ins for this user" in refused.json["message"]
    assert "5 per 15 minute" in refused.json["message"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "pilar.security" and "rate_limited" in r.getMessage()]
    assert line == "event=rate_limited user=wati client=127.0.0.1 path=/api/v1/auth/token limit=signin_user"
    assert PASSWORD not in caplog.text
    # Another user, from the same address, is not affected.
    assert sign_in(client, "agus", PASSWORD).status_code == 200


def test_successful_sign_ins_never_count(client, staff):
    for i in range(40):  # more than the address's 30
        assert sign_in(client, ("wati", "agus", "joko")[i % 3], PASSWORD).status_code == 200
    for _ in range(5):
        assert sign_in(client, "wati", "wrong-password").status_code == 401
    assert sign_in(client, "wati", "wrong-password").status_code == 429


def test_failed_sign_ins_are_limited_per_address_across_usernames(client, staff, caplog):
    for i in range(30):
        assert sign_in(client, f"nobody{i}", "wrong-password").status_code == 401
    with caplog.at_level(logging.WARNING, logger="pilar.security"):
        refused = sign_in(client, "wati", PASSWORD)
    assert_limited(refused, "signin_address", 15 * 60)
    assert "from this address" in refused.json["message"]
    # A name that is no account (perhaps a password typed in the wrong field) is never logged.
    limited = sign_in(client, "my-secret-password", "x")
    assert limited.status_code == 429
    assert "my-secret-password" not in caplog.text
    assert sign_in(client, "wati", PASSWORD, OTHER_OFFICE).status_code == 200


def test_limits_are_configurable(services, staff):
    from dataclasses import replace

    from pilar.wsgi import create_app

    services.settings = replace(services.settings, signin_limit_user="2 per hour")
    client = create_app(services).test_client()
    for _ in range(2):
        assert sign_in(client, "wati", "wrong-password").status_code == 401
    refused = sign_in(client, "wati", PASSWORD)
    assert_limited(refused, "signin_user", 3600)
    assert "2 per 1 hour" in refused.json["message"]


def test_a_limit_that_cannot_be_read_stops_the_start_with_its_name():
    with pytest.raises(ValueError, match="PILAR_LOOKUP_LIMIT='sixty' is not a rate limit"):
        Settings.from_env({"PILAR_LOOKUP_LIMIT": "sixty"})
    with pytest.raises(ValueError, match="PILAR_SIGNIN_LIMIT_ADDRESS"):
        Settings.from_env({"PILAR_SIGNIN_LIMIT_ADDRESS": "0 per minute"})
    assert Settings.from_env({"PILAR_SIGNIN_LIMIT_USER": "3/hour"}).signin_limit_user == "3/hour"


# ---------------------------------------------------------------- look-ups
def test_the_61st_look_up_in_a_minute_is_429(client, auth, caplog):
    for _ in range(60):
        assert look_up(client, auth).status_code == 200
    with caplog.at_level(logging.WARNING, logger="pilar.security"):
        refused = look_up(client, auth)
    assert_limited(refused, "lookup", 60)
    assert "look-ups by NIK" in refused.json["message"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "pilar.security" and "rate_limited" in r.getMessage()]
    assert line == "event=rate_limited user=wati client=127.0.0.1 path=/api/v1/beneficiaries/search limit=lookup"
    assert look_up(client, auth, "agus").status_code == 200  # per user


# ---------------------------------------------------------------- when the counters fail
def test_without_counters_sign_in_fails_closed_and_look_ups_fail_open(client, auth, services, caplog):
    headers = auth("wati")  # signed in while the counters work
    with services.readers.connection() as conn:
        conn.execute("DROP TABLE pilar_rate_limits")
    with caplog.at_level(logging.WARNING, logger="pilar.security"):
        refused = sign_in(client, "agus", PASSWORD)
        found = client.post(f"{API}/beneficiaries/search", json={"nik": factories.person()["nik"]}, headers=headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "rate limits cannot be checked" in refused.json["message"]
    assert found.status_code == 200
    assert "event=rate_limit_store_unavailable" in caplog.text


# ---------------------------------------------------------------- documented, and reset by a command
def test_the_429_is_documented(client):
    paths = client.get(f"{API}/openapi.json").json["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/beneficiaries/search"):
        assert "429" in paths[path]["post"]["responses"]


def test_pilar_limits_reset_unblocks_a_user(settings, client, staff):
    for _ in range(6):
        sign_in(client, "wati", "wrong-password")
    assert sign_in(client, "wati", PASSWORD).status_code == 429
    pilar = str(Path(sys.executable).parent / "pilar")
    done = subprocess.run([pilar, "limits", "reset", "--user", "wati"], capture_output=True, text=True,
                          env=pilar_env(settings), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cleared 1 rate-limit counter(s)" in done.stdout
    assert sign_in(client, "wati", PASSWORD).status_code == 200
