"""The `pilar` command and `make run`, run as a newcomer would run them."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pilar.settings import PROJECT_ROOT
from testkit.servers import free_port, pilar_env

PILAR = str(Path(sys.executable).parent / "pilar")


def run(settings, *args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([PILAR, *args], input=stdin, capture_output=True, text=True, env=pilar_env(settings),
                          timeout=120)


def sign_in(app, username: str, password: str) -> int:
    return app.test_client().post("/api/v1/auth/token", json={"username": username, "password": password}).status_code


def test_first_start_creates_admin_once_and_prints_its_password(settings, app):
    assert run(settings, "db", "init").returncode == 0
    first = run(settings, "users", "ensure-admin")
    assert first.returncode == 0
    password = re.search(r"one-time password:\s+(\S+)", first.stdout).group(1)
    assert sign_in(app, "admin", password) == 200
    again = run(settings, "users", "ensure-admin")
    assert again.returncode == 0 and again.stdout == ""


def test_users_add_reads_the_password_from_stdin(settings, app):
    run(settings, "db", "init")
    added = run(settings, "users", "add", "wati", "--role", "worker", "--pillar", "pkh", stdin="a-long-password\n")
    assert added.returncode == 0, added.stderr
    assert sign_in(app, "wati", "a-long-password") == 200
    assert sign_in(app, "wati", "wrong-password") == 401

    duplicate = run(settings, "users", "add", "wati", "--role", "worker", "--pillar", "pkh", stdin="another-password\n")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = run(settings, "users", "add", "agus", "--role", "worker", "--pillar", "pkh", stdin="short\n")
    assert short.returncode == 1 and "password" in short.stderr
    no_pillar = run(settings, "users", "add", "joko", "--role", "worker", stdin="a-long-password\n")
    assert no_pillar.returncode == 1 and "pillar" in no_pillar.stderr
    bad_role = run(settings, "users", "add", "joko", "--role", "boss", stdin="a-long-password\n")
    assert bad_role.returncode == 2 and "role" in bad_role.stderr


def test_demo_loads_a_regency_once(settings, app, service):
    run(settings, "db", "init")
    loaded = run(settings, "demo", "--people", "12")
    assert loaded.returncode == 0, loaded.stderr
    assert re.search(r"\b12 beneficiaries, 12 cases\b", loaded.stdout)
    assert sign_in(app, "pkh.pendamping", "demo-password") == 200
    stored = service.recorder.max_notification_id()
    again = run(settings, "demo", "--people", "12")
    assert again.returncode == 0 and re.search(r"\b0 beneficiaries, 0 cases\b", again.stdout)
    assert service.recorder.max_notification_id() == stored


@pytest.mark.slow
def test_make_run_serves_the_embedded_store(tmp_path):
    port = free_port()
    env = dict(os.environ, PORT=str(port), PILAR_INSTANCE_PATH=str(tmp_path / "instance"), PILAR_ACCESS_LOG="")
    env.pop("PILAR_DATABASE_URL", None)
    server = subprocess.Popen(["make", "run"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        password = None
        for line in server.stdout:
            if match := re.search(r"one-time password:\s+(\S+)", line):
                password = match.group(1)
                break
        assert password, "make run printed no admin password"
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        answer = requests.post(f"{url}/api/v1/auth/token", json={"username": "admin", "password": password}, timeout=10)
        assert answer.status_code == 200
        assert (tmp_path / "instance" / "pilar.db").exists()
        assert requests.get(f"{url}/api/v1/docs", timeout=10).status_code == 200
        # The projection process runs beside the server: the views catch up with the store.
        deadline = time.monotonic() + 20
        while (views := requests.get(f"{url}/readyz", timeout=5).json()["views"])["position"] == 0:
            assert time.monotonic() < deadline, views
            time.sleep(0.2)
        assert views["lag"] == 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()


def test_password_change_and_deactivation_retire_old_tokens(settings, app):
    run(settings, "db", "init")
    run(settings, "users", "add", "wati", "--role", "worker", "--pillar", "pkh", stdin="first-password\n")
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "wati", "password": "first-password"}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/workloads", headers=headers).status_code == 200

    assert run(settings, "users", "passwd", "wati", stdin="second-password\n").returncode == 0
    app.extensions["pilar"].cases._user_cache.clear()  # another process changed it; this one re-reads after 5 s
    assert client.get("/api/v1/workloads", headers=headers).status_code == 401
    assert sign_in(app, "wati", "first-password") == 401 and sign_in(app, "wati", "second-password") == 200

    assert run(settings, "users", "deactivate", "wati").returncode == 0
    assert sign_in(app, "wati", "second-password") == 401
    again = run(settings, "users", "deactivate", "wati")
    assert again.returncode == 1 and "already" in again.stderr
    assert run(settings, "users", "passwd", "nobody", stdin="whatever-password\n").returncode == 1


def test_commands_that_need_no_signing_key_run_without_one(settings):
    """The signing key may be configured for the servers only: user management and the
    projection's maintenance do not need it (the audit key can be set on its own)."""
    assert run(settings, "db", "init").returncode == 0  # PILAR_SECRET_KEY is set: no key file is written
    env = pilar_env(settings) | {"PILAR_SECRET_KEY": ""}
    added = subprocess.run([PILAR, "users", "add", "bob", "--role", "admin"], input="long-password-1\n",
                           capture_output=True, text=True, env=env, timeout=120)
    assert added.returncode == 0, added.stderr
    checked = subprocess.run([PILAR, "projections", "check"], capture_output=True, text=True, timeout=120,
                             env=env | {"PILAR_AUDIT_KEY": "an-audit-key"})
    assert checked.returncode == 0, checked.stderr


def test_user_administration_is_recorded_as_the_os_user(settings, app):
    import getpass

    from pilar.bootstrap import bootstrap
    from pilar.cases.account import UserAccount

    assert run(settings, "db", "init").returncode == 0
    me = f"os:{getpass.getuser()}"
    steps = [
        (("users", "add", "tksk.arjosari", "--role", "worker", "--pillar", "tksk", "--kecamatan", "35.01.02",
          "--no-pii"), "lumbung-padi-arjosari\n"),
        (("users", "set-role", "tksk.arjosari", "--role", "supervisor", "--pillar", "tksk", "--pillar", "psm"), ""),
        (("users", "set-scope", "tksk.arjosari", "35.01.02", "35.01.03"), ""),
        (("users", "set-pii", "tksk.arjosari", "on"), ""),
        (("users", "reset-password", "tksk.arjosari"), "hujan-deras-di-teleng\n"),
        (("users", "deactivate", "tksk.arjosari"), ""),
        (("users", "reactivate", "tksk.arjosari"), ""),
        (("users", "revoke", "tksk.arjosari"), ""),
    ]
    for args, stdin in steps:
        done = run(settings, *args, stdin=stdin)
        assert done.returncode == 0, (args, done.stderr)
    listed = run(settings, "users", "list")
    assert listed.stdout.splitlines() == [
        "tksk.arjosari\tsupervisor\ttksk,psm\t35.01.02,35.01.03\tpii (set)\tactive"]
    services = bootstrap(settings)
    try:
        events = services.cases.repository.event_store.get(UserAccount.id_for("tksk.arjosari"))
        assert [(type(e).__name__, e.actor) for e in events] == [
            ("UserAdded", me), ("RoleChanged", me), ("ScopeChanged", me), ("PiiAccessChanged", me),
            ("PasswordChanged", me), ("UserDeactivated", me), ("UserReactivated", me), ("SessionsRevoked", me)]
    finally:
        services.close()
    assert sign_in(app, "tksk.arjosari", "hujan-deras-di-teleng") == 200
    weak = run(settings, "users", "reset-password", "tksk.arjosari", stdin="password12345\n")
    assert weak.returncode == 1 and "common password" in weak.stderr
    wrong = run(settings, "users", "set-scope", "tksk.arjosari", "99.99.99")
    assert wrong.returncode == 1 and "kecamatan" in wrong.stderr
    assert run(settings, "users", "revoke", "nobody").returncode == 1
