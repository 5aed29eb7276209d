"""Keys are managed, not derived: made once with their final permissions, checked against the
store they belong to, never made again for a store that has them; rotating the signing key
never makes verify report a break."""

import stat
from dataclasses import replace

import pytest

from pilar.bootstrap import bootstrap, check_audit_key, init_store
from pilar.cases import event_mac
from pilar.cases.access import SYSTEM
from pilar.store.key_checks import KeyMismatch
from testkit.fixtures import PASSWORD
from testkit.processes import run_projection_until
from tests.test_cli import run

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _sealed_history(settings) -> None:
    assert run(settings, "db", "init").returncode == 0
    assert run(settings, "users", "add", "wati", "--role", "worker", "--pillar", "pkh",
               stdin=PASSWORD + "\n").returncode == 0
    services = bootstrap(settings)
    try:
        from pilar.projections.runner import Follower
        from pilar.store.connection import ViewDB

        conn = ViewDB(settings.store).connect()
        try:
            Follower(services.cases, conn, settings.audit_key(), 100).step()
        finally:
            conn.close()
    finally:
        services.close()


def test_a_new_store_gets_keys_of_its_own_readable_by_the_owner_only(settings):
    bare = replace(settings, secret_key=None)
    init_store(bare)
    instance = bare.instance_path
    for name in ("secret_key", "audit_key", "kek"):
        assert _mode(instance / name) == 0o600, name
    audit = bare.audit_key()
    assert len(audit) >= 32 and audit != bare._derived_audit_key()  # not derived from the signing key
    db = bare.store.sqlite_path
    services = bootstrap(bare)
    try:
        services.cases.add_user(SYSTEM, "wati", "worker", "pkh", PASSWORD)  # the log exists while in use
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            assert _mode(path) == 0o600, path
    finally:
        services.close()
    init_store(bare)  # again: the same keys
    assert bare.audit_key() == audit
    # The file's text, given as PILAR_AUDIT_KEY (as a second server would be), is the same key.
    assert replace(bare, audit_secret=(instance / "audit_key").read_text()).audit_key() == audit


def test_db_init_makes_no_key_for_a_store_that_has_them_and_refuses_a_foreign_one(settings):
    _sealed_history(settings)
    (settings.instance_path / "audit_key").rename(settings.instance_path / "audit_key.kept")
    refused = run(settings, "db", "init")
    assert refused.returncode != 0 and "not the one this store was set up with" in refused.stderr
    assert not (settings.instance_path / "audit_key").exists()
    (settings.instance_path / "audit_key.kept").rename(settings.instance_path / "audit_key")
    assert run(settings, "db", "init").returncode == 0

    no_kek = settings.instance_path / "kek"
    no_kek.rename(settings.instance_path / "kek.kept")
    refused = run(settings, "db", "init")
    assert refused.returncode != 0 and "makes no new keys" in refused.stderr and "PILAR_KEK" in refused.stderr
    assert not no_kek.exists()


def test_rotating_the_signing_key_leaves_verify_intact(settings):
    _sealed_history(settings)
    rotated = replace(settings, secret_key="a-new-signing-key-after-a-leak")
    verified = run(rotated, "audit", "verify")
    assert verified.returncode == 0 and "ok: the history is intact" in verified.stdout
    assert run(rotated, "db", "init").returncode == 0


def test_a_wrong_audit_key_is_refused_not_reported_as_a_break(settings, tmp_path):
    _sealed_history(settings)
    wrong = replace(settings, audit_secret="not-the-stores-audit-key")
    answer = run(wrong, "audit", "verify")
    assert answer.returncode != 0 and "BROKEN" not in answer.stderr
    assert "not the one this store was set up with" in answer.stderr
    from pilar.store.connection import ViewDB

    conn = ViewDB(settings.store).connect()
    try:
        with pytest.raises(KeyMismatch):
            check_audit_key(wrong, conn)
        check_audit_key(settings, conn)
    finally:
        conn.close()


def test_a_store_sealed_before_audit_keys_had_files_keeps_verifying(settings):
    _sealed_history(settings)
    # As set up by an older Pilar: seals under the key derived from the signing key, no file, no check.
    legacy_key = settings._derived_audit_key()
    services = bootstrap(settings)
    try:
        with services.readers.connection() as conn:
            conn.execute("DELETE FROM pilar_key_checks")
            conn.execute("DELETE FROM audit_seals")
            table = services.cases.recorder.events_table_name
            for n in services.cases.recorder.select_notifications(start=0, limit=100):
                # An older Pilar wrote its events without a MAC.
                position = "rowid" if settings.store.kind == "sqlite" else "notification_id"
                conn.execute(f"UPDATE {table} SET state = ? WHERE {position} = ?", (event_mac.payload(n.state), n.id))
    finally:
        services.close()
    (settings.instance_path / "audit_key").unlink()
    legacy = replace(settings, audit_secret=None)
    services = bootstrap(legacy)
    try:
        from pilar.projections.runner import Follower
        from pilar.store.connection import ViewDB

        conn = ViewDB(settings.store).connect()
        try:
            Follower(services.cases, conn, legacy_key, 100).step()
        finally:
            conn.close()
    finally:
        services.close()
    assert run(legacy, "db", "init").returncode == 0
    assert legacy.audit_key() == legacy_key
    assert replace(legacy, audit_secret=(settings.instance_path / "audit_key").read_text()).audit_key() == legacy_key
    assert run(legacy, "audit", "verify").returncode == 0


def test_with_a_wrong_audit_key_nothing_is_sealed_and_verify_answers_503(services, staff, settings, catch_up):
    from pilar.wsgi import create_app

    catch_up()
    wrong = replace(settings, audit_secret="not-the-stores-audit-key")
    misconfigured = bootstrap(wrong)
    try:
        client = create_app(misconfigured).test_client()
        token = client.post("/api/v1/auth/token", json={"username": "inspektur", "password": PASSWORD}).json["token"]
        answer = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 503 and "misconfigured" in answer.json["message"]
    finally:
        misconfigured.close()

    with services.readers.connection() as conn:
        sealed = conn.one("SELECT COUNT(*) FROM audit_seals")[0]
    services.cases.add_user(SYSTEM, "late", "worker", "pkh", PASSWORD)  # a new event to seal
    assert run_projection_until(wrong, "misconfigured", timeout=10) == "misconfigured"
    with services.readers.connection() as conn:
        assert conn.one("SELECT COUNT(*) FROM audit_seals")[0] == sealed


def test_a_store_set_up_before_check_values_gets_no_new_signing_key_and_no_wrong_audit_key(settings):
    _sealed_history(settings)
    services = bootstrap(settings)
    try:
        with services.readers.connection() as conn:
            conn.execute("DELETE FROM pilar_key_checks")  # as an older Pilar left it
    finally:
        services.close()
    (settings.instance_path / "audit_key").unlink()
    unsigned = replace(settings, secret_key=None)
    refused = run(unsigned, "db", "init")
    assert refused.returncode != 0 and "makes no new keys" in refused.stderr and "PILAR_SECRET_KEY" in refused.stderr
    assert not (settings.instance_path / "secret_key").exists()
    # Sealed under a random audit key, not the derived one: a derived key is not adopted.
    foreign = run(replace(settings, secret_key="some-other-signing-key"), "db", "init")
    assert foreign.returncode != 0 and "does not verify this store's seals" in foreign.stderr


def test_a_foreign_kek_is_refused_by_db_init_and_wraps_nothing(services, staff, settings, auth):
    from pilar.store.kek import new_entry
    from testkit import factories
    from pilar.wsgi import create_app

    foreign = replace(settings, kek=new_entry())
    refused = run(foreign, "db", "init")
    assert refused.returncode != 0 and "not one this store knows" in refused.stderr
    elsewhere = bootstrap(foreign)
    try:
        client = create_app(elsewhere).test_client()
        answer = client.post("/api/v1/beneficiaries", json=factories.person(), headers=auth("wati"))
        assert answer.status_code == 503 and "not one this store knows" in answer.json["message"]
    finally:
        elsewhere.close()
