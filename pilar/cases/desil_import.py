"""Importing a DTSEN period's desil extract (CSV): each row names people by NIK (one person) or
KK (every registered member of that household) and gives their desil 1–10. Rows are numbered as
a spreadsheet shows them (the header is row 1). A bad row is reported (row, field, message) and
the good rows are still recorded; a row whose NIK or KK names nobody registered is counted, not
an error (an extract covers the whole regency). Re-importing the same file records nothing new:
the same desil for the same person and period is already on record (Beneficiary.record_desil)."""

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from uuid import UUID

from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.desil import PERIOD_MESSAGE, normal_period
from pilar.cases.errors import InvalidInput, RuleBroken
from pilar.cases.nik import kk_problems, nik_problems

COLUMNS = ("nik", "kk", "desil")


def import_extract(app: Any, actor: Actor, lines: Iterable[str], *, period: str, source: str, dry_run: bool,
                   kk_members: Callable[[str], list[UUID]]) -> dict[str, Any]:
    """`app`: the PilarApplication (record_desil, holder_of_nik); `kk_members`: the people registered
    under a KK (the household view). Answers the report."""
    policy.require(policy.import_desil(actor))
    normal = normal_period(period or "")
    if normal is None:
        raise InvalidInput.one("period", PERIOD_MESSAGE)
    reader = csv.reader(lines)
    try:
        header = [name.strip().lower().lstrip("\ufeff") for name in next(reader, [])]
    except csv.Error as error:
        raise InvalidInput.one("file", f"is not a readable CSV file: {error}") from None
    if "desil" not in header or not {"nik", "kk"} & set(header):
        raise InvalidInput.one("file", "the first row must name the columns: desil, and nik or kk (or both)")
    at = {name: header.index(name) for name in COLUMNS if name in header}
    report: dict[str, Any] = {"period": normal, "dry_run": dry_run, "rows": 0, "people": 0, "recorded": 0,
                              "unchanged": 0, "unmatched": 0, "problems": []}
    seen: set[UUID] = set()
    for number, cells in _numbered(reader):
        if isinstance(cells, csv.Error):
            report["rows"] += 1
            report["problems"].append({"row": number, "field": "file", "message": f"cannot be read: {cells}"})
            continue
        if not any(cell.strip() for cell in cells):
            continue
        report["rows"] += 1
        values = {name: cells[i].strip() if i < len(cells) else "" for name, i in at.items()}
        problems = _row_problems(values)
        if problems:
            report["problems"] += [{"row": number, "field": f, "message": m} for f, m in problems]
            continue
        people = _people(app, values, kk_members)
        if not people:
            report["unmatched"] += 1
            continue
        for person in people:
            try:
                result = app.record_desil(actor, person, desil=int(values["desil"]), period=normal, source=source,
                                          dry_run=dry_run)
            except RuleBroken as broken:  # e.g. the person's data was erased since the view last moved
                report["problems"].append({"row": number, "field": "nik" if values.get("nik") else "kk",
                                           "message": broken.message})
                continue
            report["recorded" if result is not None else "unchanged"] += 1
            seen.add(person)
    report["people"] = len(seen)
    app.access_log.record(actor, "import_desil", detail=(
        f"period={normal} rows={report['rows']} recorded={report['recorded']} dry_run={dry_run}"))
    return report


def _numbered(reader: Any) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Each row with its number as a spreadsheet shows it (the header is row 1); a row the csv
    module cannot read is given as its error, and reading goes on with the next."""
    number = 1
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield number, error
            continue
        yield number, cells


def _row_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    nik, kk = values.get("nik", ""), values.get("kk", "")
    if not nik and not kk:
        problems.append(("nik" if "nik" in values else "kk", "give the person's NIK or their household's KK"))
    if nik:
        problems += [("nik", message) for message in nik_problems(nik)]
    elif kk:
        problems += [("kk", message) for message in kk_problems(kk)]
    desil = values["desil"]
    if not (desil.isascii() and desil.isdigit() and 1 <= int(desil) <= 10):
        problems.append(("desil", "must be a whole number from 1 to 10"))
    return problems


def _people(app: Any, values: dict[str, str], kk_members: Callable[[str], list[UUID]]) -> list[UUID]:
    """The NIK's holder if a NIK is given, else every member of the KK's household."""
    if values.get("nik"):
        holder = app.holder_of_nik(values["nik"])
        return [] if holder is None else [holder]
    return kk_members(values["kk"])
