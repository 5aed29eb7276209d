"""What every Pilar aggregate and event shares: the actor on each event, and stable ids."""

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Transcoding

# Deterministic ids (user names, NIK claims, idempotency keys) live in their own namespace.
PILAR_NAMESPACE = uuid5(NAMESPACE_URL, "https://pilar.pacitankab.go.id/ids")


def stable_id(kind: str, natural_key: str) -> UUID:
    return uuid5(PILAR_NAMESPACE, f"{kind}:{natural_key}")


PACKAGE = "pilar."


def package_relative_topic(cls: type) -> str:
    """A class's topic as stored: its module path within the pilar package ("cases.case:Case.AidGiven").
    Stored events name their class by topic; keeping the package's own name out of it let the code
    move into `pilar/` with every stored event and snapshot still resolving (docs/decisions.md)."""
    return f"{cls.__module__.removeprefix(PACKAGE)}:{cls.__qualname__}"


class PilarAggregate(Aggregate):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        # eventsourcing's explicit TOPIC: an aggregate that has one requires one on each of its
        # events, which PilarAggregate.Event gives below, and registers them all.
        cls.TOPIC = package_relative_topic(cls)
        super().__init_subclass__(**kwargs)

    class Event(Aggregate.Event):
        def __init_subclass__(cls, **kwargs: Any) -> None:
            cls.TOPIC = package_relative_topic(cls)
            super().__init_subclass__(**kwargs)

        # eventsourcing 9.5 events carry no metadata; who did it is part of every fact.
        actor: str

    class Created(Event, Aggregate.Created):
        pass


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def plain(value: Any) -> Any:
    """A deep copy made of lists and dicts, so aggregate state never shares event data."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
