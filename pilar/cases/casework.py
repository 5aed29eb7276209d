"""Case commands (SPEC §4): open, assign, assess, give aid, follow up, refer, close, reopen, and
reading a case now or as it was. Mixed into PilarApplication."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pilar.cases import inputs, policy, vocab
from pilar.cases import lawful_basis as lawful_basis_of
from pilar.cases.access import AccessRecorder, Actor
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.case import Case
from pilar.cases.errors import InvalidInput, NotFound
from pilar.cases.wilayah import Wilayah, kecamatan_code_of
from pilar.cases.write_path import NO_OPTIONS, Work, WriteOptions, WriteResult, check_expected_version

CaseCommand = Callable[[Case], dict[str, Any] | None]


class CaseCommands:
    wilayah: Wilayah
    access_log: AccessRecorder

    def open_case(
        self,
        actor: Actor,
        *,
        beneficiary_id: UUID,
        pillar: str,
        referral: dict[str, str],
        categories: list[str],
        priority: str,
        desa_code: str | None = None,
        lawful_basis: str | None = None,
        options: WriteOptions = NO_OPTIONS,
    ) -> WriteResult:
        problems = inputs.Problems()
        problems.choice("pillar", pillar, vocab.PILLARS)
        if lawful_basis is not None:
            problems.choice("lawful_basis", lawful_basis, vocab.LAWFUL_BASES)
        problems.choice("priority", priority, vocab.PRIORITIES)
        inputs.check_referral_in(problems, referral)
        problems.choices("categories", categories, vocab.PPKS_CATEGORIES, at_most=len(vocab.PPKS_CATEGORIES),
                         what="PPKS category")
        if desa_code is not None:
            inputs.check_desa(problems, "desa_code", desa_code, self.wilayah)
        problems.check()
        policy.require(policy.open_case(actor, pillar))
        basis = lawful_basis or lawful_basis_of.default_for(pillar, self.lawful_bases)

        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id, field_name="beneficiary_id")
            # The person is saved with the case (CaseLinked): a withdrawal racing this is a conflict, decided again.
            lawful_basis_of.check(basis, (person.consent or {}).get("status"), "opening")
            desa = desa_code or person.desa_code
            if desa is None:
                raise InvalidInput.one("desa_code", "the beneficiary's data was erased; name the desa")
            where = {kecamatan_code_of(desa)} | ({person.kecamatan_code} if person.kecamatan_code else set())
            policy.require(policy.open_case_in(actor, where))
            case = Case.open(
                actor=actor.username, beneficiary_id=person.id, pillar=pillar, desa_code=desa,
                kecamatan_code=kecamatan_code_of(desa), referral=dict(referral), categories=list(categories),
                priority=priority, lawful_basis=basis,
            )
            person.link_case(actor=actor.username, case_id=case.id, pillar=pillar)
            return Work(case, [person])

        return self._write(actor, options, decide)

    def get_case(self, actor: Actor, case_id: UUID, *, version: int | None = None,
                 as_of: datetime | None = None) -> Case:
        if version is not None and as_of is not None:
            raise InvalidInput.one("as_of", "give either as_of or version, not both")
        current = self.readable_case(actor, case_id)
        self.access_log.record(actor, "read_case", case_id=case_id, beneficiary_id=current.beneficiary_id,
                               detail=f"as_of={as_of.isoformat()}" if as_of else f"version={version}" if version else "")
        if as_of is not None:
            version = self._version_at(case_id, as_of)
        if version is None or version == current.version:
            return current
        if version < 1 or version > current.version:
            raise NotFound(f"version {version} of case", case_id)
        with self.mapper.key_scope():
            return self.repository.get(case_id, version=version)

    def readable_case(self, actor: Actor, case_id: UUID) -> Case:
        case = self._load(Case, case_id)
        policy.require(policy.read_case(actor, case))
        return case

    def _version_at(self, case_id: UUID, as_of: datetime) -> int:
        if as_of.tzinfo is None:
            raise InvalidInput.one("as_of", "needs a UTC offset, e.g. 2026-09-30T23:59:59+07:00")
        version = None
        for event in self.events.get(case_id):
            if event.timestamp > as_of:
                break
            version = event.originator_version
        if version is None:
            raise NotFound(f"state at {as_of.isoformat()} of case", case_id)
        return version

    def assign_case(self, actor: Actor, case_id: UUID, *, worker: str, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems = inputs.Problems()
        problems.text("worker", worker, longest=inputs.SHORT_MAX)
        problems.check()

        def command(case: Case) -> None:
            policy.require(policy.assign_to(actor, worker))
            user = self._user(worker)
            if (user is None or not user.active or user.role != "worker" or user.pillar != case.pillar
                    or not policy.serves(user, case.pillar, case.kecamatan_code)):
                raise InvalidInput.one("worker", f"{worker!r} is not an active worker of pillar {case.pillar} "
                                                 "serving the case's kecamatan")
            case.assign(actor=actor.username, worker=worker)

        return self._case_command(actor, case_id, options, command, "assignment")

    def assess_case(self, actor: Actor, case_id: UUID, *, needs: list[str], risk: str, summary: str,
                    desil: dict[str, Any] | None = None, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_assessment(needs, risk, summary, desil)
        return self._case_command(
            actor, case_id, options,
            lambda c: c.assess(actor=actor.username, needs=list(dict.fromkeys(needs)), risk=risk, desil=desil,
                               summary=summary), "assessment",
        )

    def give_aid(self, actor: Actor, case_id: UUID, *, component: str, item: str, quantity: int, unit: str,
                 value_idr: int, funding_source: str, given_on: date, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        aid = dict(component=component, item=item, quantity=quantity, unit=unit, value_idr=value_idr,
                   funding_source=funding_source, given_on=given_on)
        inputs.check_aid(**aid)
        return self._case_command(actor, case_id, options, lambda c: c.give_aid(actor=actor.username, **aid), "aid")

    def schedule_follow_up(self, actor: Actor, case_id: UUID, *, due_on: date, purpose: str,
                           options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_follow_up(due_on, purpose)
        return self._case_command(
            actor, case_id, options,
            lambda c: {"follow_up_id": c.schedule_follow_up(actor=actor.username, due_on=due_on, purpose=purpose)},
            "follow-up",
        )

    def complete_follow_up(self, actor: Actor, case_id: UUID, follow_up_id: str, *, outcome: str, notes: str,
                           options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_outcome("outcome", outcome, vocab.FOLLOW_UP_OUTCOMES, "notes", notes)
        return self._case_command(
            actor, case_id, options,
            lambda c: c.complete_follow_up(actor=actor.username, follow_up_id=follow_up_id, outcome=outcome, notes=notes),
            "follow-up completion",
        )

    def send_referral(self, actor: Actor, case_id: UUID, *, to_pillar: str, reason: str,
                      options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems = inputs.Problems()
        problems.choice("to_pillar", to_pillar, vocab.PILLARS)
        problems.text("reason", reason)
        problems.check()
        return self._case_command(
            actor, case_id, options,
            lambda c: {"referral_id": c.send_referral(actor=actor.username, to_pillar=to_pillar, reason=reason)},
            "referral",
        )

    def accept_referral(self, actor: Actor, case_id: UUID, referral_id: str,
                        options: WriteOptions = NO_OPTIONS) -> WriteResult:
        return self._referral_answer(
            actor, case_id, referral_id, options,
            lambda c: c.accept_referral(actor=actor.username, acting_for=actor.pillars, referral_id=referral_id),
            "referral acceptance",
        )

    def decline_referral(self, actor: Actor, case_id: UUID, referral_id: str, *, reason: str,
                         options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_reason(reason)
        return self._referral_answer(
            actor, case_id, referral_id, options,
            lambda c: c.decline_referral(actor=actor.username, acting_for=actor.pillars, referral_id=referral_id,
                                         reason=reason),
            "referral decline",
        )

    def close_case(self, actor: Actor, case_id: UUID, *, outcome: str, note: str,
                   options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_outcome("outcome", outcome, vocab.CLOSURE_OUTCOMES, "note", note)
        return self._case_command(actor, case_id, options,
                                  lambda c: c.close(actor=actor.username, outcome=outcome, note=note), "closure")

    def reopen_case(self, actor: Actor, case_id: UUID, *, reason: str, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_reason(reason)
        return self._case_command(actor, case_id, options, lambda c: c.reopen(actor=actor.username, reason=reason),
                                  "reopening")

    def change_lawful_basis(self, actor: Actor, case_id: UUID, *, lawful_basis: str, reason: str,
                            options: WriteOptions = NO_OPTIONS) -> WriteResult:
        """A coordinator records that the case is processed on another basis. Moving to consent needs
        consent in force; moving away from it is allowed even after a withdrawal (docs/decisions.md)."""
        problems = inputs.Problems()
        problems.choice("lawful_basis", lawful_basis, vocab.LAWFUL_BASES)
        problems.text("reason", reason)
        problems.check()

        def command(case: Case) -> None:
            if lawful_basis_of.needs_consent(lawful_basis):
                lawful_basis_of.require_consent(self.consent_status(case.beneficiary_id), "change of basis to consent")
            case.change_lawful_basis(actor=actor.username, lawful_basis=lawful_basis, reason=reason)

        return self._decided(actor, case_id, options, policy.change_lawful_basis, command, None)

    def consent_status(self, beneficiary_id: UUID) -> str | None:
        """The person's consent as on record now ("given", "withdrawn" or None), read from their stream
        without opening personal data: the status is in clear, so no key is read and nothing decrypted."""
        stored = self.recorder.select_events(beneficiary_id)
        return lawful_basis_of.consent_status(self.view_mapper.to_domain_event(s) for s in stored)

    def _case_command(self, actor: Actor, case_id: UUID, options: WriteOptions, command: CaseCommand,
                      doing: str) -> WriteResult:
        return self._decided(actor, case_id, options, policy.write_case, command, doing)

    def _referral_answer(self, actor: Actor, case_id: UUID, referral_id: str, options: WriteOptions,
                         command: Callable[[Case], None], doing: str) -> WriteResult:
        return self._decided(actor, case_id, options,
                             lambda a, case: policy.answer_referral(a, case, referral_id), command, doing)

    def _decided(self, actor: Actor, case_id: UUID, options: WriteOptions,
                 allowed: Callable[[Actor, Case], policy.Denial], command: CaseCommand, doing: str | None) -> WriteResult:
        """`doing` names the step for the consent rule (pilar/cases/lawful_basis.py); None: the command judges it."""
        policy.require(policy.write_cases(actor))

        def decide() -> Work:
            case = self._load(Case, case_id)
            policy.require(allowed(actor, case))
            check_expected_version(case, options)
            if doing is not None and lawful_basis_of.needs_consent(case.lawful_basis):
                lawful_basis_of.check(case.lawful_basis, self.consent_status(case.beneficiary_id), doing)
            return Work(case, extra=command(case) or {})

        return self._write(actor, options, decide)
