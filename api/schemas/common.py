"""What every resource's schemas share: the error answer, write answers, paging, and the field
helpers. Body schemas check shape and type only: every input rule, with its message, is the
service's (cases/inputs.py). The helpers put those rules into the OpenAPI document as metadata."""

from collections.abc import Iterable

from marshmallow import Schema, ValidationError, fields

from cases import inputs


class StrictInteger(fields.Integer):
    """An integer that refuses booleans, strings and fractions instead of coercing them."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


def documented(field_class: type[fields.Field], limits: dict, *args, **kwargs) -> fields.Field:
    """A field whose limits only the OpenAPI document states; the service checks them."""
    return field_class(*args, metadata={**limits, **kwargs.pop("metadata", {})}, **kwargs)


def choice(vocabulary: Iterable[str], **kwargs) -> fields.Field:
    """A string from one of cases/vocab.py's vocabularies."""
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


class ReasonIn(Schema):
    reason = text(required=True)


class Empty(Schema):
    pass
