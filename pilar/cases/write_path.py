"""The write path every command takes: load, check If-Match, decide (the aggregate applies its
rules), save all touched aggregates and the idempotency record in one transaction.

A version conflict means another writer got there first: the command is decided again on the
new state, so a racing write is either re-applied with its rule re-checked or refused, never lost."""

import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Notification

from pilar.cases import staging
from pilar.cases.access import Actor
from pilar.cases.domain import PilarAggregate
from pilar.cases.errors import Contention, IdempotencyKeyReused, InvalidInput, NotFound, StaleVersion
from pilar.cases.idempotency import IdempotencyRecord
from pilar.cases.lookup import FINGERPRINT_PREFIX, LookupKey

WRITE_ATTEMPTS = 8
# Writers that collided would collide again if they re-decided at once: each waits a random
# moment, up to a ceiling that doubles per attempt (2, 4, … 50 ms; at most ~0.2 s in all).
BACKOFF_FIRST = 0.002
BACKOFF_CEILING = 0.05
T = TypeVar("T")


def backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_CEILING, BACKOFF_FIRST * 2 ** attempt))


class StreamQueries(Protocol):
    """What the application asks of the event table beyond eventsourcing's recorder (pilar/store/streams.py)."""

    def head_sql(self) -> str: ...

    def position_of(self, originator_id: UUID, version: int) -> int | None: ...

    def select_stream(self, originator_id: UUID, *, after_version: int = 0, limit: int = 100) -> list[Notification]:
        ...


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key and the fingerprint of its request: a keyed hash (pilar/cases/lookup.py), so
    the stored record cannot be matched against guessed bodies without the lookup key."""

    key: str
    fingerprint: str
    # The plain SHA-256 of the same request, kept in memory only: records written before
    # fingerprints were keyed hold it, and their keys must still replay.
    unkeyed: str = field(default="", repr=False, compare=False)

    @classmethod
    def of_request(cls, lookup: LookupKey, key: str, *parts: Any) -> "Idempotency":
        canonical = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
        return cls(key, lookup.fingerprint(canonical), hashlib.sha256(canonical).hexdigest())

    def matches(self, stored: str) -> bool:
        """Whether a stored fingerprint is of this same request, keyed (`h1:`) or of an older version."""
        mine = self.fingerprint if stored.startswith(FINGERPRINT_PREFIX) else self.unkeyed
        return bool(mine) and hmac.compare_digest(stored, mine)


@dataclass(frozen=True)
class WriteOptions:
    expected_version: int | None = None
    idempotency: Idempotency | None = None


NO_OPTIONS = WriteOptions()


@dataclass(frozen=True)
class WriteResult:
    id: UUID
    version: int
    position: int | None  # None: staged, to be written with its batch (pilar/cases/staging.py)
    extra: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    def answer(self) -> dict[str, Any]:
        return {"id": str(self.id), "version": self.version, "position": self.position, **self.extra}


@dataclass
class Work:
    """What one decision touched: the aggregate written, plus any others saved atomically with it."""

    primary: PilarAggregate
    others: list[PilarAggregate] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class WritePath:
    """Mixed into PilarApplication (an eventsourcing Application, which gives `save` and `repository`)."""

    streams: StreamQueries
    commit_staged: Callable[[staging.Staged], None]

    def _write(self, actor: Actor, options: WriteOptions, decide: Callable[[], Work]) -> WriteResult:
        # Each personal-data key the write needs is read once, not once per event loaded.
        with self.mapper.key_scope():
            return self._write_once(actor, options, decide)

    def _write_once(self, actor: Actor, options: WriteOptions, decide: Callable[[], Work]) -> WriteResult:
        idem = options.idempotency
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                time.sleep(backoff(attempt))
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
            if (staged := staging.current()) is not None:  # saved with its batch (commit_staged)
                staged.stage(to_save)
                return WriteResult(primary.id, primary.version, None, work.extra)
            try:
                recordings = self.save(*to_save)
            except IntegrityError:
                continue  # someone else wrote first: decide again on what is stored now
            position = max(r.notification.id for r in recordings if r.domain_event.originator_id == primary.id)
            return WriteResult(primary.id, primary.version, position, work.extra)
        raise Contention(f"the record kept changing under this request ({WRITE_ATTEMPTS} tries); nothing was "
                         "written: retry it, with the same Idempotency-Key")

    def write_together(self, commands: Sequence[Callable[[], T]], keep: Callable[[T], bool],
                       contended: Callable[[Contention], T]) -> list[T]:
        """Runs each command (writes through this application's commands, e.g. a bulk import's
        row) with its writes staged (pilar/cases/staging.py), then commits what they kept in one go:
        their events in one transaction. A command whose answer `keep` refuses has its writes
        dropped; one that raises ends the batch, and nothing of it is written. Should another
        writer have changed one of the batch's aggregates meanwhile, each command is run again
        alone, decided on what is stored now, as a single write is (`contended`: its answer when
        that keeps failing too)."""
        try:
            return self._together(commands, keep)
        except IntegrityError:
            return [self._alone(command, keep, contended) for command in commands]

    def _alone(self, command: Callable[[], T], keep: Callable[[T], bool], contended: Callable[[Contention], T]) -> T:
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                time.sleep(backoff(attempt))
            try:
                return self._together([command], keep)[0]
            except IntegrityError:
                continue
        return contended(Contention(f"the records kept changing under this row ({WRITE_ATTEMPTS} tries); nothing of it "
                                    "was written: import it again"))

    def rehearse_together(self, commands: Sequence[Callable[[], T]], keep: Callable[[T], bool]) -> list[T]:
        """What write_together would answer, each command deciding exactly as it would (every rule
        a command applies, not only the input checks), with nothing written: a dry run."""
        return self._together(commands, keep, commit=False)

    def _together(self, commands: Sequence[Callable[[], T]], keep: Callable[[T], bool], commit: bool = True) -> list[T]:
        answers = []
        with staging.staging() as staged:
            for command in commands:
                with staging.row() as row:
                    answers.append(command())
                    if not keep(answers[-1]):
                        row.drop()
        if commit:
            self.commit_staged(staged)
        return answers

    def _first_answer(self, actor: Actor, idem: Idempotency) -> WriteResult | None:
        try:
            record: IdempotencyRecord = self.repository.get(IdempotencyRecord.id_for(actor.username, idem.key))
        except AggregateNotFoundError:
            return None
        if not idem.matches(record.fingerprint):
            raise IdempotencyKeyReused(idem.key)
        answer = dict(record.answer)
        position = self.streams.position_of(record.aggregate_id, record.aggregate_version)
        extra = {k: v for k, v in answer.items() if k not in ("id", "version")}
        return WriteResult(record.aggregate_id, record.aggregate_version, position or 0, extra, replayed=True)

    def _load(self, cls: type, aggregate_id: UUID, field_name: str | None = None) -> Any:
        try:
            with self.mapper.key_scope():
                aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls):
            what = cls.__name__.lower()
            if field_name:
                raise InvalidInput.one(field_name, f"no {what} has id {aggregate_id}")
            raise NotFound(what, aggregate_id)
        return aggregate


def check_expected_version(aggregate: PilarAggregate, options: WriteOptions) -> None:
    if options.expected_version is not None and options.expected_version != aggregate.version:
        raise StaleVersion(options.expected_version, aggregate.version)


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(extra, default=str))
