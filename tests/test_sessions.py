"""Sign-in, sign-out, revocation and the idle timeout, as an attacker holding a token would try
them: a second Flask app on the same store stands for another gunicorn worker or server."""

import dataclasses
import logging

import pytest

from pilar.bootstrap import bootstrap
from pilar.cases import sessions, users
from pilar.cases.access import SYSTEM
from pilar.cases.account import UserAccount
from pilar.cases.passwords import hash_password
from testkit.fixtures import PASSWORD
from pilar.wsgi import create_app



@pytest.fixture
def other_worker(settings):
    """Another process's app on the same store, with its own caches."""
    services = bootstrap(settings)
    yield create_app(services).test_client()
    services.close()


def bearer(client, username="wati", password=PASSWORD) -> dict:
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.json
    return {"Authorization": f"Bearer {answer.json['token']}"}


def reads(client, headers) -> int:
    return client.get("/api/v1/workloads", headers=headers).status_code


def test_sign_out_retires_the_token_on_every_worker(client, other_worker, staff):
    token, kept = bearer(client), bearer(client)
    assert reads(client, token) == 200
    assert client.post("/api/v1/auth/sign-out", headers=token).status_code == 204
    assert reads(client, token) == 401
    assert reads(other_worker, token) == 401  # a worker that never saw the token
    assert client.post("/api/v1/auth/sign-out", headers=token).status_code == 401
    assert reads(client, kept) == 200 and reads(other_worker, kept) == 200  # only the token presented
    assert client.delete("/api/v1/auth/token", headers=kept).status_code == 204


def test_a_worker_that_checked_a_token_refuses_it_within_the_cache_bound(client, other_worker, staff, monkeypatch):
    token = bearer(client)
    assert reads(other_worker, token) == 200
    assert client.post("/api/v1/auth/sign-out", headers=token).status_code == 204
    monkeypatch.setattr(sessions, "SESSION_CACHE_SECONDS", 0.0)  # as if 5 s had passed
    assert reads(other_worker, token) == 200  # its 5 s are not over yet...
    other = other_worker.application.extensions["pilar"].signin.sessions
    other._known.clear()  # ...until they are
    assert reads(other_worker, token) == 401


def test_revoking_a_users_sessions_retires_every_token_issued_before(client, other_worker, auth, staff, monkeypatch):
    monkeypatch.setattr(users, "USER_CACHE_SECONDS", 0.0)
    first, second = bearer(client), bearer(other_worker)
    assert reads(other_worker, first) == 200
    assert client.post("/api/v1/users/wati/sessions/revocation", headers=auth("root"), json={}).status_code == 200
    for worker in (client, other_worker):
        assert reads(worker, first) == 401 and reads(worker, second) == 401
    assert reads(other_worker, bearer(other_worker)) == 200  # signing in again works
    assert reads(client, auth("agus")) == 200  # nobody else's


def test_a_deactivated_users_token_is_refused_and_stays_so_after_reactivation(client, other_worker, auth, staff,
                                                                              monkeypatch):
    monkeypatch.setattr(users, "USER_CACHE_SECONDS", 0.0)
    token = bearer(client)
    assert client.post("/api/v1/users/wati/deactivation", headers=auth("root"), json={}).status_code == 200
    assert reads(client, token) == 401 and reads(other_worker, token) == 401
    assert client.post("/api/v1/auth/token", json={"username": "wati", "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/users/wati/reactivation", headers=auth("root"), json={}).status_code == 200
    assert reads(other_worker, token) == 401
    assert reads(other_worker, bearer(other_worker)) == 200


class Clock:
    def __init__(self):
        import time

        self.now = time.time()
        self.mono = time.monotonic()

    def time(self):
        return self.now

    def monotonic(self):
        return self.mono

    def advance(self, seconds):
        self.now += seconds
        self.mono += seconds


def test_idle_timeout_refuses_a_token_unused_too_long_on_any_worker(settings, services, staff, monkeypatch):
    idle = dataclasses.replace(settings, idle_timeout=600)
    apps = [bootstrap(idle) for _ in range(2)]
    try:
        first, second = (create_app(s).test_client() for s in apps)
        clock = Clock()
        monkeypatch.setattr(sessions, "time", clock)
        token, idler = bearer(first), bearer(first)
        for _ in range(4):  # used every 4 minutes, alternately on each worker: never idle
            clock.advance(240)
            assert reads(first, token) == 200 and reads(second, token) == 200
        clock.advance(601)
        assert reads(second, idler) == 401  # unused for ten minutes and a second, here or anywhere
        assert reads(first, idler) == 401
        clock.advance(601)
        assert reads(first, token) == 401 and reads(second, token) == 401
        answer = first.post("/api/v1/auth/token", json={"username": "wati", "password": PASSWORD})
        assert answer.json["idle_timeout"] == 600
    finally:
        for s in apps:
            s.close()


def test_idle_timeout_writes_last_use_at_most_once_a_minute(settings, services, staff, monkeypatch):
    writes = []
    app_services = bootstrap(dataclasses.replace(settings, idle_timeout=900))
    try:
        store = app_services.signin.sessions.store
        seen = store.seen
        monkeypatch.setattr(store, "seen", lambda *a: (writes.append(a), seen(*a)))
        clock = Clock()
        monkeypatch.setattr(sessions, "time", clock)
        client = create_app(app_services).test_client()
        token = bearer(client)
        for _ in range(30):
            clock.advance(5)
            assert reads(client, token) == 200
        assert 1 <= len(writes) <= 4  # sign-in, then at most once a minute over 150 s
    finally:
        app_services.close()


def test_security_log_names_failed_sign_ins_and_refused_tokens_never_passwords(client, staff, caplog):
    with caplog.at_level(logging.INFO, logger="pilar.security"):
        client.post("/api/v1/auth/token", json={"username": "wati", "password": "a-wrong-password"})
        client.post("/api/v1/auth/token", json={"username": 'x" event=forged', "password": "a-wrong-password"})
        token = bearer(client)
        client.post("/api/v1/auth/sign-out", headers=token)
        reads(client, token)
        reads(client, {"Authorization": "Bearer not-a-token"})
        reads(client, {"Authorization": "Bearer " + token["Authorization"][7:] + "x"})
    lines = [r.getMessage() for r in caplog.records if r.name == "pilar.security"]
    assert lines == [
        "event=sign_in_failed user=wati client=127.0.0.1 path=/api/v1/auth/token",
        "event=sign_in_unknown_user user=- client=127.0.0.1 path=/api/v1/auth/token",
        "event=signed_out user=wati client=127.0.0.1 path=/api/v1/auth/sign-out",
        "event=token_signed_out user=wati client=127.0.0.1 path=/api/v1/workloads",
        "event=token_invalid user=- client=127.0.0.1 path=/api/v1/workloads",
        "event=token_invalid user=- client=127.0.0.1 path=/api/v1/workloads",
    ]
    assert "wrong-password" not in caplog.text and PASSWORD not in caplog.text and "forged" not in caplog.text


def test_the_security_log_takes_the_address_a_trusted_proxy_gives(settings, services, staff, caplog):
    behind_proxy = create_app(dataclasses.replace(services, settings=dataclasses.replace(settings, trusted_proxies=1)))
    with caplog.at_level(logging.WARNING, logger="pilar.security"):
        behind_proxy.test_client().post("/api/v1/auth/token", json={"username": "wati", "password": "a-wrong-one!"},
                                        headers={"X-Forwarded-For": "203.0.113.7"})
        create_app(services).test_client().post("/api/v1/auth/token", json={"username": "wati", "password": "nope"},
                                                headers={"X-Forwarded-For": "203.0.113.7"})
    clients = [r.getMessage().split(" ")[2] for r in caplog.records if r.name == "pilar.security"]
    assert clients == ["client=203.0.113.7", "client=127.0.0.1"]  # untrusted X-Forwarded-For is ignored


def test_users_change_their_own_password_only_with_the_current_one(client, staff):
    token = bearer(client)
    wrong = client.post("/api/v1/auth/password", headers=token,
                        json={"current_password": "not-my-password", "password": "sawah-di-ngadirojo-9"})
    assert wrong.status_code == 422 and "current_password" in wrong.json["errors"]["json"]
    weak = client.post("/api/v1/auth/password", headers=token,
                       json={"current_password": PASSWORD, "password": "iloveyou2024"})
    assert weak.status_code == 422 and "password" in weak.json["errors"]["json"]
    assert client.post("/api/v1/auth/password", json={"current_password": PASSWORD,
                                                      "password": "sawah-di-ngadirojo-9"}).status_code == 401
    assert client.post("/api/v1/auth/password", headers=token, json={
        "current_password": PASSWORD, "password": "sawah-di-ngadirojo-9"}).status_code == 204
    assert reads(client, token) == 401
    assert reads(client, bearer(client, password="sawah-di-ngadirojo-9")) == 200


def test_old_passwords_and_tokens_from_before_still_work(client, service, services, staff):
    # An account whose password predates the rules (10 characters) still signs in.
    legacy = UserAccount.add(actor="system", username="lama", role="worker", pillars="pkh",
                             password_hash=hash_password("1234567890"))
    service.save(legacy)
    assert client.post("/api/v1/auth/token", json={"username": "lama", "password": "1234567890"}).status_code == 200
    # A token issued before tokens had ids (and with no session row) holds, and can be signed out.
    from pilar.cases.signin import password_stamp

    old = services.signin.tokens.issue({"u": "wati", "p": password_stamp(service.user("wati").password_hash)})
    headers = {"Authorization": f"Bearer {old}"}
    assert reads(client, headers) == 200
    assert client.post("/api/v1/auth/sign-out", headers=headers).status_code == 204
    assert reads(client, headers) == 401
    assert service.add_user(SYSTEM, "baru", "worker", "pkh", "kopi-tubruk-pacitan")
