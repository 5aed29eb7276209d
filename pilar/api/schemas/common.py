"""What every resource's schemas share: the error answer, write answers, paging, and the field
helpers. Body schemas check shape and type only: every input rule, with its message, is the
service's (pilar/cases/inputs.py). The helpers put those rules into the OpenAPI document as metadata."""

from collections.abc import Iterable, Mapping
from datetime import timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from pilar.cases import inputs
from pilar.cases.clock import JAKARTA

# Positions, versions and offsets are 64-bit integers in both stores: a larger number in a query
# would overflow in the database (a 500), so every query integer is bounded (BoundedInt).
INT64_MAX = 2**63 - 1
# A page number times the largest page (1,000 items) stays far inside 64 bits; a page past the
# last one is honestly empty.
PAGE_MAX = 10**9
NUL = "must not contain a NUL character (U+0000)"


class Input(Schema):
    """Every request's schema (query or body; pilar/api/blueprint.py refuses any other). No text may
    carry a NUL: PostgreSQL cannot store or compare one (a 500), and no real input holds one."""

    @pre_load
    def refuse_nul(self, data: Any, **kwargs) -> Any:
        if problems := _nul_problems(data):
            raise ValidationError(problems)
        return data


def _nul_problems(value: Any) -> Any:
    """Each field (nested ones by path) whose text holds a NUL, in marshmallow's error shape."""
    if isinstance(value, str):
        return [NUL] if "\x00" in value else None
    if isinstance(value, Mapping):
        found = {key: problem for key, item in value.items() if (problem := _nul_problems(item))}
        return found or None
    if isinstance(value, (list, tuple)):
        found = {index: problem for index, item in enumerate(value) if (problem := _nul_problems(item))}
        return found or None
    return None


class StrictInteger(fields.Integer):
    """An integer that refuses booleans, strings and fractions instead of coercing them."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


class BoundedInt(fields.Integer):
    """A query integer from `lowest` to `highest`: by default a position or version (0 to 2^63-1)."""

    def __init__(self, lowest: int = 0, highest: int = INT64_MAX, **kwargs):
        super().__init__(validate=validate.Range(min=lowest, max=highest), **kwargs)


class Instant(fields.AwareDateTime):
    """An ISO 8601 instant with its offset, which must also be an instant in UTC and in Asia/Jakarta
    (0001-01-01T00:00:00+14:00 is in the year 0 in UTC; 9999-12-31T23:00:00Z in 10000 in Jakarta)."""

    def _deserialize(self, value, attr, data, **kwargs):
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            instant.astimezone(timezone.utc).astimezone(JAKARTA)
        except OverflowError:
            raise ValidationError("is out of range: from 0001-01-01T00:00:00Z to 9999-12-31T16:59:59Z") from None
        return instant


def documented(field_class: type[fields.Field], limits: dict, *args, **kwargs) -> fields.Field:
    """A field whose limits only the OpenAPI document states; the service checks them."""
    return field_class(*args, metadata={**limits, **kwargs.pop("metadata", {})}, **kwargs)


def choice(vocabulary: Iterable[str], **kwargs) -> fields.Field:
    """A string from one of pilar/cases/vocab.py's vocabularies."""
    return documented(fields.String, {"enum": list(vocabulary)}, **kwargs)


def choices(vocabulary: tuple[str, ...], *, unique: bool = True, **kwargs) -> fields.Field:
    """At least one string from the vocabulary; each at most once if `unique`."""
    limits = {"minItems": 1, "maxItems": len(vocabulary)} | ({"uniqueItems": True} if unique else {})
    return documented(fields.List, limits, choice(vocabulary), **kwargs)


def text(longest: int = inputs.TEXT_MAX, *, blank: bool = False, **kwargs) -> fields.Field:
    """Free text of at most `longest` characters; not blank unless `blank`."""
    return documented(fields.String, {"maxLength": longest} | ({} if blank else {"minLength": 1}), **kwargs)


def whole(lowest: int, highest: int, **kwargs) -> fields.Field:
    return documented(StrictInteger, {"minimum": lowest, "maximum": highest}, **kwargs)


class Problem(Schema):
    code = fields.Integer(metadata={"description": "the HTTP status"})
    status = fields.String()
    message = fields.String()
    errors = fields.Dict(metadata={"description": "each offending field with its problems (400/422)"})
    rule = fields.String(metadata={"description": "the broken rule (409)"})
    existing_id = fields.UUID(metadata={"description": "the beneficiary already holding this NIK (409)"})
    position = fields.Integer(metadata={"description": "the views' position when `min_position` was not reached (503)"})
    limit = fields.String(metadata={"description": "the rate limit reached (429): `signin_user`, `signin_address` "
                                                   "or `lookup`; `Retry-After` says when to try again"})


class ViewPosition(Schema):
    """Where the views stand, on every answer read from them."""

    position = fields.Integer(metadata={"description": "the global position the views have reached"})
    lag = fields.Integer(metadata={"description": "events stored but not yet in the views"})


class PageInfo(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class WriteAnswer(Schema):
    id = fields.UUID(required=True, metadata={"description": "the case or beneficiary written"})
    version = fields.Integer(required=True, metadata={"description": "its new version (also the ETag)"})
    position = fields.Integer(required=True, metadata={"description": "the event's global position"})
    follow_up_id = fields.String()
    referral_id = fields.String()
    changed = fields.List(fields.String())


class ReasonIn(Input):
    reason = text(required=True)


class Empty(Input):
    pass
