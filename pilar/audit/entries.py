"""Stored events rendered for auditors: position, stream, version, type, time, actor, data."""

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from pilar.cases.errors import DamagedEvent
from pilar.cases.masking import masked_unless

BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "actor", "originator_topic"}
REDACTED_FIELDS = {"password_hash"}


def stream_type(topic: str) -> str:
    # "cases.case:Case.AidGiven" -> "Case"
    return topic.split(":", 1)[1].split(".", 1)[0]


def event_type(topic: str) -> str:
    return topic.rsplit(".", 1)[1]


def entry(notification: Notification, mapper: Mapper, event_hash: str | None = None, *,
          in_clear: bool) -> dict[str, Any]:
    """`in_clear`: whether the reader sees personal identifiers (pilar/cases/policy.py); if not, they are
    masked (pilar/cases/masking.py). Required, so that no caller forgets to ask. A damaged event is
    listed as such, without data, so that the rest of a history or feed page can still be read."""
    try:
        event = mapper.to_domain_event(notification)
    except DamagedEvent as damage:
        return damaged_entry(notification, damage, event_hash)
    data = {k: ("[redacted]" if k in REDACTED_FIELDS else v) for k, v in vars(event).items() if k not in BASE_FIELDS}
    return {
        "position": notification.id,
        "stream_id": str(notification.originator_id),
        "stream_type": stream_type(notification.topic),
        "version": notification.originator_version,
        "type": event_type(notification.topic),
        "at": event.timestamp.isoformat(),
        "actor": getattr(event, "actor", None),
        "data": masked_unless(in_clear, jsonable(data)),
        "hash": event_hash,
    }


def damaged_entry(notification: Notification, damage: DamagedEvent, event_hash: str | None) -> dict[str, Any]:
    return {
        "position": notification.id,
        "stream_id": str(notification.originator_id),
        "stream_type": None,
        "version": notification.originator_version,
        "type": None,  # the topic itself may be what was damaged
        "at": None,
        "actor": None,
        "data": None,
        "hash": event_hash,
        "damaged": damage.reason,
    }


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot render {type(value).__name__}")
