"""Marshmallow schemas: the shapes of requests and answers, and the OpenAPI document's source."""

import re

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from cases import vocab
from cases.nik import kk_problems, nik_problems

TEXT = validate.Length(min=1, max=2000)
SHORT = validate.Length(min=1, max=200)
PHONE = validate.Regexp(r"^\+?[0-9][0-9 -]{5,19}$", error="Not a phone number.")


_UNSTORABLE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text_problem(text: str) -> str | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return "Contains an unpaired UTF-16 surrogate; send valid Unicode text."
    return f"Contains the control character U+{code:04X}."


class Base(Schema):
    @pre_load
    def reject_unstorable_text(self, data, **kwargs):
        """Text that cannot be stored as UTF-8 (lone surrogates) or shown (control characters)
        is refused here, naming the field, rather than failing deep in the store."""
        if isinstance(data, dict):
            problems = {}
            for key, value in data.items():
                values = value if isinstance(value, list) else [value]
                for item in values:
                    if isinstance(item, str) and (problem := _text_problem(item)):
                        problems[key] = [problem]
            if problems:
                raise ValidationError(problems)
        return data


class StrictInteger(fields.Integer):
    """An integer that refuses booleans, strings and fractions instead of coercing them."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


def _digits(problems_of):
    def check(value: str) -> None:
        if problems := problems_of(value):
            raise ValidationError(problems)

    return check


def one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error="Must be one of: {choices}.")


class Problem(Base):
    code = fields.Integer(metadata={"description": "the HTTP status"})
    status = fields.String()
    message = fields.String()
    errors = fields.Dict(metadata={"description": "each offending field with its problems (400/422)"})
    rule = fields.String(metadata={"description": "the broken rule (409)"})
    existing_id = fields.UUID(metadata={"description": "the beneficiary already holding this NIK (409)"})
    position = fields.Integer(metadata={"description": "the views' position when `min_position` was not reached (503)"})


class ViewPosition(Base):
    """Where the views stand, on every answer read from them."""

    position = fields.Integer(metadata={"description": "the global position the views have reached"})
    lag = fields.Integer(metadata={"description": "events stored but not yet in the views"})


class PageInfo(Base):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class WriteAnswer(Base):
    id = fields.UUID(required=True, metadata={"description": "the case or beneficiary written"})
    version = fields.Integer(required=True, metadata={"description": "its new version (also the ETag)"})
    position = fields.Integer(required=True, metadata={"description": "the event's global position"})
    follow_up_id = fields.String()
    referral_id = fields.String()
    changed = fields.List(fields.String())


# ---------------------------------------------------------------- auth
class TokenRequest(Base):
    username = fields.String(required=True, validate=SHORT)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenAnswer(Base):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    role = fields.String(required=True)
    pillar = fields.String(allow_none=True)


# ---------------------------------------------------------------- beneficiaries
class BeneficiaryIn(Base):
    nik = fields.String(required=True, validate=_digits(nik_problems))
    kk = fields.String(load_default=None, allow_none=True, validate=_digits(kk_problems))
    name = fields.String(required=True, validate=SHORT)
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=one_of(vocab.SEXES))
    desa_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)


class BeneficiaryChanges(Base):
    """Only the fields sent are changed; a field sent as null is cleared (optional fields only)."""

    nik = fields.String(validate=_digits(nik_problems))
    kk = fields.String(allow_none=True, validate=_digits(kk_problems))
    name = fields.String(validate=SHORT)
    birth_date = fields.Date()
    sex = fields.String(validate=one_of(vocab.SEXES))
    desa_code = fields.String(validate=validate.Length(min=1, max=20))
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    phone = fields.String(allow_none=True, validate=PHONE)


class BeneficiaryCorrectionIn(Base):
    changes = fields.Nested(BeneficiaryChanges, required=True)
    reason = fields.String(required=True, validate=TEXT)

    @validates_schema
    def some_change(self, data, **kwargs):
        if not data.get("changes"):
            raise ValidationError("name at least one field to correct", "changes")


class ConsentIn(Base):
    given_by = fields.String(required=True, validate=SHORT, metadata={"description": "the person or their guardian"})
    method = fields.String(required=True, validate=one_of(("written", "oral_witnessed", "thumbprint", "electronic")))
    purpose = fields.String(required=True, validate=TEXT)


class ReasonIn(Base):
    reason = fields.String(required=True, validate=TEXT)


class NikQuery(Base):
    nik = fields.String(required=True, validate=_digits(nik_problems))


class CaseLink(Base):
    id = fields.UUID()
    pillar = fields.String()
    status = fields.String()
    worker = fields.String(allow_none=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class ConsentOut(Base):
    status = fields.String(metadata={"description": "given or withdrawn"})
    given_by = fields.String()
    method = fields.String()
    purpose = fields.String()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()
    withdrawn_at = fields.DateTime()
    withdrawn_by = fields.String()
    withdrawal_reason = fields.String()


class BeneficiaryOut(Base):
    id = fields.UUID()
    version = fields.Integer()
    nik = fields.String(allow_none=True)
    kk = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    birth_date = fields.Date(allow_none=True)
    sex = fields.String(allow_none=True)
    desa_code = fields.String()
    kecamatan_code = fields.String()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    consent = fields.Nested(ConsentOut, allow_none=True)
    registered_at = fields.DateTime()
    registered_by = fields.String()
    erased_at = fields.DateTime(allow_none=True)
    cases = fields.List(fields.Nested(CaseLink))


class BeneficiaryList(Base):
    items = fields.List(fields.Nested(BeneficiaryOut))


# ---------------------------------------------------------------- cases
class ReferralIn(Base):
    source = fields.String(required=True, validate=one_of(vocab.REFERRAL_SOURCES))
    referred_by = fields.String(required=True, validate=SHORT)
    reason = fields.String(required=True, validate=TEXT)


class CaseIn(Base):
    beneficiary_id = fields.UUID(required=True)
    pillar = fields.String(required=True, validate=one_of(vocab.PILLARS))
    referral = fields.Nested(ReferralIn, required=True)
    categories = fields.List(
        fields.String(validate=one_of(vocab.PPKS_CATEGORIES)), required=True, validate=validate.Length(min=1, max=27)
    )
    priority = fields.String(load_default="normal", validate=one_of(vocab.PRIORITIES))
    desa_code = fields.String(
        load_default=None, metadata={"description": "where the case is handled; the beneficiary's desa by default"}
    )


class CaseQuery(Base):
    as_of = fields.AwareDateTime(metadata={"description": "ISO 8601 instant with offset: the state at that moment"})
    version = fields.Integer(validate=validate.Range(min=1))


class AssignmentIn(Base):
    worker = fields.String(required=True, validate=SHORT)


class DesilIn(Base):
    value = StrictInteger(required=True, validate=validate.Range(min=1, max=10))
    period = fields.String(
        required=True, validate=validate.Regexp(r"^20[0-9]{2}Q[1-4]$", error="A quarter like 2026Q3.")
    )


class AssessmentIn(Base):
    needs = fields.List(fields.String(validate=one_of(vocab.AID_COMPONENTS)), required=True,
                        validate=validate.Length(min=1, max=7))
    risk = fields.String(required=True, validate=one_of(vocab.RISKS))
    desil = fields.Nested(DesilIn, load_default=None, allow_none=True)
    summary = fields.String(required=True, validate=TEXT)


class AidIn(Base):
    component = fields.String(required=True, validate=one_of(vocab.AID_COMPONENTS))
    item = fields.String(required=True, validate=SHORT)
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=1_000_000))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=40))
    value_idr = StrictInteger(required=True, validate=validate.Range(min=0, max=10**13),
                              metadata={"description": "value in whole rupiah"})
    funding_source = fields.String(required=True, validate=one_of(vocab.FUNDING_SOURCES))
    given_on = fields.Date(required=True, metadata={"description": "not in the future (Asia/Jakarta)"})


class FollowUpIn(Base):
    due_on = fields.Date(required=True)
    purpose = fields.String(required=True, validate=TEXT)


class FollowUpCompletionIn(Base):
    outcome = fields.String(required=True, validate=one_of(vocab.FOLLOW_UP_OUTCOMES))
    notes = fields.String(load_default="", validate=validate.Length(max=2000))


class ReferralSendIn(Base):
    to_pillar = fields.String(required=True, validate=one_of(vocab.PILLARS))
    reason = fields.String(required=True, validate=TEXT)


class Empty(Base):
    pass


class ClosureIn(Base):
    outcome = fields.String(required=True, validate=one_of(vocab.CLOSURE_OUTCOMES))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class AssessmentOut(Base):
    needs = fields.List(fields.String())
    risk = fields.String()
    desil = fields.Dict(allow_none=True)
    summary = fields.String()
    assessed_at = fields.DateTime()
    assessed_by = fields.String()


class AidOut(Base):
    component = fields.String()
    item = fields.String()
    quantity = fields.Integer()
    unit = fields.String()
    value_idr = fields.Integer()
    funding_source = fields.String()
    given_on = fields.Date()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()


class FollowUpOut(Base):
    id = fields.String()
    due_on = fields.Date()
    purpose = fields.String()
    scheduled_at = fields.DateTime()
    scheduled_by = fields.String()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)


class ReferralOut(Base):
    id = fields.String()
    from_pillar = fields.String()
    to_pillar = fields.String()
    reason = fields.String()
    sent_at = fields.DateTime()
    sent_by = fields.String()
    status = fields.String()
    answered_at = fields.DateTime(allow_none=True)
    answered_by = fields.String(allow_none=True)
    decline_reason = fields.String(allow_none=True)


class ReopeningOut(Base):
    reopened_at = fields.DateTime()
    reopened_by = fields.String()
    reason = fields.String()
    previous_outcome = fields.String(allow_none=True)


class CaseOut(Base):
    id = fields.UUID()
    version = fields.Integer()
    status = fields.String(metadata={"description": "referred, assessed, aided or closed"})
    pillar = fields.String()
    beneficiary_id = fields.UUID()
    worker = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    priority = fields.String()
    desa_code = fields.String()
    kecamatan_code = fields.String()
    referral = fields.Nested(ReferralIn)
    opened_at = fields.DateTime()
    opened_by = fields.String()
    assessment = fields.Nested(AssessmentOut, allow_none=True)
    aid = fields.List(fields.Nested(AidOut))
    follow_ups = fields.List(fields.Nested(FollowUpOut))
    next_follow_up_due = fields.Date(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "the next follow-up is past due (today in Asia/Jakarta)"})
    referrals = fields.List(fields.Nested(ReferralOut))
    pending_referral = fields.Nested(ReferralOut, allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    closure_note = fields.String(allow_none=True)
    reopenings = fields.List(fields.Nested(ReopeningOut))
