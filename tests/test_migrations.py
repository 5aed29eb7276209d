"""Numbered schema migrations (pilar/store/migrations.py), applied by `pilar db init` on SQLite and
PostgreSQL: a test per step, each on a store shaped as before it."""

import pytest

from pilar.bootstrap import init_store
from pilar.store.connection import ViewDB
from pilar.store.migrations import MIGRATIONS, Migration, NewerStore, applied, migrate


@pytest.fixture
def conn(settings, services):
    connection = ViewDB(settings.store).connect()
    yield connection
    connection.close()


def _index_exists(conn, name: str) -> bool:
    if conn.kind == "sqlite":
        return conn.one("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)) is not None
    return conn.one("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?",
                    (name,)) is not None


def _run(conn, statement: str, params=()) -> None:
    with conn.transaction():
        conn.execute(statement, params)


def test_a_new_store_has_every_step(conn):
    assert applied(conn) == [step.version for step in MIGRATIONS] == [1, 2, 3, 4]
    assert conn.all("SELECT name FROM pilar_schema_migrations ORDER BY version") == [("baseline",),
                                                                                   ("rate_limits_by_expiry",),
                                                                                   ("import_reports",),
                                                                                   ("owed_shreds",)]


def test_step_1_a_store_from_before_migrations_is_recorded_and_keeps_its_rows(settings, conn):
    _run(conn, "DROP TABLE pilar_schema_migrations")
    _run(conn, "DROP INDEX pilar_rate_limits_by_expiry")
    _run(conn, "INSERT INTO pilar_rate_limits (key, hits, expires_at) VALUES (?, ?, ?)", ("signin/wati", 3, 9e9))
    init_store(settings)
    assert applied(conn) == [1, 2, 3, 4]
    assert conn.one("SELECT hits FROM pilar_rate_limits WHERE key = ?", ("signin/wati",)) == (3,)


def test_step_2_rate_limit_counters_get_their_expiry_index(settings, conn):
    _run(conn, "DELETE FROM pilar_schema_migrations WHERE version = 2")
    _run(conn, "DROP INDEX pilar_rate_limits_by_expiry")
    assert not _index_exists(conn, "pilar_rate_limits_by_expiry")
    init_store(settings)
    assert _index_exists(conn, "pilar_rate_limits_by_expiry")
    assert applied(conn) == [1, 2, 3, 4]


def test_step_3_a_store_from_before_imports_gets_the_import_report_tables(settings, conn):
    _run(conn, "DELETE FROM pilar_schema_migrations WHERE version = 3")
    _run(conn, "DROP TABLE pilar_import_entries")
    _run(conn, "DROP TABLE pilar_imports")
    init_store(settings)
    assert applied(conn) == [1, 2, 3, 4]
    _run(conn, "INSERT INTO pilar_imports (id, kind, source, actor, dry_run, all_or_nothing, status, started_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ("i1", "cases", "pkh.csv", "sri", 0, 0, "running", "2026-12-04"))
    _run(conn, "INSERT INTO pilar_import_entries (import_id, row_number, field, outcome, message) VALUES (?, ?, ?, ?, ?)",
         ("i1", 2, "nik", "invalid", "must be exactly 16 digits"))
    assert conn.one("SELECT COUNT(*) FROM pilar_import_entries WHERE import_id = ?", ("i1",)) == (1,)
    assert _index_exists(conn, "pilar_import_entries_by_import")


def test_step_4_a_store_from_before_owed_shreds_gets_their_table(settings, conn):
    _run(conn, "DELETE FROM pilar_schema_migrations WHERE version = 4")
    _run(conn, "DROP TABLE pilar_owed_shreds")
    init_store(settings)
    assert applied(conn) == [1, 2, 3, 4]
    _run(conn, "INSERT INTO pilar_owed_shreds (table_name, horizon, since) VALUES (?, ?, ?)",
         ("personal_keys", 2**40, 1.5e9))
    assert conn.one("SELECT horizon FROM pilar_owed_shreds WHERE table_name = ?", ("personal_keys",)) == (2**40,)


def test_a_step_that_fails_leaves_nothing_and_is_not_recorded(conn):
    def half_done(c):
        c.execute("CREATE TABLE pilar_half (x INTEGER)")
        raise RuntimeError("step 5 failed")

    with pytest.raises(RuntimeError, match="step 5 failed"):
        migrate(conn, (*MIGRATIONS, Migration(5, "half", half_done)))
    assert applied(conn) == [1, 2, 3, 4]
    if conn.kind == "sqlite":
        left = conn.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pilar_half'")
    else:
        left = conn.one("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                        "AND table_name = 'pilar_half'")
    assert left is None  # the table's creation was rolled back with the step


def test_a_store_migrated_by_a_newer_pilar_is_refused(settings, conn):
    _run(conn, "INSERT INTO pilar_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
         (99, "from_the_future", "2030-01-01T00:00:00+00:00"))
    with pytest.raises(NewerStore, match="schema is at version 99, migrated by a newer Pilar; this one knows up to 4"):
        init_store(settings)
