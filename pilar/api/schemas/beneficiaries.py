"""Beneficiaries: registration, corrections, consent, search by NIK, and the person read back."""

from collections.abc import Callable

from marshmallow import Schema, ValidationError, fields, validates_schema

from pilar.api.schemas.common import Input, choice, text
from pilar.cases import inputs, vocab
from pilar.cases.nik import kk_problems, nik_problems

# Only the document limits a desa code's length; the service checks it names a desa of the regency.
DESA_CODE = {"minLength": 1, "maxLength": 20, "description": "a desa or kelurahan, e.g. 35.01.04.1001"}
PHONE = {"pattern": inputs.PHONE.pattern}


class SixteenDigits(fields.String):
    """A NIK or KK. Being 16 ASCII digits is its format, checked here like a UUID's; its structure
    (province, birth date, serial) is the service's to judge (pilar/cases/inputs.py)."""

    def __init__(self, problems_of: Callable[[str], list[str]], **kwargs):
        super().__init__(metadata={"pattern": "^[0-9]{16}$", **kwargs.pop("metadata", {})}, **kwargs)
        self.problems_of = problems_of

    def _deserialize(self, value, attr, data, **kwargs):
        digits = super()._deserialize(value, attr, data, **kwargs)
        if len(digits) != 16 or not digits.isascii() or not digits.isdigit():
            raise ValidationError(self.problems_of(digits))  # the domain's only problem then: not 16 digits
        return digits


class BeneficiaryIn(Input):
    nik = SixteenDigits(nik_problems, required=True)
    kk = SixteenDigits(kk_problems, load_default=None, allow_none=True)
    name = text(inputs.SHORT_MAX, required=True)
    birth_date = fields.Date(required=True)
    sex = choice(vocab.SEXES, required=True)
    desa_code = fields.String(required=True, metadata=DESA_CODE)
    address = text(inputs.ADDRESS_MAX, blank=True, load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, metadata=PHONE)


class BeneficiaryChanges(Input):
    """Only the fields sent are changed; a field sent as null is cleared (optional fields only)."""

    nik = SixteenDigits(nik_problems)
    kk = SixteenDigits(kk_problems, allow_none=True)
    name = text(inputs.SHORT_MAX)
    birth_date = fields.Date()
    sex = choice(vocab.SEXES)
    desa_code = fields.String(metadata=DESA_CODE)
    address = text(inputs.ADDRESS_MAX, blank=True, allow_none=True)
    phone = fields.String(allow_none=True, metadata=PHONE)


class BeneficiaryCorrectionIn(Input):
    changes = fields.Nested(BeneficiaryChanges, required=True)
    reason = text(required=True)

    @validates_schema
    def some_change(self, data, **kwargs):
        if not data.get("changes"):
            raise ValidationError("name at least one field to correct", "changes")


class ConsentIn(Input):
    given_by = text(inputs.SHORT_MAX, required=True, metadata={"description": "the person or their guardian"})
    method = choice(vocab.CONSENT_METHODS, required=True)
    purpose = text(required=True)


def _well_formed_nik(nik: str) -> None:
    # A look-up passes no input rule of the service, so its NIK's structure is checked here.
    if problems := nik_problems(nik):
        raise ValidationError(problems)


class NikSearchIn(Input):
    """A look-up by NIK, sent as a JSON body and never in the URL: URLs land in access logs,
    proxies' logs and browser histories."""

    nik = SixteenDigits(nik_problems, required=True, validate=_well_formed_nik)




class CaseLink(Schema):
    """A case you may not read (another pillar's, or outside your kecamatan) has only pillar, status and dates."""

    id = fields.UUID()
    pillar = fields.String()
    status = fields.String()
    worker = fields.String(allow_none=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class ConsentOut(Schema):
    status = fields.String(metadata={"description": "given or withdrawn"})
    given_by = fields.String()
    method = fields.String()
    purpose = fields.String()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()
    withdrawn_at = fields.DateTime()
    withdrawn_by = fields.String()
    withdrawal_reason = fields.String()


class BeneficiaryOut(Schema):
    id = fields.UUID()
    version = fields.Integer()
    nik = fields.String(allow_none=True, metadata={"description": "masked (3501**********21) without pii in scope"})
    kk = fields.String(allow_none=True, metadata={"description": "masked like the NIK"})
    name = fields.String(allow_none=True)
    birth_date = fields.Date(allow_none=True)
    sex = fields.String(allow_none=True)
    desa_code = fields.String()
    kecamatan_code = fields.String()
    address = fields.String(allow_none=True, metadata={"description": "null without pii in scope"})
    phone = fields.String(allow_none=True, metadata={"description": "null without pii in scope"})
    consent = fields.Nested(ConsentOut, allow_none=True)
    erasure_requested_at = fields.DateTime(allow_none=True, metadata={"description": "an erasure request awaits erasure"})
    registered_at = fields.DateTime()
    registered_by = fields.String()
    erased_at = fields.DateTime(allow_none=True)
    cases = fields.List(fields.Nested(CaseLink))


class BeneficiaryList(Schema):
    items = fields.List(fields.Nested(BeneficiaryOut))
