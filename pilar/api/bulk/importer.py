"""An import, start to end: the file read row by row, each row checked (a dry run) or written
(pilar/api/bulk/rows.py) with the import's id on every event it appends (pilar/cases/event_origin.py),
BATCH rows at a time: their writes committed together, their report kept in the store
(pilar/store/imports.py), progress told to a callback. A dry run
rehearses each batch through the same commands and writes nothing; with `all_or_nothing`, the
whole file is rehearsed first and nothing is written if any row is bad."""

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pilar.api.bulk.rows import ALREADY, MATCHED, Outcome, RowImporter
from pilar.api.bulk.sheets import BadFile, rows_of
from pilar.api.bulk.templates import KINDS, Template
from pilar.cases import event_origin, policy
from pilar.cases.access import Actor
from pilar.cases.application import PilarApplication
from pilar.store.imports import COUNTS, Entry, ImportTable

# Rows written in one transaction (pilar/cases/staging.py), and reported in one: longer makes fewer
# commits, shorter holds the store's write lock for less time (docs/performance.md, "Bulk import").
BATCH = 250
SOURCE_MAX = 200
Progress = Callable[[dict[str, int], bool], None]  # (counts so far, whether the pass is done)


class BadImport(ValueError):
    """The file or the request is refused whole (wrong kind, header, format): nothing is imported."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


@dataclass
class Prepared:
    """A file checked enough to start: its kind's template and its header."""

    template: Template
    path: Path
    source: str


def prepare(kind: str, path: Path, source: str) -> Prepared:
    """Refuses what cannot be imported at all, before any row is read: the kind, the format, the header."""
    template = KINDS.get(kind)
    if template is None:
        raise BadImport(f"kind must be one of: {', '.join(KINDS)}", "kind")
    source = source.strip()[:SOURCE_MAX] or "upload"
    try:
        with rows_of(path) as (header, _):
            if problems := template.header_problems(header):
                raise BadImport("; ".join(problems) + f" (the {kind} template's columns: {', '.join(template.header)})")
    except BadFile as bad:
        raise BadImport(str(bad)) from None
    return Prepared(template, path, source)


class Importer:
    def __init__(self, service: PilarApplication, table: ImportTable):
        self.service = service
        self.table = table

    def start(self, actor: Actor, prepared: Prepared, *, dry_run: bool, all_or_nothing: bool) -> str:
        """Records the import as running and answers its id (run() then does the work)."""
        policy.require(policy.import_rows(actor))
        import_id = str(uuid.uuid4())
        self.table.start(import_id=import_id, kind=prepared.template.kind, source=prepared.source,
                         actor=actor.username, dry_run=dry_run, all_or_nothing=all_or_nothing, at=_now())
        return import_id

    def run(self, import_id: str, actor: Actor, prepared: Prepared, *, dry_run: bool, all_or_nothing: bool,
            progress: Progress | None = None) -> dict[str, Any]:
        try:
            rows = RowImporter(self.service, prepared.template, actor, prepared.source)
            if dry_run or all_or_nothing:
                counts = self._pass(import_id, prepared, rows.rehearse_batch, progress)
                if dry_run:
                    return self._finish(import_id, "checked", counts)
                if counts["invalid"]:
                    return self._finish(import_id, "refused", counts)
                self.table.clear_entries(import_id)
                rows = RowImporter(self.service, prepared.template, actor, prepared.source)
            with event_origin.imported_by(import_id):
                counts = self._pass(import_id, prepared, rows.write_batch, progress)
            return self._finish(import_id, "imported", counts)
        except BaseException:
            self.table.finish(import_id, "failed", {}, _now())
            raise

    def _pass(self, import_id: str, prepared: Prepared, handle: Callable[[list[tuple[int, dict]]], list[Outcome]],
              progress: Progress | None) -> dict[str, int]:
        """Each BATCH rows handled together, then their report and the counts so far stored."""
        counts = dict.fromkeys(COUNTS, 0)
        with rows_of(prepared.path) as (_, rows):
            while batch := list(itertools.islice(rows, BATCH)):
                pending: list[Entry] = []
                for (number, _), outcome in zip(batch, handle(batch), strict=True):
                    counts["rows_read"] += 1
                    pending += _entries(number, outcome)
                    counts[_count_of(outcome)] += 1
                self.table.add(import_id, pending, counts)
                if progress and len(batch) == BATCH:
                    progress(counts, False)
        self.table.add(import_id, [], counts)
        if progress:
            progress(counts, True)
        return counts

    def _finish(self, import_id: str, status: str, counts: dict[str, int]) -> dict[str, Any]:
        self.table.finish(import_id, status, counts, _now())
        return self.report(import_id)

    def report(self, import_id: str) -> dict[str, Any]:
        summary = self.table.get(import_id)
        if summary is None:
            raise KeyError(import_id)
        return {**summary, "rows": [entry.as_dict() for entry in self.table.entries(import_id)]}


def _count_of(outcome: Outcome) -> str:
    if outcome.invalid:
        return "invalid"
    if outcome.already:
        return "already"
    return "matched" if outcome.matched and outcome.written is None else "imported"


def _entries(number: int, outcome: Outcome) -> list[Entry]:
    if outcome.invalid:
        return [Entry(number, name, "invalid", message) for name, message in outcome.problems]
    found = []
    if outcome.matched:
        found.append(Entry(number, "nik", "matched", MATCHED))
    if outcome.already:
        found.append(Entry(number, "row", "already", f"{ALREADY}: {outcome.written}"))
    return found


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
