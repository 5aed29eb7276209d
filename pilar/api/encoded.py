"""Answers read from the views, dumped and encoded once.

A pillar's workload is the same object until the views move or the day turns (WorkloadService
keeps it), yet dumping it through marshmallow and encoding it as JSON took a third of a workload
GET's time. Its encoded form is kept beside it; only `position` and `lag` are new per read.
"""

from collections.abc import Iterable
from typing import Any

from flask import Response, current_app
from marshmallow import Schema

from pilar.projections.service import Freshness


class EncodedParts:
    """The JSON of each part as `schema` dumps it, kept while the part is the same object."""

    def __init__(self, schema: Schema, limit: int = 256):
        self.schema = schema
        self.limit = limit
        # Keyed by id(); the part itself is held beside its JSON, so its id cannot be reused by
        # another object while the entry lives.
        self._kept: dict[int, tuple[Any, bytes]] = {}

    def __call__(self, part: Any) -> bytes:
        kept = self._kept.get(id(part))
        if kept is not None and kept[0] is part:
            return kept[1]
        encoded = encode(self.schema.dump(part))
        if len(self._kept) >= self.limit:
            self._kept.clear()
        self._kept[id(part)] = (part, encoded)
        return encoded

    def array(self, parts: Iterable[Any]) -> bytes:
        return b"[" + b",".join(self(part) for part in parts) + b"]"


def encode(value: Any) -> bytes:
    return current_app.json.dumps(value, separators=(",", ":")).encode()


def fresh_response(fresh: Freshness, members: bytes) -> Response:
    """`members` (an encoded JSON object) with the views' position and lag added to it."""
    head = b'{"position":%d,"lag":%d' % (fresh.position, fresh.lag)
    rest = members[1:] if members == b"{}" else b"," + members[1:]
    return current_app.response_class(head + rest, mimetype=current_app.json.mimetype)
