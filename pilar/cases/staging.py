"""Writes staged to be committed together (a bulk import's batch of rows: WritePath.write_together,
pilar/api/bulk/rows.py).

Inside `staging()`, each command decides as it always does (pilar/cases/write_path.py), but what it
would save is kept here instead: its aggregates as decided, their events in order, a new person's
key and name tokens. Later commands of the same batch load those aggregates as staged (the
application's repository asks `current()` first), so a row registering a person and opening their
case, or two rows naming one NIK, decide as they would one after the other.
PilarApplication.commit_staged then writes the batch: its keys, its name tokens, and every event
of it in one transaction, so a batch is written whole or not at all.

A row's writes are staged in a child (`row()`): a row found bad drops them, and the rows staged
before it keep theirs. Only commands whose whole work is their write are staged (registering,
opening a case, giving aid): a correction or an erasure acts on the store after its write
(pruning name tokens, destroying keys), which must not run before that write is committed."""

import contextlib
import copy
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

_current: ContextVar["Staged | None"] = ContextVar("pilar_staged", default=None)


@dataclass
class Staged:
    parent: "Staged | None" = None
    aggregates: dict[UUID, Any] = field(default_factory=dict)  # each aggregate staged, as last decided
    events: list[Any] = field(default_factory=list)  # in the order they are to be stored
    keys: list[UUID] = field(default_factory=list)  # personal-data keys to make before the events
    names: list[tuple[UUID, list[str], int]] = field(default_factory=list)  # (person, name tokens, version)
    dropped: bool = False

    def get(self, aggregate_id: UUID) -> Any | None:
        """A copy of the aggregate as staged (a command mutates what it loads), or None."""
        staged = self.aggregates.get(aggregate_id)
        if staged is not None:
            return copy.deepcopy(staged)
        return None if self.parent is None else self.parent.get(aggregate_id)

    def stage(self, aggregates: Iterable[Any]) -> None:
        for aggregate in aggregates:
            self.events.extend(aggregate.collect_events())
            self.aggregates[aggregate.id] = aggregate

    def drop(self) -> None:
        """This row's writes are not to be committed."""
        self.dropped = True

    def _absorb(self, child: "Staged") -> None:
        self.aggregates.update(child.aggregates)
        self.events += child.events
        self.keys += child.keys
        self.names += child.names


def current() -> Staged | None:
    return _current.get()


@contextlib.contextmanager
def staging() -> Iterator[Staged]:
    """A batch: writes made in the block are staged in the answered Staged, not saved."""
    if _current.get() is not None:
        raise RuntimeError("a batch is already being staged")
    staged = Staged()
    token = _current.set(staged)
    try:
        yield staged
    finally:
        _current.reset(token)


@contextlib.contextmanager
def row() -> Iterator[Staged]:
    """One row's writes within the batch: kept if the block ends without `drop()` or an exception."""
    parent = _current.get()
    if parent is None:
        raise RuntimeError("a row is staged within a batch (staging())")
    child = Staged(parent)
    token = _current.set(child)
    try:
        yield child
    finally:
        _current.reset(token)
    if not child.dropped:
        parent._absorb(child)
