"""An import's report as CSV: each reported row (row, field, outcome, message), or, where the file
is at hand (the CLI), the bad rows themselves with their problems in front, in the template's
columns: fix the cells and import that file again (its `row` and `problems` columns are ignored)."""

from collections.abc import Iterator
from typing import Any

from pilar.api.bulk.importer import Prepared
from pilar.api.bulk.sheets import rows_of
from pilar.api.bulk.templates import REPORT_COLUMNS

ENTRY_COLUMNS = ("row", "field", "outcome", "message")


def entry_rows(report: dict[str, Any]) -> Iterator[list[Any]]:
    for entry in report["rows"]:
        yield [entry[c] for c in ENTRY_COLUMNS]


def fixable(prepared: Prepared, report: dict[str, Any]) -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows): every invalid row of the file, its problems first, then its cells as they were."""
    problems: dict[int, list[str]] = {}
    for entry in report["rows"]:
        if entry["outcome"] == "invalid":
            problems.setdefault(entry["row"], []).append(f"{entry['field']}: {entry['message']}")
    header = [*REPORT_COLUMNS, *prepared.template.header]

    def rows() -> Iterator[list[Any]]:
        with rows_of(prepared.path) as (_, numbered):
            for number, cells in numbered:
                if number in problems:
                    yield [number, "; ".join(problems[number]), *(cells.get(c) for c in prepared.template.header)]

    return header, rows()
