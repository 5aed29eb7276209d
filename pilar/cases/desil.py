"""DTSEN desil (SPEC §3): a person's welfare decile 1–10 per quarter (`2026Q3`), recorded on the
beneficiary from a period's extract; which period is current and when a desil is stale.

Periods are quarters of the calendar year in Asia/Jakarta. `2026Q3` is written with a fixed
width, so text order is period order (the views compare them in SQL as text)."""

from datetime import date
from typing import Any
from uuid import UUID

from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.inputs import DESIL_PERIOD
from pilar.cases.write_path import NO_OPTIONS, Work, WriteResult

DEFAULT_MAX_AGE_PERIODS = 4
PERIOD_MESSAGE = "must be a quarter like 2026Q3"


def normal_period(text: str) -> str | None:
    """`2026Q3` (also written `2026-Q3` or `2026q3`, as extracts name them), or None if it is not one."""
    period = text.strip().upper().replace("-", "")
    return period if DESIL_PERIOD.match(period) else None


def period_index(period: str) -> int:
    return int(period[:4]) * 4 + int(period[5]) - 1


def period_at(index: int) -> str:
    return f"{index // 4:04d}Q{index % 4 + 1}"


def period_of(day: date) -> str:
    return f"{day.year:04d}Q{(day.month - 1) // 3 + 1}"


def oldest_fresh_period(today: date, max_age: int) -> str:
    """The oldest period whose desil is not stale: `max_age` periods before today's."""
    return period_at(period_index(period_of(today)) - max_age)


def is_stale(period: str | None, today: date, max_age: int) -> bool:
    """Whether a desil of `period` is older than `max_age` periods; no desil at all is not stale
    (the case shows that none is recorded)."""
    return period is not None and period < oldest_fresh_period(today, max_age)


def desil_answer(desil: dict[str, Any] | None, today: date, max_age: int) -> dict[str, Any] | None:
    """A person's latest desil as a case shows it, with whether it is stale."""
    if desil is None:
        return None
    return {**desil, "stale": is_stale(desil["period"], today, max_age)}


class _Unchanged(Exception):
    """The period's desil was already on record (a racing import recorded it first)."""


class DesilCommands:
    """Mixed into PilarApplication."""

    def record_desil(self, actor: Actor, beneficiary_id: UUID, *, desil: int, period: str, source: str,
                     dry_run: bool = False) -> WriteResult | None:
        """Records the person's desil for the period; None when that same desil is already on record
        (or, in a dry run, would be recorded: a placeholder result is never written)."""
        policy.require(policy.import_desil(actor))
        person = self._load(Beneficiary, beneficiary_id)
        person.require_not_erased()
        if person.desils.get(period) == desil:
            return None
        if dry_run:
            return WriteResult(person.id, person.version + 1, 0)

        def decide() -> Work:
            current = self._load(Beneficiary, beneficiary_id)
            if not current.record_desil(actor=actor.username, desil=desil, period=period, source=source):
                raise _Unchanged()
            return Work(current)

        try:
            return self._write(actor, NO_OPTIONS, decide)
        except _Unchanged:
            return None

    def person_desil(self, case: Any, today: date, max_age: int) -> dict[str, Any] | None:
        """The latest desil of a case's person, for a reader who may read the case."""
        return desil_answer(self._load(Beneficiary, case.beneficiary_id).desil, today, max_age)
