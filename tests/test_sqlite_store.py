"""On SQLite the write-ahead log is checkpointed by the projection process, not by requests, and\nwriters take turns through a file lock rather than SQLite's polling busy handler."""

import sqlite3
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import date

import pytest

from pilar.store import sqlite as sqlite_store
from pilar.store.sqlite import STORE_CHECKPOINT_PAGES
from pilar.projections import runner, waiting
from pilar.store.connection import ViewDB
from testkit import factories

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _checkpoint_pages(cursor) -> int:
    cursor.execute("PRAGMA wal_autocheckpoint")
    return cursor.fetchone()[0]


def test_request_connections_leave_checkpoints_to_the_projection_process(service, settings):
    for commit in (False, True):
        with service.recorder.datastore.transaction(commit=commit) as cursor:
            assert _checkpoint_pages(cursor) == STORE_CHECKPOINT_PAGES
    views = ViewDB(settings.store).connect()
    try:
        assert views.one("PRAGMA wal_autocheckpoint")[0] == STORE_CHECKPOINT_PAGES
    finally:
        views.close()


def test_the_projection_process_checkpoints_and_never_inside_a_commit(service, settings, monkeypatch):
    seen = []

    def step(self):
        seen.append((self.conn.checkpoints, self.conn.one("PRAGMA wal_autocheckpoint")[0]))
        return 0

    monkeypatch.setattr(runner.Follower, "step", step)
    monkeypatch.setattr(waiting.Waiter, "wait", lambda self, stop, busy=False: stop.set())
    runner.ProjectionProcess(settings, poll_interval=30, stop=threading.Event()).run()
    assert seen == [(True, 0)]


def test_a_checkpointing_connection_checkpoints_after_its_turn_is_given_up(settings, service, monkeypatch):
    conn = ViewDB(settings.store).connect(checkpoints=True)
    turn_free_at_checkpoint = []
    real = sqlite_store.SQLiteConnection.checkpoint

    def checkpoint(self):
        with sqlite_store.write_turn(settings.store.sqlite_path, timeout=0):  # raises if still held
            turn_free_at_checkpoint.append(True)
        real(self)

    monkeypatch.setattr(sqlite_store.SQLiteConnection, "checkpoint", checkpoint)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS checkpoint_probe (n INTEGER)")
        conn.checkpoint()
        with conn.transaction():  # not due yet: the log keeps what it wrote
            conn.execute("INSERT INTO checkpoint_probe VALUES (1)")
        assert turn_free_at_checkpoint == [True]
        monkeypatch.setattr(sqlite_store, "CHECKPOINT_SECONDS", 0.0)
        conn.checkpoint()  # due at once from here
        with conn.transaction():
            conn.execute("INSERT INTO checkpoint_probe VALUES (2)")
        assert turn_free_at_checkpoint == [True, True, True]
    finally:
        conn.close()


def test_the_application_stores_through_pilars_sqlite_persistence(service):
    from pilar.store.sqlite import PilarSQLiteFactory

    assert isinstance(service.factory, PilarSQLiteFactory)


# The write turn: SQLite's own lock has no queue, so every Pilar writer first takes a file lock
# beside the database. Another process holds it here, as the projection process or a rebuild would.

HOLD_TURN = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + ".write.lock", os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


@contextmanager
def turn_held_elsewhere(db_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_TURN, str(db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.communicate()


def _in_background(fn):
    done, failed = threading.Event(), []

    def run():
        try:
            fn()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            failed.append(error)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done, failed


def _event_write(service, staff):
    body = factories.person()
    service.register_beneficiary(
        staff["wati"], nik=body["nik"], kk=body["kk"], name=body["name"],
        birth_date=date.fromisoformat(body["birth_date"]), sex=body["sex"], desa_code=body["desa_code"],
        address=body["address"], phone=body["phone"])


def _view_write(settings):
    views = ViewDB(settings.store).connect()
    try:
        with views.transaction():
            views.execute("CREATE TABLE IF NOT EXISTS turn_probe (n INTEGER)")
            views.execute("INSERT INTO turn_probe VALUES (1)")
    finally:
        views.close()


@pytest.mark.parametrize("writer", ["event", "view"])
def test_every_writer_waits_for_the_write_turn_and_takes_it_once_given_up(service, settings, staff, writer):
    write = {"event": lambda: _event_write(service, staff), "view": lambda: _view_write(settings)}[writer]
    before = service.recorder.max_notification_id() or 0
    with turn_held_elsewhere(settings.store.sqlite_path) as holder:
        done, failed = _in_background(write)
        assert not done.wait(0.5), "wrote while another process held the write turn"
        holder.kill()  # dying gives the turn up: the kernel drops the file lock
        assert done.wait(10), "still waiting after the turn was given up"
    assert not failed, failed
    if writer == "event":
        assert service.recorder.max_notification_id() > before


def test_a_writer_that_gets_no_turn_in_time_fails_as_a_locked_store_and_writes_nothing(service, settings, staff,
                                                                                      client, auth, monkeypatch):
    monkeypatch.setattr(sqlite_store, "LOCK_TIMEOUT", 0.3)
    service.recorder.datastore.pool.lock_timeout = None  # the module's timeout, not the 30 s configured
    before = service.recorder.max_notification_id()
    with turn_held_elsewhere(settings.store.sqlite_path):
        with pytest.raises(Exception, match="database is locked: no write turn"):
            _event_write(service, staff)
        with pytest.raises(sqlite3.OperationalError, match="database is locked: no write turn"):
            _view_write(settings)
        response = client.post("/api/v1/beneficiaries", json=factories.person(), headers=auth("wati"))
        assert response.status_code == 503, response.json
        assert "Retry-After" in response.headers
    assert service.recorder.max_notification_id() == before
