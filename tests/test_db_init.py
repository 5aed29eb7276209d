"""`pilar db init` is safe when several run at once (replicas starting together): one creates
the tables and keys while the others wait, then find the store ready and change nothing."""

import subprocess

from bootstrap import bootstrap
from cases.access import SYSTEM
from store import key_checks
from store.connection import ViewDB
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
    import bootstrap as root

    conn = ViewDB(settings.store).connect()
    try:
        assert conn.try_exclusive(root.INIT_LOCK)  # as if another `pilar db init` were running
        monkeypatch.setattr(root, "INIT_WAIT", 0.3)
        from store.connection import LockBusy

        try:
            root.init_store(settings)
        except LockBusy as busy:
            assert "another `pilar db init` is running on this store (waited 0.3 s)" == str(busy)
        else:
            raise AssertionError("init_store ran while another held the lock")
    finally:
        conn.release_exclusive(root.INIT_LOCK)
        conn.close()
