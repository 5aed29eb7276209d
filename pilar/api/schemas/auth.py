"""Sign-in's request and answer."""

from marshmallow import Schema, ValidationError, fields, validate

from pilar.api.schemas.common import Input
from pilar.cases.inputs import text_problem


def storable(value: str) -> None:
    # Sign-in passes no input rule of the service, and a lone surrogate cannot even be hashed
    # into the account's id, so this one text check stays here.
    if problem := text_problem(value):
        raise ValidationError(problem)


class TokenRequest(Input):
    username = fields.String(required=True, validate=[validate.Length(min=1, max=200), storable])
    password = fields.String(required=True, validate=[validate.Length(min=1, max=1024), storable])


class TokenAnswer(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    idle_timeout = fields.Integer(allow_none=True, metadata={"description": "seconds unused after which the token "
                                                                           "is refused; null: none"})
    role = fields.String(required=True)
    pillar = fields.String(allow_none=True, metadata={"description": "your one pillar; null for several or every "
                                                                    "pillar (see `pillars`)"})
    pillars = fields.List(fields.String(), metadata={"description": "every pillar you serve; empty: every pillar"})
