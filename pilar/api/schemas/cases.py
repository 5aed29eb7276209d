"""Cases: opening from a referral, each case write's body, and the case read back."""

from marshmallow import Schema, fields

from pilar.api.schemas.common import BoundedInt, Input, Instant, choice, choices, text, whole
from pilar.cases import case_record, inputs, vocab


class ReferralIn(Input):
    source = choice(vocab.REFERRAL_SOURCES, required=True)
    referred_by = text(inputs.SHORT_MAX, required=True)
    reason = text(required=True)


class CaseIn(Input):
    beneficiary_id = fields.UUID(required=True)
    pillar = choice(vocab.PILLARS, required=True)
    referral = fields.Nested(ReferralIn, required=True)
    categories = choices(vocab.PPKS_CATEGORIES, required=True)
    priority = choice(vocab.PRIORITIES, load_default="normal")
    desa_code = fields.String(
        load_default=None, metadata={"description": "where the case is handled; the beneficiary's desa by default"}
    )
    lawful_basis = choice(vocab.LAWFUL_BASES, load_default=None, metadata={
        "description": "UU PDP's ground for processing; the pillar's configured default (public_task unless "
                       "PILAR_LAWFUL_BASIS says otherwise) when left out. consent needs the person's consent on record"})


class LawfulBasisIn(Input):
    lawful_basis = choice(vocab.LAWFUL_BASES, required=True)
    reason = text(required=True)


class CaseQuery(Input):
    as_of = Instant(metadata={"description": "ISO 8601 instant with offset: the state at that moment"})
    version = BoundedInt(1)


class AssignmentIn(Input):
    worker = text(inputs.SHORT_MAX, required=True)


class DesilIn(Input):
    value = whole(1, 10, required=True)
    period = fields.String(required=True, metadata={"pattern": inputs.DESIL_PERIOD.pattern,
                                                    "description": "a quarter like 2026Q3"})


class AssessmentIn(Input):
    needs = choices(vocab.AID_COMPONENTS, unique=False, required=True,
                    metadata={"description": "a need named twice is recorded once"})
    risk = choice(vocab.RISKS, required=True)
    desil = fields.Nested(DesilIn, load_default=None, allow_none=True)
    summary = text(required=True)


class AidIn(Input):
    component = choice(vocab.AID_COMPONENTS, required=True)
    item = text(inputs.SHORT_MAX, required=True)
    quantity = whole(1, inputs.QUANTITY_MAX, required=True)
    unit = text(inputs.UNIT_MAX, required=True)
    value_idr = whole(0, inputs.VALUE_IDR_MAX, required=True, metadata={"description": "value in whole rupiah"})
    funding_source = choice(vocab.FUNDING_SOURCES, required=True)
    given_on = fields.Date(required=True, metadata={"description": "not in the future (Asia/Jakarta)"})


class FollowUpIn(Input):
    due_on = fields.Date(required=True)
    purpose = text(required=True)


class FollowUpCompletionIn(Input):
    outcome = choice(vocab.FOLLOW_UP_OUTCOMES, required=True)
    notes = text(blank=True, load_default="")


class ReferralSendIn(Input):
    to_pillar = choice(vocab.PILLARS, required=True)
    reason = text(required=True)


class ClosureIn(Input):
    outcome = choice(vocab.CLOSURE_OUTCOMES, required=True)
    note = text(blank=True, load_default="")


class AssessmentOut(Schema):
    needs = fields.List(fields.String())
    risk = fields.String()
    desil = fields.Dict(allow_none=True)
    summary = fields.String()
    assessed_at = fields.DateTime()
    assessed_by = fields.String()


class AidOut(Schema):
    component = fields.String()
    item = fields.String()
    quantity = fields.Integer()
    unit = fields.String()
    value_idr = fields.Integer()
    funding_source = fields.String()
    given_on = fields.Date()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()


class FollowUpOut(Schema):
    id = fields.String()
    due_on = fields.Date()
    purpose = fields.String()
    scheduled_at = fields.DateTime()
    scheduled_by = fields.String()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)


class ReferralOut(Schema):
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


class ReopeningOut(Schema):
    reopened_at = fields.DateTime()
    reopened_by = fields.String()
    reason = fields.String()
    previous_outcome = fields.String(allow_none=True)


class AidCounts(Schema):
    count = fields.Integer(metadata={"description": "aid entries given, all of them"})
    value_idr = fields.Integer(metadata={"description": "their total value, in rupiah"})
    shown = fields.Integer(metadata={"description": "how many of them `aid` shows (the latest)"})


class FollowUpCounts(Schema):
    scheduled = fields.Integer()
    completed = fields.Integer()
    open = fields.Integer()
    shown = fields.Integer(metadata={"description": "how many `follow_ups` shows (every open one, the latest "
                                                   "completed)"})


class CaseRecordOut(Schema):
    aid = fields.Nested(AidCounts)
    follow_ups = fields.Nested(FollowUpCounts)


class CaseOut(Schema):
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
    lawful_basis = fields.String(allow_none=True, metadata={
        "enum": list(vocab.LAWFUL_BASES),
        "description": "the ground it is processed on (UU PDP); null: not recorded, a case opened before Pilar "
                       "recorded bases, judged as public_task"})
    opened_at = fields.DateTime()
    opened_by = fields.String()
    assessment = fields.Nested(AssessmentOut, allow_none=True)
    aid = fields.List(fields.Nested(AidOut), metadata={
        "description": f"the latest {case_record.AID_KEPT} aid entries, oldest first; `record.aid` counts them "
                       "all, and the case's history holds every one"})
    follow_ups = fields.List(fields.Nested(FollowUpOut), metadata={
        "description": f"every open follow-up and the latest {case_record.FOLLOW_UPS_KEPT} completed, in the order "
                       "scheduled; `record.follow_ups` counts them all, the case's history holds every one"})
    record = fields.Nested(CaseRecordOut, metadata={"description": "counts of everything the case recorded, and how "
                                                                   "many of each this answer shows"})
    next_follow_up_due = fields.Date(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "the next follow-up is past due (today in Asia/Jakarta)"})
    referrals = fields.List(fields.Nested(ReferralOut))
    pending_referral = fields.Nested(ReferralOut, allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    closure_note = fields.String(allow_none=True)
    reopenings = fields.List(fields.Nested(ReopeningOut))
