"""Finding a person by name (issue 15) although names are stored only encrypted under each
person's key: a blind index of their words' keyed hashes (pilar/cases/lookup.py, pilar/store/name_index.py),
kept by registration, correction and erasure (pilar/cases/people.py). Each candidate the index names is
loaded and its name checked again, so that a token left behind (a write that died half way)
never answers wrongly. Mixed into PilarApplication."""

from collections.abc import Iterator, Sequence
from typing import Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from pilar.cases import policy
from pilar.cases.access import AccessRecorder, Actor
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.errors import InvalidInput, NotFound
from pilar.cases.inputs import SHORT_MAX, text_problem
from pilar.cases.lookup import LookupKey, name_words

NAME_RESULTS = 20  # a search naming more asks for another word rather than listing a village
MAX_WORDS = 6


class NameIndexStore(Protocol):
    def add(self, beneficiary_id: UUID, tokens: Sequence[str], version: int) -> None: ...

    def add_many(self, names: Sequence[tuple[UUID, Sequence[str], int]]) -> None: ...

    def prune(self, beneficiary_id: UUID, keep: Sequence[str], version: int) -> None: ...

    def forget(self, beneficiary_id: UUID) -> None: ...

    def find(self, tokens: Sequence[str], limit: int) -> list[UUID]: ...


class NameSearch:
    lookup: LookupKey
    name_index: NameIndexStore
    access_log: AccessRecorder

    def name_tokens(self, name: str | None) -> list[str]:
        return [self.lookup.name_token(word) for word in name_words(name or "")]

    def find_beneficiaries_by_name(self, actor: Actor, name: str) -> tuple[list[Beneficiary], bool]:
        """The people whose name holds every word of `name` (in any order, accents and case
        aside), by name, at most NAME_RESULTS; and whether there were more. Each one found is
        recorded in the access log; a search that finds nobody is recorded without the name."""
        policy.require(policy.read_beneficiaries(actor))
        words = _search_words(name)
        tokens = [self.lookup.name_token(word) for word in words]
        found: list[Beneficiary] = []
        more = False
        for beneficiary_id in self.name_index.find(tokens, limit=10 * NAME_RESULTS):
            try:
                person = self._load(Beneficiary, beneficiary_id)
            except NotFound:
                continue  # indexed by a registration that was then not written
            if person.erased_at is not None or not set(words) <= set(name_words(person.name or "")):
                continue
            if len(found) == NAME_RESULTS:
                more = True
                break
            found.append(person)
        found.sort(key=lambda p: (p.name.casefold(), str(p.id)))
        for person in found:
            self.access_log.record(actor, "find_beneficiary_by_name", beneficiary_id=person.id, detail="found")
        if not found:
            self.access_log.record(actor, "find_beneficiary_by_name", detail=f"not found; {len(words)} word(s)")
        return found, more

    def every_registered_person(self) -> Iterator[Beneficiary]:
        """Every person ever registered, in registration order, as stored now (the upgrades of
        `pilar db init` walk them all)."""
        position = 0
        topic = get_topic(Beneficiary.BeneficiaryRegistered)
        while batch := self.recorder.select_notifications(position, 500, topics=[topic], inclusive_of_start=False):
            position = batch[-1].id
            for registered in batch:
                yield self._load(Beneficiary, registered.originator_id)

    def index_names(self) -> int:
        """Index every registered person's name (`pilar db init`, on a store made before the index)."""
        indexed = 0
        for person in self.every_registered_person():
            if person.erased_at is None:
                tokens = self.name_tokens(person.name)
                self.name_index.add(person.id, tokens, person.version)
                self.name_index.prune(person.id, tokens, person.version)
                indexed += 1
        return indexed


def _search_words(name: object) -> list[str]:
    problem = None
    if not isinstance(name, str):
        problem = "must be text"
    elif problem := text_problem(name):
        pass
    elif len(name) > SHORT_MAX:
        problem = f"must be at most {SHORT_MAX} characters"
    elif not name_words(name):
        problem = "must not be empty"
    elif len(name_words(name)) > MAX_WORDS:
        problem = f"name at most {MAX_WORDS} words"
    if problem:
        raise InvalidInput.one("name", problem)
    return name_words(name)
