"""An erasure while another transaction holds an older snapshot (a pg_dump, a report, a benchmark).
PostgreSQL's VACUUM FULL keeps a row such a snapshot can still see, and on SQLite a reader in the
middle of the write-ahead log keeps the old page images there: either way the wrapped key would
stay readable in the files. Tried as an attacker who can read them: the shred stays owed (and
status, /readyz and /metrics say so) until that transaction ends; then the projection process
shreds and nothing of the key is left. PostgreSQL gets a database of its own, so that no other
session's transactions hold the horizon back."""

import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from pilar.projections.damage import status
from pilar.projections.runner import OWED_RETRY, ProjectionProcess
from pilar.store.connection import ViewDB
from pilar.store.shredding import owed
from pilar.wsgi import create_app
from testkit import factories
from testkit.fixtures import own_database_store_url
from tests.test_erasure_files import live_files

OWED = {"personal_keys", "name_tokens"}


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path: Path):
    with own_database_store_url(request.param, tmp_path) as url:
        yield url


class Watcher:
    """Another session, in a long read-only transaction that read something: not a key (a lock on
    the key table would hold the shred back by itself)."""

    def __init__(self, settings):
        self.settings = settings
        if settings.store.kind == "sqlite":
            self.conn = sqlite3.connect(settings.store.sqlite_path, isolation_level=None)
            self.pid = None
            self.mark = "?"
        else:
            self.conn = psycopg.connect(settings.store.conninfo(), autocommit=True)
            self.pid = self.conn.info.backend_pid
            self.mark = "%s"
        self.conn.execute("BEGIN" if self.pid is None else "BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert self.conn.execute("SELECT count(*) FROM view_cases").fetchone()[0] == 0

    def key_of(self, person_id) -> tuple | None:
        return self.conn.execute(f"SELECT key FROM personal_keys WHERE beneficiary_id = {self.mark}",
                                 (str(person_id),)).fetchone()

    def end(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.fixture
def projecting(settings, services):
    process = ProjectionProcess(settings, poll_interval=0.1)
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    yield process
    process.stop.set()
    thread.join(30)


def _owed(settings) -> dict[str, list[str]]:
    conn = ViewDB(settings.store).connect()
    try:
        return {o.table: o.held_by for o in owed(conn)}
    finally:
        conn.close()


def _gauge(client, name: str) -> float:
    metrics = client.get("/metrics").get_data(as_text=True)
    return float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith(name + " ")))


def test_a_key_an_older_snapshot_still_sees_is_shredded_once_that_snapshot_ends(settings, services, service,
                                                                               staff, projecting):
    body = factories.person(name="Mbah Sainem Diintip")
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    person_id = service.register_beneficiary(staff["wati"], **body).id
    with service.personal_keys.readers.connection() as conn:
        [(stored,)] = conn.all("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(person_id),))
    client = create_app(services).test_client()
    watcher = Watcher(settings)
    try:
        service.erase_personal_data(staff["sri"], person_id, reason="she asked")
        time.sleep(3 * OWED_RETRY)  # the projection process has passed the erasure and retried meanwhile

        assert service.personal_keys.get(person_id) is None  # erased for every new reader
        assert stored.encode() in live_files(settings, "personal_keys")  # a shred now would have had to keep it
        owing = _owed(settings)
        assert set(owing) == OWED
        if watcher.pid is not None:  # PostgreSQL names what it waits for
            assert all(any(f"pid {watcher.pid} " in h for h in held) for held in owing.values()), owing
        lines = "\n".join(status(settings).lines())
        assert "ERASURE CLEAN-UP OWED" in lines and "personal_keys" in lines
        assert watcher.pid is None or f"pid {watcher.pid}" in lines
        assert {o["table"] for o in client.get("/readyz").json["erasure_cleanup_owed"]} == OWED
        assert _gauge(client, "pilar_erasure_cleanup_owed_seconds") >= 2 * OWED_RETRY
        assert watcher.key_of(person_id) == (stored,)  # what the old snapshot still sees
    finally:
        watcher.end()

    deadline = time.monotonic() + 30
    while _owed(settings) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _owed(settings) == {}
    left = live_files(settings)
    assert stored.encode() not in left
    assert stored.split(":", 1)[1].encode() not in left
    assert "ERASURE CLEAN-UP OWED" not in "\n".join(status(settings).lines())
    assert client.get("/readyz").json["erasure_cleanup_owed"] == []
    assert _gauge(client, "pilar_erasure_cleanup_owed_seconds") == 0
