"""User administration's requests and answers (admins only). Shape and type only: the service
checks roles, pillars, kecamatan and password rules (pilar/cases/users.py, pilar/cases/passwords.py)."""

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from pilar.api.schemas.auth import storable
from pilar.api.schemas.common import Input, choice, documented
from pilar.cases import vocab
from pilar.cases.passwords import PASSWORD_MAX, PASSWORD_MIN
from pilar.cases.users import USERNAME_MAX


def _password(**kwargs) -> fields.Field:
    return documented(fields.String, {"minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX,
                                      "description": "not a common password, nor containing the username"},
                      load_only=True, validate=storable, **kwargs)


def _kecamatan(**kwargs) -> fields.Field:
    return fields.List(fields.String(), metadata={"description": "kecamatan codes (e.g. 35.01.04) the user serves; "
                                                                 "empty: every kecamatan"}, **kwargs)


def _pii(**kwargs) -> fields.Field:
    return fields.Boolean(allow_none=True, metadata={"description": "reads NIK, KK, phone and address in clear; "
                                                                    "null: as the role does by default (workers "
                                                                    "and supervisors yes, auditors and admins no)"},
                          **kwargs)


class _PillarScope(Input):
    """A role with one pillar (`pillar`), several (`pillars`, coordinators only) or none (every
    pillar). The service receives them as one list: `pillars`."""

    role = choice(vocab.ROLES, required=True)
    pillar = choice(vocab.PILLARS, allow_none=True, load_default=None,
                    metadata={"description": "the user's one pillar: required for workers; none (and no `pillars`): "
                                             "every pillar"})
    pillars = fields.List(choice(vocab.PILLARS), load_default=None,
                          metadata={"description": "a coordinator's several pillars, instead of `pillar`"})

    @validates_schema
    def _one_way(self, data, **kwargs):
        if data.get("pillar") is not None and data.get("pillars") is not None:
            raise ValidationError("give either pillar or pillars, not both", "pillars")

    @post_load
    def _as_one_list(self, data, **kwargs):
        one = data.pop("pillar", None)
        data["pillars"] = data["pillars"] if data.get("pillars") is not None else ([one] if one else [])
        return data


class UserIn(_PillarScope):
    username = documented(fields.String, {"maxLength": USERNAME_MAX, "pattern": r"^[A-Za-z0-9._-]+$"}, required=True)
    password = _password(required=True)
    kecamatan = _kecamatan(load_default=list)
    pii = _pii(load_default=None)


class RoleIn(_PillarScope):
    pass


class ScopeIn(Input):
    kecamatan = _kecamatan(required=True)


class PiiIn(Input):
    pii = _pii(required=True)


class PasswordIn(Input):
    password = _password(required=True)


class OwnPasswordIn(Input):
    current_password = fields.String(required=True, load_only=True,
                                     validate=[validate.Length(min=1, max=PASSWORD_MAX), storable])
    password = _password(required=True)


class UserOut(Schema):
    username = fields.String(required=True)
    role = fields.String(required=True)
    pillar = fields.String(allow_none=True, metadata={"description": "the user's one pillar; null for several or every "
                                                                    "pillar (see `pillars`)"})
    pillars = fields.List(fields.String(), metadata={"description": "every pillar the user serves; empty: every pillar"})
    kecamatan = fields.List(fields.String(), metadata={"description": "empty: every kecamatan"})
    pii = fields.Boolean(metadata={"description": "whether the user reads personal identifiers in clear"})
    pii_set = fields.Boolean(allow_none=True, metadata={"description": "as an admin set it; null: the role's default"})
    active = fields.Boolean()
    version = fields.Integer(metadata={"description": "the account's version: how many changes it has seen"})


class UserList(Schema):
    items = fields.List(fields.Nested(UserOut))
    total = fields.Integer()
