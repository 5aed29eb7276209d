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


class PilarAggregate(Aggregate):
    class Event(Aggregate.Event):
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
