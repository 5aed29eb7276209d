"""A pillar's cases, and the aid given on them, out in the import templates' columns (so a list
exported here imports elsewhere as it is): the cases the reader's scope lists (the views, as the
case list), each read through the application service and recorded in the access log; NIK and KK
masked, name, phone and address left empty for a reader without the `pii` permission."""

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any
from uuid import UUID

from pilar.api.bulk.templates import EXTERNAL_ID, LIST_SEPARATOR, KINDS
from pilar.bootstrap import Services
from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.case import Case
from pilar.cases.masking import masked
from pilar.projections.queries import CaseFilter

PAGE = 500
TEXT_COLUMNS = ("nik", "kk", "phone", EXTERNAL_ID)  # kept as text in XLSX: 16 digits are not a number
PERSON_FIELDS = ("nik", "kk", "name", "birth_date", "sex", "desa_code", "address", "phone")


class Counted:
    """Rows passed through, counted."""

    def __init__(self, rows: Iterable[list[Any]]):
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[list[Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def case_rows(services: Services, actor: Actor, pillar: str) -> tuple[list[str], Iterator[list[Any]]]:
    header = KINDS["cases"].header
    return header, (_row(header, parts, case.id) for case, parts in _cases(services, actor, pillar, "export_cases"))


def aid_rows(services: Services, actor: Actor, pillar: str) -> tuple[list[str], Iterator[list[Any]]]:
    header = KINDS["aid"].header

    def rows() -> Iterator[list[Any]]:
        for case, parts in _cases(services, actor, pillar, "export_aid"):
            for event in services.cases.events.get(case.id):
                if isinstance(event, Case.AidGiven):
                    aid = {f: getattr(event, f) for f in ("component", "item", "quantity", "unit", "value_idr",
                                                           "funding_source", "given_on")}
                    yield _row(header, {**parts, "aid": aid}, f"{case.id}/{event.originator_version}")

    return header, rows()


def _cases(services: Services, actor: Actor, pillar: str, why: str) -> Iterator[tuple[Case, dict[str, Any]]]:
    policy.require(policy.read_pillar(actor, pillar))
    in_clear = policy.case_in_clear(actor)
    page = 1
    while True:
        _, listed = services.views.cases(actor, CaseFilter(pillars=(pillar,)), page, PAGE)
        for item in listed["items"]:
            case = services.cases.readable_case(actor, UUID(str(item["id"])))
            person = services.cases.readable_beneficiary(actor, case.beneficiary_id)
            services.access_log.record(actor, why, case_id=case.id, beneficiary_id=case.beneficiary_id)
            details = {f: getattr(person, f, None) for f in PERSON_FIELDS}
            if not in_clear:
                details = {**masked(details), "name": None}
            yield case, {"person": details, "case": {"pillar": case.pillar, "referral": case.referral,
                                                     "categories": case.categories, "priority": case.priority,
                                                     "lawful_basis": case.lawful_basis}}
        if page * PAGE >= listed["total"]:
            return
        page += 1


def _row(header: list[str], parts: dict[str, dict[str, Any]], external_id: Any) -> list[Any]:
    row = []
    for column in KINDS_COLUMNS[tuple(header)]:
        value: Any = parts.get(column.part, {})
        for step in column.path:
            value = value.get(step) if isinstance(value, dict) else None
        row.append(_cell(value))
    return [*row, str(external_id)]


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(map(str, value))
    if isinstance(value, date):
        return value.isoformat()
    return value


KINDS_COLUMNS = {tuple(t.header): t.columns for t in KINDS.values()}
