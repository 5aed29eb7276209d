"""Beneficiaries (SPEC §4): register, look up, correct, consent, erase. Mixed into PilarApplication."""

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from cases import inputs, policy
from cases.access import AccessRecorder, Actor
from cases.beneficiary import CORRECTABLE_FIELDS, Beneficiary, NikClaim
from cases.case import Case
from cases.errors import DuplicateNik, InvalidInput
from cases.personal_data import KeyStore
from cases.wilayah import Wilayah, kecamatan_code_of
from cases.write_path import NO_OPTIONS, Work, WriteOptions, WriteResult, check_expected_version


class BeneficiaryCommands:
    wilayah: Wilayah
    access_log: AccessRecorder
    personal_keys: KeyStore

    def register_beneficiary(
        self,
        actor: Actor,
        *,
        nik: str,
        name: str,
        birth_date: date,
        sex: str,
        desa_code: str,
        kk: str | None = None,
        address: str | None = None,
        phone: str | None = None,
        options: WriteOptions = NO_OPTIONS,
    ) -> WriteResult:
        details = dict(nik=nik, kk=kk, name=name, birth_date=birth_date, sex=sex, desa_code=desa_code,
                       address=address, phone=phone)
        inputs.check_person_fields(details)
        policy.require(policy.register_beneficiary(actor))
        inputs.check_person(details, self.wilayah)
        details["kecamatan_code"] = kecamatan_code_of(desa_code)

        def decide() -> Work:
            claim = self._nik_claim(nik)
            if claim is not None and claim.beneficiary_id is not None:
                raise DuplicateNik(claim.beneficiary_id)
            person = Beneficiary.register(actor=actor.username, **details)
            self.personal_keys.create(person.id)
            if claim is None:
                claim = NikClaim.claim(actor=actor.username, nik=nik, beneficiary_id=person.id)
            else:
                claim.reclaim(actor=actor.username, beneficiary_id=person.id)
            return Work(person, [claim])

        return self._write(actor, options, decide)

    def find_beneficiary_by_nik(self, actor: Actor, nik: str) -> Beneficiary | None:
        policy.require(policy.read_beneficiaries(actor))
        claim = self._nik_claim(nik)
        found = None if claim is None else claim.beneficiary_id
        self.access_log.record(actor, "find_beneficiary_by_nik", beneficiary_id=found,
                               detail="found" if found else "not found")
        return None if found is None else self.repository.get(found)

    def get_beneficiary(self, actor: Actor, beneficiary_id: UUID) -> Beneficiary:
        person = self.readable_beneficiary(actor, beneficiary_id)
        self.access_log.record(actor, "read_beneficiary", beneficiary_id=beneficiary_id)
        return person

    def readable_beneficiary(self, actor: Actor, beneficiary_id: UUID) -> Beneficiary:
        policy.require(policy.read_beneficiaries(actor))
        return self._load(Beneficiary, beneficiary_id)

    def beneficiary_cases(self, actor: Actor, person: Beneficiary) -> list[Case]:
        """All of a person's cases across pillars, so pillars do not work past each other."""
        return [self._load(Case, link["case_id"]) for link in person.cases]

    def correct_beneficiary(
        self, actor: Actor, beneficiary_id: UUID, *, changes: dict[str, Any], reason: str,
        options: WriteOptions = NO_OPTIONS,
    ) -> WriteResult:
        inputs.check_person_fields(changes, at=("changes",))
        inputs.check_reason(reason)
        policy.require(policy.correct_beneficiary(actor))
        unknown = set(changes) - set(CORRECTABLE_FIELDS)
        if unknown:
            raise InvalidInput({f: ["cannot be corrected"] for f in sorted(unknown)})

        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id)
            check_expected_version(person, options)
            # Erased fields are None and cannot be checked; an erased person is never corrected.
            person.require_not_erased()
            inputs.check_person({f: getattr(person, f) for f in CORRECTABLE_FIELDS} | changes, self.wilayah)
            corrected = dict(changes)
            if "desa_code" in changes:
                corrected["kecamatan_code"] = kecamatan_code_of(changes["desa_code"])
            work = Work(person)
            old_nik = person.nik
            changed = person.correct(actor=actor.username, changes=corrected, reason=reason)
            if "nik" in changed:
                claim = self._nik_claim(changed["nik"])
                if claim is not None and claim.beneficiary_id is not None:
                    raise DuplicateNik(claim.beneficiary_id)
                if claim is None:
                    claim = NikClaim.claim(actor=actor.username, nik=changed["nik"], beneficiary_id=person.id)
                else:
                    claim.reclaim(actor=actor.username, beneficiary_id=person.id)
                old_claim = self._nik_claim(old_nik)
                old_claim.release(actor=actor.username)
                work.others += [claim, old_claim]
            work.extra["changed"] = sorted(changed)
            return work

        return self._write(actor, options, decide)

    def record_consent(self, actor: Actor, beneficiary_id: UUID, *, given_by: str, method: str, purpose: str,
                       options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_consent(given_by, method, purpose)
        policy.require(policy.record_consent(actor))
        return self._beneficiary_command(
            actor, beneficiary_id, options,
            lambda p: p.record_consent(actor=actor.username, given_by=given_by, method=method, purpose=purpose),
        )

    def withdraw_consent(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                         options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_reason(reason)
        policy.require(policy.record_consent(actor))
        return self._beneficiary_command(
            actor, beneficiary_id, options, lambda p: p.withdraw_consent(actor=actor.username, reason=reason)
        )

    def erase_personal_data(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                            options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_reason(reason)
        policy.require(policy.erase_personal_data(actor))

        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id)
            check_expected_version(person, options)
            claim = self._nik_claim(person.nik) if person.nik else None
            person.erase_personal_data(actor=actor.username, reason=reason)
            work = Work(person)
            if claim is not None and claim.beneficiary_id == person.id:
                claim.release(actor=actor.username)
                work.others.append(claim)
            return work

        result = self._write(actor, options, decide)
        # Destroying the key is the erasure; the projection process also destroys it when it
        # passes the event, in case this process dies right here.
        self.personal_keys.destroy(beneficiary_id)
        return result

    def _beneficiary_command(self, actor: Actor, beneficiary_id: UUID, options: WriteOptions,
                             command: Callable[[Beneficiary], None]) -> WriteResult:
        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id)
            check_expected_version(person, options)
            command(person)
            return Work(person)

        return self._write(actor, options, decide)

    def _nik_claim(self, nik: str) -> NikClaim | None:
        try:
            return self.repository.get(NikClaim.id_for(nik))
        except AggregateNotFoundError:
            return None
