"""The Case aggregate: one person's problem handled by one pillar at a time (SPEC §4)."""

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from pilar.cases import case_record
from pilar.cases.clock import is_overdue
from pilar.cases.domain import PilarAggregate, plain
from pilar.cases.errors import NotFound, RuleBroken
from pilar.cases.lawful_basis import SHIPPED_DEFAULT


def derive_status(*, closed: bool, aided: bool, assessed: bool) -> str:
    """SPEC §4: referred → assessed → aided, and closed. One rule for the aggregate and the views."""
    if closed:
        return "closed"
    if aided:
        return "aided"
    if assessed:
        return "assessed"
    return "referred"


class Case(PilarAggregate):
    lawful_basis = None  # a case loaded from a snapshot taken before bases were recorded
    # 2: aid and completed follow-ups kept only as the latest and counts (pilar/cases/case_record.py)
    class_version = 2
    upcast_v1_v2 = staticmethod(case_record.upcast_v1_v2)

    class CaseOpened(PilarAggregate.Created):
        beneficiary_id: UUID
        pillar: str
        desa_code: str
        kecamatan_code: str
        referral: dict
        categories: list
        priority: str
        lawful_basis: str | None = None  # UU PDP's ground (pilar/cases/lawful_basis.py); None: opened before it was recorded

        def apply(self, case: "Case") -> None:
            case.beneficiary_id = self.beneficiary_id
            case.lawful_basis = self.lawful_basis
            case.pillar = self.pillar
            case.desa_code = self.desa_code
            case.kecamatan_code = self.kecamatan_code
            case.referral = plain(self.referral)
            case.categories = list(self.categories)
            case.priority = self.priority
            case.opened_at = self.timestamp
            case.opened_by = self.actor
            case.worker = None
            case.assessment = None
            case_record.start(case)
            case.referrals = []
            case.closed_at = None
            case.outcome = None
            case.closure_note = None
            case.reopenings = []

    class CaseAssigned(PilarAggregate.Event):
        worker: str

        def apply(self, case: "Case") -> None:
            case.worker = self.worker

    class NeedsAssessed(PilarAggregate.Event):
        needs: list
        risk: str
        desil: dict | None
        summary: str

        def apply(self, case: "Case") -> None:
            case.assessment = {
                "needs": list(self.needs),
                "risk": self.risk,
                "desil": plain(self.desil),
                "summary": self.summary,
                "assessed_at": self.timestamp,
                "assessed_by": self.actor,
            }

    class AidGiven(PilarAggregate.Event):
        component: str
        item: str
        quantity: int
        unit: str
        value_idr: int
        funding_source: str
        given_on: date

        def apply(self, case: "Case") -> None:
            case_record.add_aid(case, self)

    class FollowUpScheduled(PilarAggregate.Event):
        follow_up_id: str
        due_on: date
        purpose: str

        def apply(self, case: "Case") -> None:
            case_record.add_follow_up(case, self)

    class FollowUpCompleted(PilarAggregate.Event):
        follow_up_id: str
        outcome: str
        notes: str

        def apply(self, case: "Case") -> None:
            case_record.complete_follow_up(case, case._follow_up(self.follow_up_id), self)

    class ReferralSent(PilarAggregate.Event):
        referral_id: str
        from_pillar: str
        to_pillar: str
        reason: str

        def apply(self, case: "Case") -> None:
            case.referrals.append(
                {
                    "id": self.referral_id,
                    "from_pillar": self.from_pillar,
                    "to_pillar": self.to_pillar,
                    "reason": self.reason,
                    "sent_at": self.timestamp,
                    "sent_by": self.actor,
                    "status": "pending",
                    "answered_at": None,
                    "answered_by": None,
                    "decline_reason": None,
                }
            )

    class ReferralAccepted(PilarAggregate.Event):
        referral_id: str

        def apply(self, case: "Case") -> None:
            referral = case._referral(self.referral_id)
            referral.update(status="accepted", answered_at=self.timestamp, answered_by=self.actor)
            case.pillar = referral["to_pillar"]
            # The receiving pillar assigns its own worker.
            case.worker = None

    class ReferralDeclined(PilarAggregate.Event):
        referral_id: str
        reason: str

        def apply(self, case: "Case") -> None:
            referral = case._referral(self.referral_id)
            referral.update(
                status="declined",
                answered_at=self.timestamp,
                answered_by=self.actor,
                decline_reason=self.reason,
            )

    class LawfulBasisChanged(PilarAggregate.Event):
        lawful_basis: str
        reason: str

        def apply(self, case: "Case") -> None:
            case.lawful_basis = self.lawful_basis

    class CaseClosed(PilarAggregate.Event):
        outcome: str
        note: str

        def apply(self, case: "Case") -> None:
            case.closed_at = self.timestamp
            case.outcome = self.outcome
            case.closure_note = self.note

    class CaseReopened(PilarAggregate.Event):
        reason: str

        def apply(self, case: "Case") -> None:
            case.reopenings.append(
                {
                    "reopened_at": self.timestamp,
                    "reopened_by": self.actor,
                    "reason": self.reason,
                    "previous_outcome": case.outcome,
                }
            )
            case.closed_at = None
            case.outcome = None
            case.closure_note = None

    @classmethod
    def open(cls, *, actor: str, beneficiary_id: UUID, pillar: str, desa_code: str, kecamatan_code: str,
             referral: dict, categories: list[str], priority: str, lawful_basis: str = SHIPPED_DEFAULT) -> "Case":
        return cls._create(cls.CaseOpened, id=uuid4(), actor=actor, beneficiary_id=beneficiary_id, pillar=pillar,
                           desa_code=desa_code, kecamatan_code=kecamatan_code, referral=referral,
                           categories=list(categories), priority=priority, lawful_basis=lawful_basis)

    # --- derived state -------------------------------------------------------------------
    @property
    def status(self) -> str:
        return derive_status(closed=self.closed_at is not None, aided=self.aid_count > 0,
                             assessed=self.assessment is not None)

    @property
    def next_follow_up_due(self) -> date | None:
        due = [f["due_on"] for f in self.follow_ups if f["completed_at"] is None]
        return min(due) if due else None

    def overdue(self, today: date) -> bool:
        return is_overdue(self.next_follow_up_due, self.closed_at is not None, today)

    @property
    def pending_referral(self) -> dict[str, Any] | None:
        for referral in self.referrals:
            if referral["status"] == "pending":
                return referral
        return None

    # --- commands ------------------------------------------------------------------------
    def assign(self, *, actor: str, worker: str) -> None:
        self._require_open()
        self.trigger_event(self.CaseAssigned, actor=actor, worker=worker)

    def assess(
        self, *, actor: str, needs: list[str], risk: str, desil: dict | None, summary: str
    ) -> None:
        self._require_open()
        self.trigger_event(
            self.NeedsAssessed, actor=actor, needs=list(needs), risk=risk, desil=desil, summary=summary
        )

    def give_aid(self, *, actor: str, component: str, item: str, quantity: int, unit: str, value_idr: int,
                 funding_source: str, given_on: date) -> None:
        self._require_open()
        if self.assessment is None:
            raise RuleBroken("aid_needs_assessment", "aid can only be given after the needs are assessed")
        self.trigger_event(self.AidGiven, actor=actor, component=component, item=item, quantity=quantity, unit=unit,
                           value_idr=value_idr, funding_source=funding_source, given_on=given_on)

    def schedule_follow_up(self, *, actor: str, due_on: date, purpose: str) -> str:
        self._require_open()
        follow_up_id = str(uuid4())
        self.trigger_event(
            self.FollowUpScheduled, actor=actor, follow_up_id=follow_up_id, due_on=due_on, purpose=purpose
        )
        return follow_up_id

    def complete_follow_up(self, *, actor: str, follow_up_id: str, outcome: str, notes: str) -> None:
        self._require_open()
        if case_record.was_completed_earlier(self, follow_up_id) or self._follow_up(follow_up_id)["completed_at"]:
            raise RuleBroken("follow_up_completes_once", f"follow-up {follow_up_id} is already completed")
        self.trigger_event(
            self.FollowUpCompleted, actor=actor, follow_up_id=follow_up_id, outcome=outcome, notes=notes
        )

    def send_referral(self, *, actor: str, to_pillar: str, reason: str) -> str:
        self._require_open()
        if to_pillar == self.pillar:
            raise RuleBroken("referral_to_other_pillar", f"the case is already with pillar {to_pillar}")
        pending = self.pending_referral
        if pending is not None:
            raise RuleBroken(
                "one_pending_referral",
                f"referral {pending['id']} to {pending['to_pillar']} is still pending",
            )
        referral_id = str(uuid4())
        self.trigger_event(self.ReferralSent, actor=actor, referral_id=referral_id, from_pillar=self.pillar,
                           to_pillar=to_pillar, reason=reason)
        return referral_id

    def accept_referral(self, *, actor: str, acting_for: tuple[str, ...], referral_id: str) -> None:
        self._answerable_referral(referral_id, acting_for)
        self.trigger_event(self.ReferralAccepted, actor=actor, referral_id=referral_id)

    def decline_referral(
        self, *, actor: str, acting_for: tuple[str, ...], referral_id: str, reason: str
    ) -> None:
        self._answerable_referral(referral_id, acting_for)
        self.trigger_event(self.ReferralDeclined, actor=actor, referral_id=referral_id, reason=reason)

    def change_lawful_basis(self, *, actor: str, lawful_basis: str, reason: str) -> None:
        self._require_open()
        if lawful_basis == self.lawful_basis:
            raise RuleBroken("lawful_basis_changes_something", f"the case's basis is already {lawful_basis}")
        self.trigger_event(self.LawfulBasisChanged, actor=actor, lawful_basis=lawful_basis, reason=reason)

    def close(self, *, actor: str, outcome: str, note: str) -> None:
        self._require_open()
        self.trigger_event(self.CaseClosed, actor=actor, outcome=outcome, note=note)

    def reopen(self, *, actor: str, reason: str) -> None:
        if self.closed_at is None:
            raise RuleBroken("reopen_only_closed", "only a closed case can be reopened")
        self.trigger_event(self.CaseReopened, actor=actor, reason=reason)

    # --- helpers -------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.closed_at is not None:
            raise RuleBroken("case_closed", "the case is closed; only reopening is accepted")

    def _follow_up(self, follow_up_id: str) -> dict[str, Any]:
        for follow_up in self.follow_ups:
            if follow_up["id"] == follow_up_id:
                return follow_up
        raise NotFound("follow-up", follow_up_id)

    def _referral(self, referral_id: str) -> dict[str, Any]:
        for referral in self.referrals:
            if referral["id"] == referral_id:
                return referral
        raise NotFound("referral", referral_id)

    def _answerable_referral(self, referral_id: str, acting_for: tuple[str, ...]) -> dict[str, Any]:
        self._require_open()
        referral = self._referral(referral_id)
        if acting_for and referral["to_pillar"] not in acting_for:
            raise RuleBroken(
                "only_receiving_pillar",
                f"only pillar {referral['to_pillar']} can accept or decline this referral",
            )
        if referral["status"] != "pending":
            raise RuleBroken(
                "referral_answered_once", f"referral {referral_id} was already {referral['status']}"
            )
        return referral
