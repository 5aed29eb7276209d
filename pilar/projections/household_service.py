"""Households (issue 17): everyone registered under a KK, each shown exactly as the person view
shows them to the reader (PilarApplication.beneficiary_answer: scope and masking decided by
pilar/cases/policy.py), found through the household view by the KK's keyed hash; and DTSEN desil
extracts, whose rows name people by NIK or by KK (pilar/cases/desil_import.py)."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.application import PilarApplication
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.desil_import import import_extract
from pilar.cases.errors import InvalidInput
from pilar.cases.nik import kk_problems
from pilar.projections.households import household_members
from pilar.store.connection import Readers


class HouseholdService:
    def __init__(self, app: PilarApplication, readers: Readers):
        self.app = app
        self.readers = readers

    def search(self, actor: Actor, kk: str) -> list[dict[str, Any]]:
        """Every registered member of the KK's household, as the reader may see each (none: an empty list).
        The access log records the KK's keyed hash, never the KK."""
        policy.require(policy.read_beneficiaries(actor))
        if problems := kk_problems(kk):
            raise InvalidInput({"kk": problems})
        key = self.app.lookup.household_key(kk)
        members = self._members(actor, key)
        self.app.access_log.record(actor, "find_household_by_kk",
                                   detail=f"{len(members)} found; household_key={key[:32]}")
        return members

    def of_person(self, actor: Actor, beneficiary_id: UUID) -> list[dict[str, Any]]:
        """The household of a person the reader may read: everyone under their KK (only them
        while their KK is not yet in the view; none without a KK)."""
        person = self.app.get_beneficiary(actor, beneficiary_id)
        if not person.kk:
            return []
        members = self._members(actor, self.app.lookup.household_key(person.kk))
        if not any(member["id"] == person.id for member in members):
            members.insert(0, self.app.beneficiary_answer(actor, person))
        return members

    def _members(self, actor: Actor, key: str) -> list[dict[str, Any]]:
        answers = []
        for member_id in household_members(self.readers, key):
            person = self.app.get_beneficiary(actor, UUID(member_id))  # each read access-logged
            if person.erased_at is None:  # erased since the view last moved
                answers.append(self.app.beneficiary_answer(actor, person))
        return sorted(answers, key=lambda member: (member["registered_at"], str(member["id"])))

    def member_ids(self, kk: str) -> list[UUID]:
        return [UUID(member) for member in household_members(self.readers, self.app.lookup.household_key(kk))]

    def import_desil(self, actor: Actor, lines: Iterable[str], *, period: str, source: str,
                     dry_run: bool = False) -> dict[str, Any]:
        return import_extract(self.app, actor, lines, period=period, source=source, dry_run=dry_run,
                              kk_members=self.member_ids)
