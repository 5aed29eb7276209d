"""`pilar db init` is safe when several run at once (replicas starting together): one creates
the tables and keys while the others wait, then find the store ready and change nothing."""

import subprocess
from datetime import date

import pytest

from pilar.bootstrap import bootstrap
from pilar.cases.access import SYSTEM
from pilar.store import key_checks
from pilar.store.connection import LockBusy, ViewDB
from testkit.fixtures import PASSWORD
from testkit.servers import pilar_env
from tests.test_cli import PILAR

RUNS = 6


def test_several_db_inits_at_once_all_succeed_and_agree(settings):
    env = pilar_env(settings)
    runs = [subprocess.Popen([PILAR, "db", "init"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(RUNS)]
    results = [(run.returncode, err) for run in runs for _, err in [run.communicate(timeout=180)]]
    assert [code for code, _ in results] == [0] * RUNS, [err for _, err in results]
    conn = ViewDB(settings.store).connect()
    try:
        checks = conn.all("SELECT name FROM pilar_key_checks ORDER BY name")
        assert key_checks.recorded(conn, "audit") is not None
    finally:
        conn.close()
    assert len({name for (name,) in checks}) == len(checks)
    services = bootstrap(settings)
    try:
        services.cases.add_user(SYSTEM, "wati", "worker", "pkh", PASSWORD)
        assert services.signin.sign_in("wati", PASSWORD)["role"] == "worker"
    finally:
        services.close()


def test_a_db_init_that_cannot_get_the_lock_in_time_says_so(settings, monkeypatch):
    import pilar.bootstrap as root

    conn = ViewDB(settings.store).connect()
    try:
        assert conn.try_exclusive(root.INIT_LOCK)  # as if another `pilar db init` were running
        monkeypatch.setattr(root, "INIT_WAIT", 0.3)
        with pytest.raises(LockBusy) as busy:
            root.init_store(settings)
        assert str(busy.value) == "another `pilar db init` is running on this store (waited 0.3 s)"
    finally:
        conn.release_exclusive(root.INIT_LOCK)
        conn.close()


def test_views_laid_out_by_an_older_pilar_are_rebuilt_after_db_init(settings, service, staff, catch_up):
    """Before kecamatan scopes the workload counters had no kecamatan column, and there was no
    privacy-request view: `pilar db init` drops such views and the projection process builds them
    again from event zero, equal to a rebuild."""
    from pilar.bootstrap import init_store
    from pilar.projections.maintenance import check
    from testkit import factories

    wati = staff["wati"]
    body = factories.person()
    person = service.register_beneficiary(wati, nik=body["nik"], name=body["name"], sex=body["sex"],
                                          birth_date=date.fromisoformat(body["birth_date"]),
                                          desa_code=body["desa_code"])
    service.open_case(wati, beneficiary_id=person.id, pillar="pkh", priority="high", categories=["odgj"],
                      referral={"source": "musdes", "referred_by": "Kades", "reason": "x"})
    head = catch_up()
    conn = ViewDB(settings.store).connect()
    try:
        with conn.transaction():  # the older layout, with the counts it held
            conn.execute("DROP TABLE view_open_counts")
            conn.execute("CREATE TABLE view_open_counts (pillar TEXT NOT NULL, dimension TEXT NOT NULL, "
                         "key TEXT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (pillar, dimension, key))")
            conn.execute("INSERT INTO view_open_counts VALUES ('pkh', 'status', 'referred', 1)")
            conn.execute("DROP TABLE view_privacy_requests")
    finally:
        conn.close()
    init_store(settings)
    conn = ViewDB(settings.store).connect()
    try:
        assert conn.one("SELECT position FROM view_tracking WHERE name = 'workload'") is None  # from zero
    finally:
        conn.close()
    assert catch_up() == head
    position, differences = check(settings)
    assert (position, differences) == (head, [])
    assert _open_in_pkh(settings) == 1


def _open_in_pkh(settings) -> int:
    conn = ViewDB(settings.store).connect()
    try:
        return conn.one("SELECT SUM(count) FROM view_open_counts WHERE pillar = 'pkh' AND dimension = 'status'")[0]
    finally:
        conn.close()


def test_db_init_refuses_a_postgresql_database_not_encoded_utf8_naming_it_and_the_fix(tmp_path):
    """A cluster made under LANG=C gives SQL_ASCII databases, whose text psycopg reads as bytes: the
    server would fail its first key check obscurely, so `db init` refuses first and says what to do."""
    import uuid

    import psycopg

    from testkit.fixtures import POSTGRES_URL, settings_for

    name = f"pilar_ascii_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    try:
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        refused = subprocess.run([PILAR, "db", "init"], env=pilar_env(settings_for(url, tmp_path)),
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1
        assert (f"the PostgreSQL database {name} is encoded SQL_ASCII, and Pilar keeps its text as UTF-8: "
                f"create it with `createdb -E UTF8 -T template0 {name}`") in refused.stderr
        with psycopg.connect(url) as conn:  # nothing was created
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
