"""Erasure leaves nothing of the person's key in the live database files, tried as someone who
reads those files byte by byte (SQLite's db, -wal and -shm files; PostgreSQL's table files).
PostgreSQL gets a database of its own: another session's older transaction in a shared one would
rightly keep the shred owed (tests/test_erasure_old_snapshot.py)."""

import base64
from datetime import date
from pathlib import Path

import psycopg
import pytest

from pilar.store.connection import ViewDB
from pilar.store.shredding import owed
from testkit import factories
from testkit.fixtures import own_database_store_url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path: Path):
    with own_database_store_url(request.param, tmp_path) as url:
        yield url


def live_files(settings, table: str | None = None) -> bytes:
    """The bytes of the live database files: on SQLite the database and its -wal and -shm; on
    PostgreSQL the whole database's, or only `table`'s (every fork and segment)."""
    if settings.store.kind == "sqlite":
        path = settings.store.sqlite_path
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    with psycopg.connect(settings.store.conninfo(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # what is in shared buffers reaches the files
        data = Path(conn.execute("SHOW data_directory").fetchone()[0])
        if table is None:
            oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
            files = list((data / "base" / str(oid)).iterdir())
        else:
            relation = data / conn.execute("SELECT pg_relation_filepath(%s)", (table,)).fetchone()[0]
            files = list(relation.parent.glob(relation.name + "*"))
    return b"".join(p.read_bytes() for p in files if p.is_file())


def test_erasure_leaves_no_trace_of_the_key_in_the_live_files(service, staff, settings, shreds_settled):
    body = factories.person(name="Mbah Sainem Shredded")
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    person_id = service.register_beneficiary(staff["wati"], **body).id
    raw = service.personal_keys.get(person_id)
    with service.personal_keys.readers.connection() as conn:
        [(stored,)] = conn.all("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(person_id),))
    traces = [stored.encode(), stored.split(":", 1)[1].encode(), raw, base64.b64encode(raw)]
    before = live_files(settings)
    assert stored.encode() in before  # the search can find it

    service.erase_personal_data(staff["sri"], person_id, reason="she asked")

    # The erasure shreds at once, unless an older transaction of the database (autovacuum's
    # ANALYZE, say) still sees the rows: then it is owed, naming that transaction, and retried.
    conn = ViewDB(settings.store).connect()
    try:
        owed_now = owed(conn)
    finally:
        conn.close()
    if not owed_now:
        assert [t for t in traces if t in live_files(settings)] == []
    assert all(shred.held_by for shred in owed_now), owed_now
    assert shreds_settled() == []
    after = live_files(settings)
    assert [t for t in traces if t in after] == []
    for plain in (b"Mbah Sainem Shredded", body["nik"].encode(), body["phone"].encode()):
        assert plain not in after  # personal fields were never stored in clear
    assert service.repository.get(person_id).nik is None


def test_the_projection_process_clears_an_interrupted_erasure_from_the_files(service, staff, settings,
                                                                              shreds_settled):
    body = factories.person()
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    person_id = service.register_beneficiary(staff["wati"], **body).id
    with service.personal_keys.readers.connection() as conn:
        [(stored,)] = conn.all("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(person_id),))
    person = service.repository.get(person_id)
    person.erase_personal_data(actor="sri", reason="asked", keys=[person_id])
    service.save(person)  # as if the server died before destroying the key
    assert stored.encode() in live_files(settings)
    assert shreds_settled() == []  # the projection process passes the erasure and shreds
    assert stored.encode() not in live_files(settings)
