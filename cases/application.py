"""The application service: Pilar's command and query API, taking domain types.

Every write goes through `_write`: load, check scope and If-Match, decide (the aggregate
applies its rules), save all touched aggregates and the idempotency record in one transaction.
A version conflict means another writer got there first: the command is decided again on the
new state, so a racing write is either re-applied with its rule re-checked or refused, never lost.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from cases import vocab
from cases.access import AccessRecorder, Actor
from cases.account import UserAccount
from cases.beneficiary import CORRECTABLE_FIELDS, Beneficiary, NikClaim
from cases.case import Case
from cases.domain import DateAsISO, PilarAggregate
from cases.errors import (
    Contention,
    DuplicateNik,
    IdempotencyKeyReused,
    InvalidInput,
    NotAllowed,
    NotFound,
    RuleBroken,
    StaleVersion,
)
from cases.idempotency import IdempotencyRecord
from cases.nik import kk_problems, nik_birth_problems, nik_problems
from cases.passwords import hash_password, verify_password
from cases.personal_data import PersonalDataMapper, PersonalKeys
from cases.store import position_of
from cases.wilayah import Wilayah, kecamatan_code_of

JAKARTA = ZoneInfo("Asia/Jakarta")
WRITE_ATTEMPTS = 8
SNAPSHOT_INTERVAL = 50
USER_CACHE_SECONDS = 5.0
log = logging.getLogger(__name__)


def today_in_jakarta() -> date:
    return datetime.now(JAKARTA).date()


@dataclass(frozen=True)
class Idempotency:
    key: str
    fingerprint: str

    @classmethod
    def of_request(cls, key: str, *parts: Any) -> "Idempotency":
        canonical = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())


@dataclass(frozen=True)
class WriteOptions:
    expected_version: int | None = None
    idempotency: Idempotency | None = None


NO_OPTIONS = WriteOptions()


@dataclass(frozen=True)
class WriteResult:
    id: UUID
    version: int
    position: int
    extra: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    def answer(self) -> dict[str, Any]:
        return {"id": str(self.id), "version": self.version, "position": self.position, **self.extra}


@dataclass
class _Work:
    """What one decision touched: the aggregate written, plus any others saved atomically with it."""

    primary: PilarAggregate
    others: list[PilarAggregate] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class PilarApplication(Application):
    name = "Pilar"  # pinned: the class name would otherwise name the tables
    # A long case loads from its latest snapshot plus at most 49 events. Beneficiaries are
    # never snapshotted: a snapshot would hold their personal data outside its encryption.
    snapshotting_intervals = {Case: SNAPSHOT_INTERVAL}
    snapshot_class = Snapshot

    def __init__(self, env: dict[str, str] | None = None, *, wilayah: Wilayah, access_log: AccessRecorder,
                 personal_keys: PersonalKeys):
        self.personal_keys = personal_keys  # before super().__init__, which builds the mapper
        super().__init__(env)
        self.wilayah = wilayah
        self.access_log = access_log
        self._user_cache: dict[str, tuple[float, UserAccount | None]] = {}

    def construct_mapper(self) -> PersonalDataMapper:
        return PersonalDataMapper(transcoder=self.construct_transcoder(), keys=self.personal_keys)

    def close(self) -> None:
        getattr(self.access_log, "close", lambda: None)()
        super().close()

    def _take_snapshots(self, processing_event: Any) -> None:
        # The write is already committed: a failed snapshot only costs speed, never the answer.
        try:
            super()._take_snapshots(processing_event)
        except Exception:  # noqa: BLE001
            log.warning("could not take a snapshot", exc_info=True)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ------------------------------------------------------------------ users & sign-in
    def add_user(self, actor: Actor, username: str, role: str, pillar: str | None, password: str) -> UUID:
        if actor.role != "admin":
            raise NotAllowed("only admins manage users")
        problems: dict[str, list[str]] = {}
        if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
            problems["username"] = ["use 1–64 letters, digits, '.', '_' or '-'"]
        _check_choice(problems, "role", role, vocab.ROLES)
        if pillar is not None:
            _check_choice(problems, "pillar", pillar, vocab.PILLARS)
        elif role == "worker":
            problems["pillar"] = ["a worker belongs to exactly one pillar"]
        if len(password) < 10:
            problems["password"] = ["must be at least 10 characters"]
        if problems:
            raise InvalidInput(problems)
        user = UserAccount.add(
            actor=actor.username, username=username, role=role, pillar=pillar, password_hash=hash_password(password)
        )
        try:
            self.save(user)
        except IntegrityError:
            raise RuleBroken("username_unique", f"user {username!r} already exists") from None
        return user.id

    def change_password(self, actor: Actor, username: str, password: str) -> None:
        if actor.role != "admin" and actor.username != username:
            raise NotAllowed("only admins change other users' passwords")
        if len(password) < 10:
            raise InvalidInput.one("password", "must be at least 10 characters")
        user = self._existing_user(username)
        user.change_password(actor=actor.username, password_hash=hash_password(password))
        self.save(user)
        self._user_cache.pop(username, None)

    def deactivate_user(self, actor: Actor, username: str) -> None:
        _require(actor.role == "admin", "only admins manage users")
        user = self._existing_user(username)
        if not user.active:
            raise RuleBroken("deactivate_once", f"user {username!r} is already deactivated")
        user.deactivate(actor=actor.username)
        self.save(user)
        self._user_cache.pop(username, None)

    def _existing_user(self, username: str) -> UserAccount:
        user = self._user(username)
        if user is None:
            raise NotFound("user", username)
        return user

    def authenticate(self, username: str, password: str) -> UserAccount | None:
        user = self._user(username)
        if user is None or not user.active:
            # Spend the same effort for unknown users, so timing does not reveal who exists.
            verify_password(_DUMMY_HASH, password)
            return None
        return user if verify_password(user.password_hash, password) else None

    def user(self, username: str) -> UserAccount | None:
        """The account behind a bearer token, re-read at most every USER_CACHE_SECONDS: a changed
        role, password or deactivation reaches every worker within that time."""
        now = time.monotonic()
        cached = self._user_cache.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = self._user(username)
        if len(self._user_cache) > 10_000:
            self._user_cache.clear()
        self._user_cache[username] = (now + USER_CACHE_SECONDS, user)
        return user

    def has_users(self) -> bool:
        return self.recorder.max_notification_id() not in (None, 0)

    def _user(self, username: str) -> UserAccount | None:
        try:
            return self.repository.get(UserAccount.id_for(username))
        except AggregateNotFoundError:
            return None

    # ------------------------------------------------------------------ beneficiaries
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
        _require(actor.handles_cases, "only workers and supervisors register beneficiaries")
        details = dict(nik=nik, kk=kk, name=name, birth_date=birth_date, sex=sex, desa_code=desa_code,
                       address=address, phone=phone)
        self._check_person(details)
        details["kecamatan_code"] = kecamatan_code_of(desa_code)

        def decide() -> _Work:
            claim = self._nik_claim(nik)
            if claim is not None and claim.beneficiary_id is not None:
                raise DuplicateNik(claim.beneficiary_id)
            person = Beneficiary.register(actor=actor.username, **details)
            self.personal_keys.create(person.id)
            if claim is None:
                claim = NikClaim.claim(actor=actor.username, nik=nik, beneficiary_id=person.id)
            else:
                claim.reclaim(actor=actor.username, beneficiary_id=person.id)
            return _Work(person, [claim])

        return self._write(actor, options, decide)

    def find_beneficiary_by_nik(self, actor: Actor, nik: str) -> Beneficiary | None:
        _require(actor.handles_cases or actor.reads_everything, "your role does not read beneficiaries")
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
        _require(actor.handles_cases or actor.reads_everything, "your role does not read beneficiaries")
        return self._load(Beneficiary, beneficiary_id)

    def beneficiary_cases(self, actor: Actor, person: Beneficiary) -> list[Case]:
        """All of a person's cases across pillars, so pillars do not work past each other."""
        return [self._load(Case, link["case_id"]) for link in person.cases]

    def correct_beneficiary(
        self, actor: Actor, beneficiary_id: UUID, *, changes: dict[str, Any], reason: str,
        options: WriteOptions = NO_OPTIONS,
    ) -> WriteResult:
        _require(actor.handles_cases, "only workers and supervisors correct beneficiaries")
        unknown = set(changes) - set(CORRECTABLE_FIELDS)
        if unknown:
            raise InvalidInput({f: ["cannot be corrected"] for f in sorted(unknown)})

        def decide() -> _Work:
            person = self._load(Beneficiary, beneficiary_id)
            _check_expected_version(person, options)
            # Erased fields are None and cannot be checked; an erased person is never corrected.
            person._require_not_erased()
            self._check_person({f: getattr(person, f) for f in CORRECTABLE_FIELDS} | changes)
            corrected = dict(changes)
            if "desa_code" in changes:
                corrected["kecamatan_code"] = kecamatan_code_of(changes["desa_code"])
            work = _Work(person)
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
        return self._beneficiary_command(
            actor, beneficiary_id, options,
            lambda p: p.record_consent(actor=actor.username, given_by=given_by, method=method, purpose=purpose),
        )

    def withdraw_consent(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                         options: WriteOptions = NO_OPTIONS) -> WriteResult:
        return self._beneficiary_command(
            actor, beneficiary_id, options, lambda p: p.withdraw_consent(actor=actor.username, reason=reason)
        )

    def erase_personal_data(self, actor: Actor, beneficiary_id: UUID, *, reason: str,
                            options: WriteOptions = NO_OPTIONS) -> WriteResult:
        _require(actor.role == "supervisor", "only supervisors erase personal data")

        def decide() -> _Work:
            person = self._load(Beneficiary, beneficiary_id)
            _check_expected_version(person, options)
            claim = self._nik_claim(person.nik) if person.nik else None
            person.erase_personal_data(actor=actor.username, reason=reason)
            work = _Work(person)
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
        _require(actor.handles_cases, "only workers and supervisors record consent")

        def decide() -> _Work:
            person = self._load(Beneficiary, beneficiary_id)
            _check_expected_version(person, options)
            command(person)
            return _Work(person)

        return self._write(actor, options, decide)

    def _check_person(self, details: dict[str, Any]) -> None:
        problems: dict[str, list[str]] = {}
        nik = details["nik"]
        if nik_errors := nik_problems(nik):
            problems["nik"] = nik_errors
        elif details["birth_date"] is not None and details["sex"] in vocab.SEXES:
            if mismatch := nik_birth_problems(nik, details["birth_date"], details["sex"]):
                problems["nik"] = mismatch
        if details.get("kk") is not None and (kk_errors := kk_problems(details["kk"])):
            problems["kk"] = kk_errors
        _check_choice(problems, "sex", details["sex"], vocab.SEXES)
        if details["birth_date"] is not None:
            if details["birth_date"] > today_in_jakarta():
                problems.setdefault("birth_date", []).append("is in the future")
            elif details["birth_date"].year < 1900:
                problems.setdefault("birth_date", []).append("is before 1900")
        if self.wilayah.village(details["desa_code"]) is None:
            problems["desa_code"] = [
                f"{details['desa_code']!r} is not a desa or kelurahan of {self.wilayah.regency.name}"
            ]
        if not (details.get("name") or "").strip():
            problems["name"] = ["must not be blank"]
        if problems:
            raise InvalidInput(problems)

    def _nik_claim(self, nik: str) -> NikClaim | None:
        try:
            return self.repository.get(NikClaim.id_for(nik))
        except AggregateNotFoundError:
            return None

    # ------------------------------------------------------------------ cases
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
        options: WriteOptions = NO_OPTIONS,
    ) -> WriteResult:
        problems: dict[str, list[str]] = {}
        _check_choice(problems, "pillar", pillar, vocab.PILLARS)
        _check_choice(problems, "priority", priority, vocab.PRIORITIES)
        _check_choice(problems, "referral.source", referral.get("source"), vocab.REFERRAL_SOURCES)
        if not categories:
            problems["categories"] = ["name at least one PPKS category"]
        for category in categories:
            _check_choice(problems, "categories", category, vocab.PPKS_CATEGORIES)
        if len(set(categories)) != len(categories):
            problems.setdefault("categories", []).append("each category once")
        if desa_code is not None and self.wilayah.village(desa_code) is None:
            problems["desa_code"] = [f"{desa_code!r} is not a desa or kelurahan of {self.wilayah.regency.name}"]
        if problems:
            raise InvalidInput(problems)
        _require(actor.handles_cases and actor.covers(pillar), f"you cannot open cases for pillar {pillar}")

        def decide() -> _Work:
            person = self._load(Beneficiary, beneficiary_id, field_name="beneficiary_id")
            desa = desa_code or person.desa_code
            if desa is None:
                raise InvalidInput.one("desa_code", "the beneficiary's data was erased; name the desa")
            case = Case.open(
                actor=actor.username,
                beneficiary_id=person.id,
                pillar=pillar,
                desa_code=desa,
                kecamatan_code=kecamatan_code_of(desa),
                referral=dict(referral),
                categories=list(categories),
                priority=priority,
            )
            person.link_case(actor=actor.username, case_id=case.id, pillar=pillar)
            return _Work(case, [person])

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
        return self.repository.get(case_id, version=version)

    def readable_case(self, actor: Actor, case_id: UUID) -> Case:
        case = self._load(Case, case_id)
        _require(_may_read(actor, case), "this case is outside your pillar")
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
        def command(case: Case) -> None:
            if actor.role == "worker" and worker != actor.username:
                raise NotAllowed("workers can only assign cases to themselves")
            user = self._user(worker)
            if user is None or not user.active or user.role != "worker" or user.pillar != case.pillar:
                raise InvalidInput.one("worker", f"{worker!r} is not an active worker of pillar {case.pillar}")
            case.assign(actor=actor.username, worker=worker)

        return self._case_command(actor, case_id, options, command)

    def assess_case(self, actor: Actor, case_id: UUID, *, needs: list[str], risk: str, summary: str,
                    desil: dict[str, Any] | None = None, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems: dict[str, list[str]] = {}
        for need in needs:
            _check_choice(problems, "needs", need, vocab.AID_COMPONENTS)
        _check_choice(problems, "risk", risk, vocab.RISKS)
        if desil is not None and not (isinstance(desil.get("value"), int) and 1 <= desil["value"] <= 10):
            problems["desil.value"] = ["must be a whole number from 1 to 10"]
        if problems:
            raise InvalidInput(problems)
        return self._case_command(
            actor, case_id, options,
            lambda c: c.assess(actor=actor.username, needs=list(dict.fromkeys(needs)), risk=risk, desil=desil,
                               summary=summary),
        )

    def give_aid(self, actor: Actor, case_id: UUID, *, component: str, item: str, quantity: int, unit: str,
                 value_idr: int, funding_source: str, given_on: date, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems: dict[str, list[str]] = {}
        _check_choice(problems, "component", component, vocab.AID_COMPONENTS)
        _check_choice(problems, "funding_source", funding_source, vocab.FUNDING_SOURCES)
        if quantity < 1:
            problems["quantity"] = ["must be at least 1"]
        if value_idr < 0:
            problems["value_idr"] = ["must not be negative"]
        if given_on > today_in_jakarta():
            problems["given_on"] = ["is in the future (dates are judged in Asia/Jakarta)"]
        elif given_on < today_in_jakarta() - timedelta(days=10 * 366):
            problems["given_on"] = ["is more than ten years ago; check the year"]
        if problems:
            raise InvalidInput(problems)
        return self._case_command(
            actor, case_id, options,
            lambda c: c.give_aid(actor=actor.username, component=component, item=item, quantity=quantity, unit=unit,
                                 value_idr=value_idr, funding_source=funding_source, given_on=given_on),
        )

    def schedule_follow_up(self, actor: Actor, case_id: UUID, *, due_on: date, purpose: str,
                           options: WriteOptions = NO_OPTIONS) -> WriteResult:
        # A visit agreed in the field may be entered days later (weak connections), so a due
        # date in the past is accepted, and is overdue at once; a year back or five ahead is a typo.
        today = today_in_jakarta()
        if not today - timedelta(days=366) <= due_on <= today + timedelta(days=5 * 366):
            raise InvalidInput.one("due_on", "must be within a year before and five years after today (Asia/Jakarta)")
        return self._case_command(
            actor, case_id, options,
            lambda c: {"follow_up_id": c.schedule_follow_up(actor=actor.username, due_on=due_on, purpose=purpose)},
        )

    def complete_follow_up(self, actor: Actor, case_id: UUID, follow_up_id: str, *, outcome: str, notes: str,
                           options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems: dict[str, list[str]] = {}
        _check_choice(problems, "outcome", outcome, vocab.FOLLOW_UP_OUTCOMES)
        if problems:
            raise InvalidInput(problems)
        return self._case_command(
            actor, case_id, options,
            lambda c: c.complete_follow_up(actor=actor.username, follow_up_id=follow_up_id, outcome=outcome, notes=notes),
        )

    def send_referral(self, actor: Actor, case_id: UUID, *, to_pillar: str, reason: str,
                      options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems: dict[str, list[str]] = {}
        _check_choice(problems, "to_pillar", to_pillar, vocab.PILLARS)
        if problems:
            raise InvalidInput(problems)
        return self._case_command(
            actor, case_id, options,
            lambda c: {"referral_id": c.send_referral(actor=actor.username, to_pillar=to_pillar, reason=reason)},
        )

    def accept_referral(self, actor: Actor, case_id: UUID, referral_id: str,
                        options: WriteOptions = NO_OPTIONS) -> WriteResult:
        return self._referral_answer(
            actor, case_id, referral_id, options,
            lambda c: c.accept_referral(actor=actor.username, acting_for=actor.pillar, referral_id=referral_id),
        )

    def decline_referral(self, actor: Actor, case_id: UUID, referral_id: str, *, reason: str,
                         options: WriteOptions = NO_OPTIONS) -> WriteResult:
        return self._referral_answer(
            actor, case_id, referral_id, options,
            lambda c: c.decline_referral(actor=actor.username, acting_for=actor.pillar, referral_id=referral_id,
                                         reason=reason),
        )

    def close_case(self, actor: Actor, case_id: UUID, *, outcome: str, note: str,
                   options: WriteOptions = NO_OPTIONS) -> WriteResult:
        problems: dict[str, list[str]] = {}
        _check_choice(problems, "outcome", outcome, vocab.CLOSURE_OUTCOMES)
        if problems:
            raise InvalidInput(problems)
        return self._case_command(actor, case_id, options,
                                  lambda c: c.close(actor=actor.username, outcome=outcome, note=note))

    def reopen_case(self, actor: Actor, case_id: UUID, *, reason: str, options: WriteOptions = NO_OPTIONS) -> WriteResult:
        return self._case_command(actor, case_id, options, lambda c: c.reopen(actor=actor.username, reason=reason))

    def _case_command(self, actor: Actor, case_id: UUID, options: WriteOptions,
                      command: Callable[[Case], dict[str, Any] | None]) -> WriteResult:
        _require(actor.handles_cases, "your role does not write cases")

        def decide() -> _Work:
            case = self._load(Case, case_id)
            _require(actor.covers(case.pillar), f"the case is with pillar {case.pillar}, outside your pillar")
            _check_expected_version(case, options)
            return _Work(case, extra=command(case) or {})

        return self._write(actor, options, decide)

    def _referral_answer(self, actor: Actor, case_id: UUID, referral_id: str, options: WriteOptions,
                         command: Callable[[Case], None]) -> WriteResult:
        # The receiving pillar answers a case that is still with the sending pillar.
        _require(actor.handles_cases, "your role does not write cases")

        def decide() -> _Work:
            case = self._load(Case, case_id)
            pending = case.pending_referral
            # A pillar a referral was sent to stays involved in it after answering, so a repeated
            # answer is told the rule (referral_answered_once) rather than that the case is not theirs.
            addressed = any(r["id"] == referral_id and actor.covers(r["to_pillar"]) for r in case.referrals)
            involved = (actor.covers(case.pillar) or addressed
                        or (pending is not None and actor.covers(pending["to_pillar"])))
            _require(involved, "this case is outside your pillar")
            _check_expected_version(case, options)
            command(case)
            return _Work(case)

        return self._write(actor, options, decide)

    # ------------------------------------------------------------------ the write path
    def _write(self, actor: Actor, options: WriteOptions, decide: Callable[[], _Work]) -> WriteResult:
        idem = options.idempotency
        for _attempt in range(WRITE_ATTEMPTS):
            if idem is not None and (first := self._first_answer(actor, idem)) is not None:
                return first
            work = decide()
            primary = work.primary
            answer = {"id": str(primary.id), "version": primary.version, **_jsonable(work.extra)}
            to_save: list[PilarAggregate] = [primary, *work.others]
            if idem is not None:
                to_save.append(
                    IdempotencyRecord.record(
                        actor=actor.username, key=idem.key, fingerprint=idem.fingerprint,
                        aggregate_id=primary.id, aggregate_version=primary.version, answer=answer,
                    )
                )
            try:
                recordings = self.save(*to_save)
            except IntegrityError:
                continue  # someone else wrote first: decide again on what is stored now
            position = max(r.notification.id for r in recordings if r.domain_event.originator_id == primary.id)
            return WriteResult(primary.id, primary.version, position, work.extra)
        raise Contention("the record kept changing under this request; retry it")

    def _first_answer(self, actor: Actor, idem: Idempotency) -> WriteResult | None:
        try:
            record: IdempotencyRecord = self.repository.get(IdempotencyRecord.id_for(actor.username, idem.key))
        except AggregateNotFoundError:
            return None
        if record.fingerprint != idem.fingerprint:
            raise IdempotencyKeyReused(idem.key)
        answer = dict(record.answer)
        position = position_of(self.recorder, record.aggregate_id, record.aggregate_version)
        extra = {k: v for k, v in answer.items() if k not in ("id", "version")}
        return WriteResult(record.aggregate_id, record.aggregate_version, position or 0, extra, replayed=True)

    def _load(self, cls: type, aggregate_id: UUID, field_name: str | None = None) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls):
            what = "case" if cls is Case else "beneficiary"
            if field_name:
                raise InvalidInput.one(field_name, f"no {what} has id {aggregate_id}")
            raise NotFound(what, aggregate_id)
        return aggregate


def _may_read(actor: Actor, case: Case) -> bool:
    if actor.reads_everything:
        return True
    if not actor.handles_cases:
        return False
    pending = case.pending_referral
    return actor.covers(case.pillar) or (pending is not None and actor.covers(pending["to_pillar"]))


def _check_expected_version(aggregate: PilarAggregate, options: WriteOptions) -> None:
    if options.expected_version is not None and options.expected_version != aggregate.version:
        raise StaleVersion(options.expected_version, aggregate.version)


def _check_choice(problems: dict[str, list[str]], name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        problems.setdefault(name, []).append(f"{value!r} is not one of: {', '.join(choices)}")


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(extra, default=str))


_DUMMY_HASH = hash_password("pilar-timing-equaliser")
