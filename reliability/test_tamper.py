"""Tampering with the files of a real deployment: gunicorn with its projection process seals and
publishes heads; then, with the server stopped, someone who can write the database (the SQLite
file, or PostgreSQL) but has no audit key cuts the newest events off with their seals and edits
an access-log entry. `pilar audit verify` (the CLI, as an operator runs it) names both, against
the heads file and against an auditor's copy of it, and the restarted projection process refuses
to seal over the cut."""

import shutil
import sqlite3
import subprocess
from contextlib import closing

import psycopg
import pytest
import requests

from pilar.audit.heads import HeadsFile
from reliability import harness
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, pilar_env, token

pytestmark = pytest.mark.slow


def verify(settings, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([harness.PILAR, "audit", "verify", *extra], env=pilar_env(settings), capture_output=True,
                          text=True, timeout=120)


def tamper(settings, statements: list[tuple[str, tuple]]) -> None:
    """Straight into the database, with none of Pilar's code."""
    if settings.store.kind == "sqlite":
        with closing(sqlite3.connect(settings.store.sqlite_path)) as db, db:
            for statement, params in statements:
                db.execute(statement, params)
        return
    with psycopg.connect(settings.store.conninfo(), options=f"-c search_path={settings.store.schema}") as db:
        for statement, params in statements:
            db.execute(statement.replace("?", "%s"), params)


def seal_count(settings) -> int:
    conn = ViewDB(settings.store).connect()
    try:
        return int(conn.one("SELECT COUNT(*) FROM audit_seals")[0])
    finally:
        conn.close()


def test_tampered_database_files_are_named_by_the_cli(settings, service, staff, store_kind, tmp_path):
    case_ids = harness.open_cases(service, staff["wati"], 2)
    heads = HeadsFile(settings.heads_path, settings.audit_key())
    log = tmp_path / "gunicorn.log"
    with Gunicorn(settings, workers=2, log=log, projector=True) as server:
        bearer = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}
        for case_id in case_ids:
            for n in range(3):
                answer = requests.post(f"{server.url}/api/v1/cases/{case_id}/aid", headers=bearer, timeout=10,
                                       json=factories.aid(value_idr=1000 + n))
                assert answer.status_code == 200, answer.text
                assert requests.get(f"{server.url}/api/v1/cases/{case_id}", headers=bearer, timeout=10).ok
        head = harness.head(settings)
        harness.wait_for(lambda: harness.verification(settings).access_unsealed == 0, 60, "the access log is sealed")
        harness.wait_for(lambda: (latest := heads.latest()) is not None and latest.position == head, 30,
                         "the head is published")
    ok = verify(settings)
    assert ok.returncode == 0 and "ok: the history is intact" in ok.stdout, ok.stdout + ok.stderr
    latest = heads.latest()
    kept = tmp_path / "auditors_copy_of_audit_heads"
    shutil.copy(settings.heads_path, kept)

    events, position = ("stored_events", "rowid") if store_kind == "sqlite" else ("pilar_events", "notification_id")
    order = "rowid" if store_kind == "sqlite" else "seq"
    tamper(settings, [
        (f"DELETE FROM {events} WHERE {position} > ?", (head - 2,)),
        ("DELETE FROM audit_seals WHERE position > ?", (head - 2,)),
        (f"UPDATE audit_access_log SET username = 'agus' WHERE {order} = ?", (latest.access_seq,)),
    ])
    for broken in (verify(settings), verify(settings, "--against", str(kept))):
        assert broken.returncode == 1, broken.stdout
        assert f"BROKEN (truncated) at position {head}" in broken.stderr, broken.stderr
        assert f"BROKEN (access_log_edited) at access log entry {latest.access_seq}" in broken.stderr

    sealed_before = seal_count(settings)
    with Gunicorn(settings, workers=1, log=log, projector=True) as server:
        bearer = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}
        assert requests.post(f"{server.url}/api/v1/cases/{case_ids[0]}/follow-ups", headers=bearer, timeout=10,
                             json=factories.follow_up()).status_code == 200
        harness.wait_for(lambda: "not projecting" in log.read_text(), 30, "the projection process refuses")
    assert "seals or events were deleted" in log.read_text()
    assert seal_count(settings) == sealed_before  # nothing regrown, nothing new sealed
    assert verify(settings).returncode == 1
