"""The reports of bulk imports (pilar/api/bulk/): one row per import (who, what kind, which file, how it
ended, its counts) and one per reported row (the spreadsheet's row number, the field, the message
or outcome). Never rebuilt from the events (a dry run writes no event), so its tables are made by a
numbered migration (pilar/store/migrations.py). No cell is copied here: only row numbers, field names and
the messages the input rules give (which may quote part of a value, as the API's 422 does)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pilar.store.connection import Connection, Readers, only_on

IMPORT_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS pilar_imports (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        actor TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        all_or_nothing INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        rows_read INTEGER NOT NULL DEFAULT 0,
        imported INTEGER NOT NULL DEFAULT 0,
        matched INTEGER NOT NULL DEFAULT 0,
        already INTEGER NOT NULL DEFAULT 0,
        invalid INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS pilar_imports_by_start ON pilar_imports (started_at)",
    only_on("postgres", """CREATE TABLE IF NOT EXISTS pilar_import_entries (
        seq BIGSERIAL PRIMARY KEY,
        import_id TEXT NOT NULL,
        row_number INTEGER NOT NULL,
        field TEXT NOT NULL,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL)"""),
    only_on("sqlite", """CREATE TABLE IF NOT EXISTS pilar_import_entries (
        import_id TEXT NOT NULL,
        row_number INTEGER NOT NULL,
        field TEXT NOT NULL,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL)"""),
    "CREATE INDEX IF NOT EXISTS pilar_import_entries_by_import ON pilar_import_entries (import_id, row_number)",
]

COUNTS = ("rows_read", "imported", "matched", "already", "invalid")
_COLUMNS = ("id", "kind", "source", "actor", "dry_run", "all_or_nothing", "status", "started_at", "finished_at",
            *COUNTS)


@dataclass(frozen=True)
class Entry:
    row: int
    field: str
    outcome: str  # "invalid" (a problem), "matched" (NIK already registered), "already" (imported before)
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "outcome": self.outcome, "message": self.message}


class ImportTable:
    def __init__(self, readers: Readers):
        self.readers = readers

    def start(self, *, import_id: str, kind: str, source: str, actor: str, dry_run: bool, all_or_nothing: bool,
              at: str) -> None:
        with self.readers.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO pilar_imports (id, kind, source, actor, dry_run, all_or_nothing, status, "
                         "started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (import_id, kind, source, actor, int(dry_run), int(all_or_nothing), "running", at))

    def add(self, import_id: str, entries: Sequence[Entry], counts: dict[str, int]) -> None:
        """A batch of reported rows and the counts so far, in one transaction."""
        with self.readers.connection() as conn, conn.transaction():
            conn.executemany("INSERT INTO pilar_import_entries (import_id, row_number, field, outcome, message) "
                             "VALUES (?, ?, ?, ?, ?)",
                             [(import_id, e.row, e.field, e.outcome, e.message) for e in entries])
            _set_counts(conn, import_id, counts)

    def clear_entries(self, import_id: str) -> None:
        """An all-or-nothing import's checking pass is replaced by the import's own report."""
        with self.readers.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM pilar_import_entries WHERE import_id = ?", (import_id,))

    def finish(self, import_id: str, status: str, counts: dict[str, int], at: str) -> None:
        with self.readers.connection() as conn, conn.transaction():
            _set_counts(conn, import_id, counts)
            conn.execute("UPDATE pilar_imports SET status = ?, finished_at = ? WHERE id = ?", (status, at, import_id))

    def get(self, import_id: str) -> dict[str, Any] | None:
        with self.readers.connection() as conn:
            row = conn.one(f"SELECT {', '.join(_COLUMNS)} FROM pilar_imports WHERE id = ?", (import_id,))
        return None if row is None else _summary(row)

    def entries(self, import_id: str, outcomes: Iterable[str] | None = None) -> list[Entry]:
        wanted = tuple(outcomes) if outcomes is not None else None
        with self.readers.connection() as conn:
            rows = conn.all("SELECT row_number, field, outcome, message FROM pilar_import_entries WHERE import_id = ? "
                            f"ORDER BY row_number, {conn.row_order}", (import_id,))
        return [Entry(int(r[0]), r[1], r[2], r[3]) for r in rows if wanted is None or r[2] in wanted]

    def recent(self, limit: int, actor: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE actor = ? ", (actor, limit)) if actor else ("", (limit,))
        with self.readers.connection() as conn:
            rows = conn.all(f"SELECT {', '.join(_COLUMNS)} FROM pilar_imports {where}ORDER BY started_at DESC LIMIT ?",
                            params)
        return [_summary(row) for row in rows]


def _set_counts(conn: Connection, import_id: str, counts: dict[str, int]) -> None:
    conn.execute(f"UPDATE pilar_imports SET {', '.join(f'{c} = ?' for c in COUNTS)} WHERE id = ?",
                 (*(int(counts.get(c, 0)) for c in COUNTS), import_id))


def _summary(row: tuple) -> dict[str, Any]:
    found = dict(zip(_COLUMNS, row))
    found["dry_run"], found["all_or_nothing"] = bool(found["dry_run"]), bool(found["all_or_nothing"])
    found["counts"] = {c: int(found.pop(c)) for c in COUNTS}
    return found
