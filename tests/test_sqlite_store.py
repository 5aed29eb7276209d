"""On SQLite the write-ahead log is checkpointed by the projection process, not by requests."""

import threading

import pytest

from pilar.store.sqlite import PROJECTION_CHECKPOINT_PAGES, STORE_CHECKPOINT_PAGES
from pilar.projections import runner, waiting
from pilar.store.connection import ViewDB

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _checkpoint_pages(cursor) -> int:
    cursor.execute("PRAGMA wal_autocheckpoint")
    return cursor.fetchone()[0]


def test_request_connections_leave_checkpoints_to_the_projection_process(service, settings):
    assert STORE_CHECKPOINT_PAGES > PROJECTION_CHECKPOINT_PAGES
    for commit in (False, True):
        with service.recorder.datastore.transaction(commit=commit) as cursor:
            assert _checkpoint_pages(cursor) == STORE_CHECKPOINT_PAGES
    views = ViewDB(settings.store).connect()
    try:
        assert views.one("PRAGMA wal_autocheckpoint")[0] == STORE_CHECKPOINT_PAGES
    finally:
        views.close()


def test_the_projection_process_checkpoints_first(service, settings, monkeypatch):
    seen = []

    def step(self):
        seen.append(self.conn.one("PRAGMA wal_autocheckpoint")[0])
        return 0

    monkeypatch.setattr(runner.Follower, "step", step)
    monkeypatch.setattr(waiting.Waiter, "wait", lambda self, stop, busy=False: stop.set())
    runner.ProjectionProcess(settings, poll_interval=30, stop=threading.Event()).run()
    assert seen == [PROJECTION_CHECKPOINT_PAGES]


def test_the_application_stores_through_pilars_sqlite_persistence(service):
    from pilar.store.sqlite import PilarSQLiteFactory

    assert isinstance(service.factory, PilarSQLiteFactory)
