"""Beneficiaries (SPEC §4): register, look up, correct, consent, erase. Mixed into PilarApplication."""

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from pilar.cases import inputs, policy, presenters, staging
from pilar.cases.access import SYSTEM, AccessRecorder, Actor
from pilar.cases.beneficiary import CORRECTABLE_FIELDS, Beneficiary, NikClaim
from pilar.cases.case import Case
from pilar.cases.errors import DuplicateNik, InvalidInput
from pilar.cases.lookup import LookupKey
from pilar.cases.name_search import NameIndexStore
from pilar.cases.personal_data import KeyStore
from pilar.cases.personal_fields import holder_key_id
from pilar.cases.wilayah import Wilayah, kecamatan_code_of
from pilar.cases.write_path import NO_OPTIONS, Work, WriteOptions, WriteResult, check_expected_version


class BeneficiaryCommands:
    wilayah: Wilayah
    access_log: AccessRecorder
    personal_keys: KeyStore
    lookup: LookupKey
    name_index: NameIndexStore
    name_tokens: Callable[[str | None], list[str]]

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
            tokens = self.name_tokens(name)
            if (staged := staging.current()) is not None:  # made with the rest of the batch, before its events
                staged.keys.append(person.id)
                staged.names.append((person.id, tokens, person.version))
            else:
                self.personal_keys.create(person.id)
                self.name_index.add(person.id, tokens, person.version)
            return Work(person, [self._hold_nik(actor, nik, claim, person.id)])

        return self._write(actor, options, decide)

    def find_beneficiary_by_nik(self, actor: Actor, nik: str) -> Beneficiary | None:
        policy.require(policy.read_beneficiaries(actor))
        claim = self._nik_claim(nik)
        found = None if claim is None else claim.beneficiary_id
        # A miss records the NIK tried as its keyed hash (the id its claim would have), never the NIK.
        self.access_log.record(actor, "find_beneficiary_by_nik", beneficiary_id=found,
                               detail="found" if found else f"not found; nik_key={self.lookup.nik_claim_id(nik)}")
        return None if found is None else self._load(Beneficiary, found)

    def nik_holder(self, actor: Actor, nik: str) -> UUID | None:
        """Who holds this NIK, for a writer about to register it (a bulk import matching its rows):
        what registering would answer with its 409, so no read of the person is recorded."""
        policy.require(policy.register_beneficiary(actor))
        return self.holder_of_nik(nik)

    def holder_of_nik(self, nik: str) -> UUID | None:
        """Who holds a NIK now, by its keyed claim, for a caller already allowed to ask (an import
        matching its rows); not an access-logged look-up of the person."""
        claim = self._nik_claim(nik)
        return None if claim is None else claim.beneficiary_id

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

    def person_scope(self, person: Beneficiary, cases: list[Case] | None = None) -> tuple[set[str], set[str]]:
        """(the pillars involved with the person, the kecamatan they are found in), from their cases
        as stored now: what pilar/cases/policy.py judges a person by."""
        cases = self.beneficiary_cases(SYSTEM, person) if cases is None else cases
        return policy.involved_pillars(person.cases, cases), policy.person_kecamatan(person, cases)

    def beneficiary_answer(self, actor: Actor, person: Beneficiary) -> dict[str, Any]:
        """The person as `actor` may see them: identifiers in clear only within their scope and with
        the pii permission, and of each case outside their read scope its pillar, status and dates."""
        cases = self.beneficiary_cases(actor, person)
        in_clear = policy.person_in_clear(actor, *self.person_scope(person, cases))
        return presenters.beneficiary_view(person, [(c, policy.read_case(actor, c) is None) for c in cases],
                                           in_clear=in_clear)

    def correct_beneficiary(
        self, actor: Actor, beneficiary_id: UUID, *, changes: dict[str, Any], reason: str,
        options: WriteOptions = NO_OPTIONS,
    ) -> WriteResult:
        inputs.check_person_fields(changes, at=("changes",))
        inputs.check_reason(reason)
        policy.require(policy.write_beneficiaries(actor, "correct"))
        unknown = set(changes) - set(CORRECTABLE_FIELDS)
        if unknown:
            raise InvalidInput({f: ["cannot be corrected"] for f in sorted(unknown)})
        ended: list[UUID] = []  # the key of a NIK holding the correction ends: whose it was goes with it
        renamed: list[Any] = []  # the corrected name's tokens and version: indexed before the write, older ones pruned after

        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id)
            self._require_involved(actor, "correct", person)
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
            renamed[:] = [self.name_tokens(changed["name"]), person.version] if "name" in changed else []
            if renamed:
                self.name_index.add(person.id, *renamed)
            if "nik" in changed:
                claim = self._nik_claim(changed["nik"])
                if claim is not None and claim.beneficiary_id is not None:
                    raise DuplicateNik(claim.beneficiary_id)
                old_claim = self._nik_claim(old_nik)
                ended[:] = [holder_key_id(old_claim.id, old_claim.held_since)]
                old_claim.release(actor=actor.username)
                work.others += [self._hold_nik(actor, changed["nik"], claim, person.id), old_claim]
            work.extra["changed"] = sorted(changed)
            return work

        result = self._write(actor, options, decide)
        if ended:
            self.personal_keys.destroy(*ended)
        if renamed and not result.replayed:
            self.name_index.prune(beneficiary_id, *renamed)
        return result

    def record_consent(self, actor: Actor, beneficiary_id: UUID, *, given_by: str, method: str, purpose: str,
                       options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_consent(given_by, method, purpose)
        return self._beneficiary_command(
            actor, beneficiary_id, "consent", options,
            lambda p: p.record_consent(actor=actor.username, given_by=given_by, method=method, purpose=purpose),
        )

    def withdraw_consent(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                         options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_reason(reason)
        return self._beneficiary_command(
            actor, beneficiary_id, "consent", options, lambda p: p.withdraw_consent(actor=actor.username, reason=reason)
        )

    def request_erasure(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                        options: WriteOptions = NO_OPTIONS) -> WriteResult:
        """The person asks for erasure (UU PDP): listed with its 3×24 h deadline until erased."""
        inputs.check_reason(reason)
        return self._beneficiary_command(
            actor, beneficiary_id, "request_erasure", options,
            lambda p: p.request_erasure(actor=actor.username, reason=reason))

    def names_of(self, actor: Actor, beneficiary_ids: list[UUID], why: str) -> dict[UUID, str | None]:
        """The names of these people (None once erased), each read recorded in the access log."""
        policy.require(policy.read_beneficiaries(actor))
        names = {}
        with self.mapper.key_scope():
            for beneficiary_id in dict.fromkeys(beneficiary_ids):
                names[beneficiary_id] = self._load(Beneficiary, beneficiary_id).name
                self.access_log.record(actor, why, beneficiary_id=beneficiary_id)
        return names

    def erase_personal_data(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                            options: WriteOptions = NO_OPTIONS) -> WriteResult:
        inputs.check_reason(reason)
        policy.require(policy.write_beneficiaries(actor, "erase"))

        keys: list[UUID] = []

        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id)
            self._require_involved(actor, "erase", person)
            check_expected_version(person, options)
            claim = self._nik_claim(person.nik) if person.nik else None
            held = claim is not None and claim.beneficiary_id == person.id
            keys[:] = [person.id, *(link["case_id"] for link in person.cases),
                       *([holder_key_id(claim.id, claim.held_since)] if held else [])]
            person.erase_personal_data(actor=actor.username, reason=reason, keys=keys)
            work = Work(person)
            if held:
                claim.release(actor=actor.username)
                work.others.append(claim)
            return work

        result = self._write(actor, options, decide)
        # Destroying the keys is the erasure; the projection process also destroys them when it
        # passes the event, in case this process dies right here.
        if keys:
            self.personal_keys.destroy(*keys)
            self.name_index.forget(beneficiary_id)
        return result

    def _beneficiary_command(self, actor: Actor, beneficiary_id: UUID, action: str, options: WriteOptions,
                             command: Callable[[Beneficiary], None]) -> WriteResult:
        policy.require(policy.write_beneficiaries(actor, action))

        def decide() -> Work:
            person = self._load(Beneficiary, beneficiary_id)
            self._require_involved(actor, action, person)
            check_expected_version(person, options)
            command(person)
            return Work(person)

        return self._write(actor, options, decide)

    def _require_involved(self, actor: Actor, action: str, person: Beneficiary) -> None:
        """The pillars involved with the person and their kecamatan, from their cases as stored now."""
        policy.require(policy.write_beneficiary(actor, action, *self.person_scope(person)))

    def move_nik_claims(self) -> int:
        """Upgrade (`pilar db init`): each NIK held under the unkeyed claim id of an older Pilar is
        claimed under the keyed one, and the old claim released, in one transaction per person."""
        moved = 0
        for person in self.every_registered_person():
            if person.nik is None:
                continue  # erased: the old claim was released
            try:
                old = self.repository.get(NikClaim.legacy_id_for(person.nik))
            except AggregateNotFoundError:
                continue
            if old.beneficiary_id != person.id:
                continue
            old.release(actor=SYSTEM.username)
            self.save(self._hold_nik(SYSTEM, person.nik, self._nik_claim(person.nik), person.id), old)
            moved += 1
        return moved

    def _nik_claim(self, nik: str) -> NikClaim | None:
        try:
            with self.mapper.key_scope():
                return self.repository.get(self.lookup.nik_claim_id(nik))
        except AggregateNotFoundError:
            return None

    def _hold_nik(self, actor: Actor, nik: str, claim: NikClaim | None, beneficiary_id: UUID) -> NikClaim:
        if claim is None:
            return NikClaim.claim(actor=actor.username, claim_id=self.lookup.nik_claim_id(nik),
                                  beneficiary_id=beneficiary_id)
        claim.reclaim(actor=actor.username, beneficiary_id=beneficiary_id)
        return claim
