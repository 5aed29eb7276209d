"""The column template of each import kind, derived from the API's request schemas: a column is an
API field's name, a nested one dotted (`referral.source`). Nothing here lists a field by hand
except which schema, and which of its fields, each kind takes; the cells of a row become the
same request body the API would get, checked by the same schema (types) and then by the same
input rules (pilar/cases/inputs.py). A list (`categories`) is written in one cell, separated by `;`."""

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields

from pilar.api.schemas.beneficiaries import BeneficiaryIn
from pilar.api.bulk.sheets import unguarded
from pilar.api.schemas.cases import AidIn, CaseIn

LIST_SEPARATOR = ";"
EXTERNAL_ID = "external_id"  # the spreadsheet's own key of a row (re-runs match on it); not an API field
# Columns of the report CSV (pilar/api/bulk/report.py) that an importer ignores, so the report can be fixed
# and sent again as it is.
REPORT_COLUMNS = ("row", "problems")
_WHOLE = re.compile(r"^-?[0-9]+$")


@dataclass(frozen=True)
class Column:
    name: str  # dotted: referral.source
    part: str  # which body it belongs to: person, case or aid
    path: tuple[str, ...]
    field: fields.Field
    required: bool

    @property
    def is_list(self) -> bool:
        return isinstance(self.field, fields.List)

    @property
    def description(self) -> str:
        meta = self.field.metadata
        if self.is_list:
            meta = {**self.field.inner.metadata, **meta}
        said = [meta["description"]] if "description" in meta else []
        if "enum" in meta:
            said.append("one of: " + ", ".join(meta["enum"]))
        if self.is_list:
            said.append(f"several separated by '{LIST_SEPARATOR}'")
        if isinstance(self.field, fields.Date):
            said.append("a date, YYYY-MM-DD")
        return "; ".join(said)


@dataclass(frozen=True, eq=False)
class Part:
    """One request body of a row: the schema and which of its fields the kind takes."""

    name: str
    schema: type[Schema]
    only: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def columns(self) -> list[Column]:
        return list(_flatten(self.name, self.loader, ()))

    @functools.cached_property
    def loader(self) -> Schema:
        # One instance serves every row: marshmallow schemas keep no state between loads (as pilar/api/blueprint.py).
        return self.schema()

    @functools.cached_property
    def chosen(self) -> frozenset[str]:
        return frozenset(n for n in self.loader.fields
                         if (self.only is None or n in self.only) and n not in self.exclude)

    @functools.cached_property
    def unchosen(self) -> tuple[str, ...]:
        """Required fields a kind does not take (a case's beneficiary_id: the row names the person by NIK)."""
        return tuple(n for n in self.loader.fields if n not in self.chosen)


@dataclass(frozen=True)
class Template:
    kind: str
    what: str
    parts: tuple[Part, ...]
    columns: tuple[Column, ...] = field(init=False)

    def __post_init__(self) -> None:
        chosen = [c for p in self.parts for c in p.columns() if c.path[0] in p.chosen]
        object.__setattr__(self, "columns", tuple(chosen))

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns] + [EXTERNAL_ID]

    def header_problems(self, header: list[str]) -> list[str]:
        """What is wrong with a file's first row, each said plainly (the file is then refused)."""
        problems = []
        known = set(self.header) | set(REPORT_COLUMNS)
        if unknown := [h for h in header if h not in known]:
            problems.append(f"unknown columns for kind {self.kind}: {', '.join(unknown)}")
        if missing := [c.name for c in self.columns if c.required and c.name not in header]:
            problems.append(f"missing required columns: {', '.join(missing)}")
        if repeated := sorted({h for h in header if h and header.count(h) > 1}):
            problems.append(f"columns named twice: {', '.join(repeated)}")
        return problems

    def bodies(self, cells: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
        """The row's request bodies, one per part, typed by their schemas, and each column's problems
        (the schema's messages, as the API's 422 gives them)."""
        bodies: dict[str, dict[str, Any]] = {}
        problems: dict[str, list[str]] = {}
        for part in self.parts:
            raw: dict[str, Any] = {}
            for column in self.columns:
                if column.part == part.name and (value := _cell(cells.get(column.name), column)) is not None:
                    _put(raw, column.path, value)
            try:
                bodies[part.name] = part.loader.load(raw, partial=part.unchosen)
            except ValidationError as error:
                for name, messages in _flat(error.messages):
                    problems.setdefault(name, []).extend(messages)
        return bodies, problems


def _flatten(part: str, schema: Schema, at: tuple[str, ...], required: bool = True) -> Iterator[Column]:
    for name, declared in schema.fields.items():
        if isinstance(declared, fields.Nested):
            yield from _flatten(part, declared.schema, (*at, name), required and declared.required)
        else:
            path = (*at, name)
            yield Column(".".join(path), part, path, declared, required and declared.required)


def _cell(value: Any, column: Column) -> Any:
    """A cell as the API would have it in JSON: empty is absent; a list split; a whole number a number."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date().isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    elif isinstance(value, float) and value.is_integer():
        value = str(int(value))
    value = unguarded(str(value).strip())
    if value == "":
        return None
    if column.is_list:
        return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
    if isinstance(column.field, fields.Integer) and _WHOLE.match(value):
        return int(value)
    return value


def _put(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        body = body.setdefault(part, {})
    body[path[-1]] = value


def _flat(messages: Any, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """marshmallow's nested messages as (dotted field, messages); a list's items under the list's name."""
    if isinstance(messages, list):
        yield prefix.rstrip(".") or "row", [str(m) for m in messages]
        return
    for name, inner in messages.items():
        name = str(name)
        if isinstance(inner, dict) and all(isinstance(k, int) for k in inner):
            for _, item in sorted(inner.items()):
                yield from _flat(item, f"{prefix}{name}.")
        else:
            yield from _flat(inner, f"{prefix}{name}.")


PERSON = Part("person", BeneficiaryIn)
KINDS = {
    "beneficiaries": Template("beneficiaries", "people to register (a NIK already registered is matched)",
                              (PERSON,)),
    "cases": Template("cases", "open cases, each with its person (registered if new), referral, categories, pillar",
                      (PERSON, Part("case", CaseIn, exclude=("beneficiary_id", "desa_code")))),
    "aid": Template("aid", "aid already given, on the person's open case in the pillar",
                    (Part("person", BeneficiaryIn, only=("nik",)), Part("case", CaseIn, only=("pillar",)),
                     Part("aid", AidIn))),
}
