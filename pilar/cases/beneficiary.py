"""The Beneficiary aggregate (a person, with personal data under UU PDP) and the NIK claim
that keeps one registration per NIK even when two registrations race."""

from datetime import date
from uuid import UUID, uuid4

from pilar.cases.domain import PilarAggregate, plain, stable_id
from pilar.cases.errors import RuleBroken

PERSONAL_FIELDS = ("nik", "kk", "name", "birth_date", "sex", "address", "phone")
CORRECTABLE_FIELDS = ("nik", "kk", "name", "birth_date", "sex", "desa_code", "address", "phone")


class Beneficiary(PilarAggregate):
    class BeneficiaryRegistered(PilarAggregate.Created):
        nik: str
        kk: str | None
        name: str
        birth_date: date
        sex: str
        desa_code: str
        kecamatan_code: str
        address: str | None
        phone: str | None

        def apply(self, person: "Beneficiary") -> None:
            for field in (*PERSONAL_FIELDS, "desa_code", "kecamatan_code"):
                setattr(person, field, getattr(self, field))
            person.registered_at = self.timestamp
            person.registered_by = self.actor
            person.consent = None
            person.erasure_requested_at = None
            person.erased_at = None
            person.cases = []

    class BeneficiaryDetailsCorrected(PilarAggregate.Event):
        changes: dict
        reason: str

        def apply(self, person: "Beneficiary") -> None:
            for field, value in self.changes.items():
                setattr(person, field, value)

    class ConsentRecorded(PilarAggregate.Event):
        given_by: str
        method: str
        purpose: str

        def apply(self, person: "Beneficiary") -> None:
            person.consent = {
                "status": "given",
                "given_by": self.given_by,
                "method": self.method,
                "purpose": self.purpose,
                "recorded_at": self.timestamp,
                "recorded_by": self.actor,
            }

    class ConsentWithdrawn(PilarAggregate.Event):
        reason: str

        def apply(self, person: "Beneficiary") -> None:
            person.consent = {
                **(person.consent or {}),
                "status": "withdrawn",
                "withdrawn_at": self.timestamp,
                "withdrawn_by": self.actor,
                "withdrawal_reason": self.reason,
            }

    class ErasureRequested(PilarAggregate.Event):
        """The person asked for their personal data to be erased (UU PDP): due within 3×24 hours."""

        reason: str

        def apply(self, person: "Beneficiary") -> None:
            person.erasure_requested_at = self.timestamp

    class PersonalDataErased(PilarAggregate.Event):
        reason: str
        # Every key destroyed with the person's (their cases', their NIK claim's holding), so
        # that the projection process can destroy them again should the eraser die (older
        # erasures: the person's key only).
        keys: tuple = ()

        def apply(self, person: "Beneficiary") -> None:
            for field in PERSONAL_FIELDS:
                setattr(person, field, None)
            if person.consent:
                person.consent = {**person.consent, "given_by": None, "purpose": None, "withdrawal_reason": None}
            person.erased_at = self.timestamp

    class CaseLinked(PilarAggregate.Event):
        """A case was opened for this person; lets one read find all their cases."""

        case_id: UUID
        pillar: str

        def apply(self, person: "Beneficiary") -> None:
            person.cases.append({"case_id": self.case_id, "pillar": self.pillar})

    @classmethod
    def register(cls, *, actor: str, **details: object) -> "Beneficiary":
        return cls._create(cls.BeneficiaryRegistered, id=uuid4(), actor=actor, **details)

    def correct(self, *, actor: str, changes: dict, reason: str) -> dict:
        """Records only the fields that really change; returns them."""
        self.require_not_erased()
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            raise RuleBroken("correction_changes_something", "the correction changes no field")
        self.trigger_event(self.BeneficiaryDetailsCorrected, actor=actor, changes=plain(changed), reason=reason)
        return changed

    def record_consent(self, *, actor: str, given_by: str, method: str, purpose: str) -> None:
        self.require_not_erased()
        self.trigger_event(self.ConsentRecorded, actor=actor, given_by=given_by, method=method, purpose=purpose)

    def withdraw_consent(self, *, actor: str, reason: str) -> None:
        self.require_not_erased()
        if not self.consent or self.consent["status"] != "given":
            raise RuleBroken("consent_withdrawn_after_given", "there is no consent in force to withdraw")
        self.trigger_event(self.ConsentWithdrawn, actor=actor, reason=reason)

    def request_erasure(self, *, actor: str, reason: str) -> None:
        self.require_not_erased()
        if self.erasure_requested_at is not None:
            raise RuleBroken("erasure_requested_once", "an erasure request is already on record and awaits erasure")
        self.trigger_event(self.ErasureRequested, actor=actor, reason=reason)

    def erase_personal_data(self, *, actor: str, reason: str, keys: list[UUID]) -> None:
        self.require_not_erased()
        self.trigger_event(self.PersonalDataErased, actor=actor, reason=reason, keys=[str(k) for k in keys])

    def link_case(self, *, actor: str, case_id: UUID, pillar: str) -> None:
        self.require_not_erased()
        self.trigger_event(self.CaseLinked, actor=actor, case_id=case_id, pillar=pillar)

    def require_not_erased(self) -> None:
        if self.erased_at is not None:
            raise RuleBroken("erased_is_final", "this beneficiary's personal data was erased")


class NikClaim(PilarAggregate):
    """At most one beneficiary holds a NIK; the claim's id is derived from the NIK (a keyed hash
    of it: pilar/cases/lookup.py) so that a second registration collides in the store instead of
    racing past a lookup. Each holding is encrypted under a key of its own, destroyed when it
    ends by erasure or correction (pilar/cases/personal_fields.py)."""

    class NikClaimed(PilarAggregate.Created):
        beneficiary_id: UUID

        def apply(self, claim: "NikClaim") -> None:
            claim.beneficiary_id = self.beneficiary_id
            claim.held_since = self.originator_version

    class NikReclaimed(PilarAggregate.Event):
        beneficiary_id: UUID

        def apply(self, claim: "NikClaim") -> None:
            claim.beneficiary_id = self.beneficiary_id
            claim.held_since = self.originator_version

    class NikReleased(PilarAggregate.Event):
        def apply(self, claim: "NikClaim") -> None:
            claim.beneficiary_id = None
            claim.held_since = None

    @staticmethod
    def legacy_id_for(nik: str) -> UUID:
        """Claims made before the keyed hash: an unkeyed function of the NIK (moved by `pilar db init`)."""
        return stable_id("nik", nik)

    @classmethod
    def claim(cls, *, actor: str, claim_id: UUID, beneficiary_id: UUID) -> "NikClaim":
        return cls._create(cls.NikClaimed, id=claim_id, actor=actor, beneficiary_id=beneficiary_id)

    def reclaim(self, *, actor: str, beneficiary_id: UUID) -> None:
        self.trigger_event(self.NikReclaimed, actor=actor, beneficiary_id=beneficiary_id)

    def release(self, *, actor: str) -> None:
        self.trigger_event(self.NikReleased, actor=actor)
