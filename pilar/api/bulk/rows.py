"""One row of an import: checked with the API's schema, the input rules and the access policy
(dry run and real alike), then written through the application service's own commands, each
with an Idempotency-Key made of the import's source and the row's key, so a row imported once is
never written twice. Each function answers what became of the row."""

import functools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pilar.api.bulk.templates import EXTERNAL_ID, Template
from pilar.cases import inputs, policy
from pilar.cases.access import Actor
from pilar.cases.application import PilarApplication
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.case import Case
from pilar.cases.errors import DuplicateNik, IdempotencyKeyReused, InvalidInput, PilarError, RuleBroken
from pilar.cases.wilayah import kecamatan_code_of
from pilar.cases.write_path import Idempotency, WriteOptions, WriteResult

MATCHED = "matched existing"
ALREADY = "already imported"


@dataclass
class Outcome:
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)
    matched: bool = False  # the row's NIK was already registered
    already: bool = False  # this row was imported before (its idempotency record answered)
    written: UUID | None = None  # the case or person the row wrote

    @property
    def invalid(self) -> bool:
        return bool(self.problems)


class RowImporter:
    def __init__(self, service: PilarApplication, template: Template, actor: Actor, source: str):
        self.service = service
        self.template = template
        self.actor = actor
        self.source = source
        self.seen_niks: dict[str, int] = {}  # a dry run's NIKs so far (rehearse_batch)

    def check(self, number: int, cells: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], Outcome]:
        """The row's bodies and its problems; no write."""
        bodies, by_field = self.template.bodies(cells)
        outcome = Outcome([(name, message) for name, messages in by_field.items() for message in messages])
        external = cells.get(EXTERNAL_ID)
        if external is not None and len(str(external)) > inputs.SHORT_MAX:
            outcome.problems.append((EXTERNAL_ID, f"must be at most {inputs.SHORT_MAX} characters"))
        if "person" in bodies:
            _rules(outcome, lambda: _check_person(bodies["person"], self.service))
        if "case" in bodies and "referral" in bodies["case"]:
            case = bodies["case"]
            desa = bodies.get("person", {}).get("desa_code")
            _rules(outcome, lambda: inputs.check_case_opening(
                pillar=case["pillar"], lawful_basis=case.get("lawful_basis"), priority=case["priority"],
                referral=case["referral"], categories=case["categories"], desa_code=None, wilayah=self.service.wilayah))
            _denied(outcome, "pillar", policy.open_case(self.actor, case["pillar"]))
            if desa and self.service.wilayah.village(desa) is not None:
                _denied(outcome, "desa_code", policy.open_case_in(self.actor, {kecamatan_code_of(desa)}))
        if "aid" in bodies:
            _rules(outcome, lambda: inputs.check_aid(**bodies["aid"]))
            _denied(outcome, "row", policy.write_cases(self.actor))
        if self.template.kind == "beneficiaries":
            _denied(outcome, "row", policy.register_beneficiary(self.actor))
        return bodies, outcome

    def write(self, number: int, cells: dict[str, Any]) -> Outcome:
        bodies, outcome = self.check(number, cells)
        if outcome.invalid:
            return outcome
        key = f"import:{self.template.kind}:{self.source}:{_row_key(number, cells)}"
        try:
            if self.template.kind == "aid":
                case = self._open_case(outcome, bodies["person"]["nik"], bodies["case"]["pillar"])
                if case is not None:
                    self._wrote(outcome, self.service.give_aid(
                        self.actor, case.id, **bodies["aid"], options=self._options(key, "aid", bodies)))
                return outcome
            person_id = self._person(outcome, key, bodies["person"])
            if self.template.kind == "cases" and person_id is not None:
                case = bodies["case"]
                self._wrote(outcome, self.service.open_case(
                    self.actor, beneficiary_id=person_id, pillar=case["pillar"], referral=case["referral"],
                    categories=case["categories"], priority=case["priority"], lawful_basis=case.get("lawful_basis"),
                    options=self._options(key, "case", bodies)))
        except IdempotencyKeyReused:
            outcome.problems.append((EXTERNAL_ID, "this row was imported before from this source with other values; "
                                                  "give it a new external_id to import it as a new row"))
        except PilarError as error:
            outcome.problems.extend(_problems_of(error))
        return outcome

    def rehearse_batch(self, rows: list[tuple[int, dict[str, Any]]]) -> list[Outcome]:
        """A dry run of `write_batch`: each row decided by the same commands, so every rule they
        apply (a consent-basis case for a new person, aid before an assessment) is reported, and
        nothing is written. A batch's rehearsal is forgotten before the next: a NIK an earlier
        batch would register is matched here by `seen_niks`."""
        outcomes = self.service.rehearse_together([functools.partial(self.write, number, cells) for number, cells in rows],
                                                  keep=lambda outcome: not outcome.invalid)
        for (number, cells), outcome in zip(rows, outcomes, strict=True):
            nik = self.template.bodies(cells)[0].get("person", {}).get("nik")
            if outcome.invalid or self.template.kind == "aid" or nik is None:
                continue
            if self.seen_niks.setdefault(nik, number) != number and not outcome.matched:
                outcome.matched = True
                if self.template.kind == "beneficiaries":
                    outcome.written = None
        return outcomes

    def write_batch(self, rows: list[tuple[int, dict[str, Any]]]) -> list[Outcome]:
        """`write` for each row, committed together (pilar/cases/staging.py): each row all or
        nothing, a bad row's writes dropped and the others' kept."""
        return self.service.write_together([functools.partial(self.write, number, cells) for number, cells in rows],
                                           keep=lambda outcome: not outcome.invalid,
                                           contended=lambda error: Outcome(_problems_of(error)))

    def _person(self, outcome: Outcome, key: str, person: dict[str, Any]) -> UUID | None:
        try:
            written = self.service.register_beneficiary(
                self.actor, **person, options=self._options(key, "person", {"person": person}))
        except DuplicateNik as duplicate:  # registered before (elsewhere, by another row or writer): matched
            outcome.matched = True
            return duplicate.existing_id
        if self.template.kind == "beneficiaries":
            self._wrote(outcome, written)
        return written.id

    def _open_case(self, outcome: Outcome, nik: str, pillar: str) -> Case | None:
        """The person's one open case in `pillar`, for aid already given; a problem if none or several."""
        holder = self.service.nik_holder(self.actor, nik)
        if holder is None:
            outcome.problems.append(("nik", "no beneficiary is registered with this NIK"))
            return None
        person: Beneficiary = self.service.readable_beneficiary(self.actor, holder)
        open_cases = [case for case in self.service.beneficiary_cases(self.actor, person)
                      if case.pillar == pillar and case.closed_at is None]
        if len(open_cases) != 1:
            outcome.problems.append(("pillar", f"the person has {len(open_cases) or 'no'} open cases in pillar "
                                               f"{pillar}; aid is imported onto exactly one"))
            return None
        _denied(outcome, "pillar", policy.write_case(self.actor, open_cases[0]))
        return None if outcome.invalid else open_cases[0]

    def _options(self, key: str, part: str, bodies: dict[str, Any]) -> WriteOptions:
        return WriteOptions(idempotency=Idempotency.of_request(self.service.lookup, f"{key}:{part}", part, bodies))

    @staticmethod
    def _wrote(outcome: Outcome, result: WriteResult) -> None:
        outcome.written = result.id
        outcome.already = result.replayed


def _row_key(number: int, cells: dict[str, Any]) -> str:
    external = cells.get(EXTERNAL_ID)
    return f"id={str(external).strip()}" if external is not None and str(external).strip() else f"row={number}"


def _check_person(person: dict[str, Any], service: PilarApplication) -> None:
    # In the order registering checks them: a field's own problems first, then the person as a whole.
    inputs.check_person_fields(person)
    if "birth_date" in person:  # a whole person, not only the NIK naming one (aid)
        inputs.check_person(person, service.wilayah)


def _rules(outcome: Outcome, check: Any) -> None:
    try:
        check()
    except InvalidInput as invalid:
        outcome.problems.extend(_flat(invalid.errors))


def _denied(outcome: Outcome, name: str, denial: policy.Denial) -> None:
    if denial is not None:
        outcome.problems.append((name, denial))


def _flat(errors: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for name, problems in errors.items():
        if isinstance(problems, dict):
            found += _flat(problems, f"{prefix}{name}.")
        else:
            found += [(f"{prefix}{name}", str(p)) for p in problems]
    return found


def _problems_of(error: PilarError) -> list[tuple[str, str]]:
    """A command's refusal as the row's problems: each field named, or the rule broken, or the reason."""
    if isinstance(error, InvalidInput):
        return _flat(error.errors)
    if isinstance(error, RuleBroken):
        return [("row", f"{error.rule}: {error.message}")]
    return [("row", str(error))]
