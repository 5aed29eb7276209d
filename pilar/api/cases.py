"""Cases: open from a referral, then assign, assess, give aid, follow up, refer, close, reopen."""

from uuid import UUID

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.conditional import versioned
from pilar.api.documented import body_and_answer, errors
from pilar.api.encoded import encode, fresh_response
from pilar.api.kept_answers import keep
from pilar.api.schemas import (
    AidIn,
    AssessmentIn,
    AssignmentIn,
    CaseIn,
    CaseOut,
    CaseQuery,
    ClosureIn,
    Empty,
    FollowUpCompletionIn,
    FollowUpIn,
    LawfulBasisIn,
    PageInfo,
    ReasonIn,
    ReferralSendIn,
    ViewPosition,
    WriteAnswer,
)
from pilar.api.audit import AUDIT_ERRORS, History, HistoryQuery
from pilar.api.workloads import READ_ERRORS, Paging
from pilar.api.writes import WRITE_ERRORS, actor_and_options, answered
from pilar.cases import vocab
from pilar.cases import clock
from pilar.cases.presenters import case_view
from pilar.projections.queries import CaseFilter

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Case work, one event per step")


class CaseListQuery(Paging):
    pillar = fields.String(validate=validate.OneOf(vocab.PILLARS))
    status = fields.String(validate=validate.OneOf(vocab.CASE_STATUSES))
    kecamatan = fields.String(validate=validate.Length(max=20), metadata={"description": "e.g. 35.01.04"})
    desa = fields.String(validate=validate.Length(max=20), metadata={"description": "e.g. 35.01.04.1001"})
    worker = fields.String(validate=validate.Length(max=64))
    overdue = fields.Boolean()
    desil_stale = fields.Boolean(metadata={"description": "true: cases whose person's DTSEN desil is older than "
                                                          "PILAR_DESIL_MAX_AGE_PERIODS quarters; false: the others"})
    beneficiary_id = fields.UUID(metadata={"description": "which pillars hold cases for this person"})
    pending_referral_to = fields.String(validate=validate.OneOf(vocab.PILLARS))


CASE_OUT = CaseOut()


class CaseSummary(Schema):
    id = fields.String()
    beneficiary_id = fields.String()
    pillar = fields.String()
    status = fields.String()
    priority = fields.String()
    kecamatan_code = fields.String()
    desa_code = fields.String()
    worker = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    opened_at = fields.String()
    closed_at = fields.String(allow_none=True)
    next_follow_up_due = fields.String(allow_none=True)
    overdue = fields.Boolean()
    pending_referral_to = fields.String(allow_none=True)
    desil = fields.Integer(allow_none=True, metadata={"description": "the person's latest DTSEN desil"})
    desil_period = fields.String(allow_none=True)
    desil_stale = fields.Boolean()
    version = fields.Integer()


class CaseList(ViewPosition, PageInfo):
    items = fields.List(fields.Nested(CaseSummary))


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseListQuery, location="query")
    @blp.response(200, CaseList)
    @errors(blp, READ_ERRORS, 401, 403, 422, 503)
    def get(self, query):
        """The case list from the workload views, sorted by priority then age (oldest first)"""
        where = CaseFilter(
            pillars=(query["pillar"],) if "pillar" in query else None,
            status=query.get("status"), kecamatan=query.get("kecamatan"), desa=query.get("desa"),
            worker=query.get("worker"), overdue=query.get("overdue"), desil_stale=query.get("desil_stale"),
            beneficiary_id=str(query["beneficiary_id"]) if "beneficiary_id" in query else None,
            pending_referral_to=query.get("pending_referral_to"),
        )
        fresh, listed = services().views.cases(current_actor(), where, query["page"], query["per_page"],
                                               query.get("min_position"))
        keep(fresh)
        # Each item has CaseSummary's fields and types already (tests/test_kept_answers.py): the
        # schema documents the answer, and dumping 20 items through it cost more than the query.
        return fresh_response(fresh, encode(listed))

    @blp.arguments(CaseIn)
    @blp.response(201, WriteAnswer)
    @errors(blp, WRITE_ERRORS, 400, 401, 403, 409, 413, 422, 503)
    def post(self, body):
        """Open a case from a referral"""
        actor, options = actor_and_options()
        return answered(services().cases.open_case(actor, **body, options=options))


@blp.route("/<uuid:case_id>")
class CaseById(MethodView):
    @blp.arguments(CaseQuery, location="query")
    @blp.response(200, CaseOut)
    @errors(blp, {**WRITE_ERRORS, 404: "No such case, or no state at that moment or version"}, 401, 403, 404, 422)
    def get(self, query, case_id: UUID):
        """A case now, at a past moment (`as_of`) or at a version"""
        app, today = services().cases, clock.today_in_jakarta()
        case = app.get_case(current_actor(), case_id, version=query.get("version"), as_of=query.get("as_of"))
        desil = app.person_desil(case, today, services().settings.desil_max_age_periods)
        return versioned(encode(CASE_OUT.dump(case_view(case, today, desil))), case.version)


@blp.route("/<uuid:case_id>/history")
class CaseHistory(MethodView):
    @blp.arguments(HistoryQuery, location="query")
    @blp.response(200, History)
    @errors(blp, AUDIT_ERRORS, 401, 403, 404, 422)
    def get(self, query, case_id: UUID):
        """Every event of the case in version order, with who, when and its chained hash"""
        return services().audit.case_history(current_actor(), case_id, query["after_version"], query["limit"])


CASE_WRITE = (400, 401, 403, 404, 409, 412, 413, 422, 503)


def _write(body_schema):
    """The decorators every case write shares: its body, its answer, its documented errors."""
    return body_and_answer(blp, body_schema, WriteAnswer, WRITE_ERRORS, *CASE_WRITE)


@blp.route("/<uuid:case_id>/assignment")
class Assignment(MethodView):
    @_write(AssignmentIn)
    def post(self, body, case_id: UUID):
        """Assign the case to a worker of its pillar"""
        actor, options = actor_and_options()
        return answered(services().cases.assign_case(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/assessments")
class Assessments(MethodView):
    @_write(AssessmentIn)
    def post(self, body, case_id: UUID):
        """Record an assessment of needs and risk"""
        actor, options = actor_and_options()
        return answered(services().cases.assess_case(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/aid")
class Aid(MethodView):
    @_write(AidIn)
    def post(self, body, case_id: UUID):
        """Record aid given (needs a prior assessment)"""
        actor, options = actor_and_options()
        return answered(services().cases.give_aid(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/follow-ups")
class FollowUps(MethodView):
    @_write(FollowUpIn)
    def post(self, body, case_id: UUID):
        """Schedule a follow-up visit"""
        actor, options = actor_and_options()
        return answered(services().cases.schedule_follow_up(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/follow-ups/<string:follow_up_id>/completion")
class FollowUpCompletion(MethodView):
    @_write(FollowUpCompletionIn)
    def post(self, body, case_id: UUID, follow_up_id: str):
        """Complete a follow-up once"""
        actor, options = actor_and_options()
        return answered(services().cases.complete_follow_up(actor, case_id, follow_up_id, **body, options=options))


@blp.route("/<uuid:case_id>/referrals")
class Referrals(MethodView):
    @_write(ReferralSendIn)
    def post(self, body, case_id: UUID):
        """Refer the case to another pillar"""
        actor, options = actor_and_options()
        return answered(services().cases.send_referral(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/referrals/<string:referral_id>/acceptance")
class ReferralAcceptance(MethodView):
    @_write(Empty)
    def post(self, body, case_id: UUID, referral_id: str):
        """Accept a referral (the receiving pillar)"""
        actor, options = actor_and_options()
        return answered(services().cases.accept_referral(actor, case_id, referral_id, options=options))


@blp.route("/<uuid:case_id>/referrals/<string:referral_id>/decline")
class ReferralDecline(MethodView):
    @_write(ReasonIn)
    def post(self, body, case_id: UUID, referral_id: str):
        """Decline a referral (the receiving pillar)"""
        actor, options = actor_and_options()
        return answered(services().cases.decline_referral(actor, case_id, referral_id, **body, options=options))


@blp.route("/<uuid:case_id>/closure")
class Closure(MethodView):
    @_write(ClosureIn)
    def post(self, body, case_id: UUID):
        """Close the case with an outcome"""
        actor, options = actor_and_options()
        return answered(services().cases.close_case(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/reopening")
class Reopening(MethodView):
    @_write(ReasonIn)
    def post(self, body, case_id: UUID):
        """Reopen a closed case"""
        actor, options = actor_and_options()
        return answered(services().cases.reopen_case(actor, case_id, **body, options=options))


@blp.route("/<uuid:case_id>/lawful-basis")
class LawfulBasis(MethodView):
    @_write(LawfulBasisIn)
    def post(self, body, case_id: UUID):
        """Record that the case is processed on another lawful basis, with the reason (coordinators)"""
        actor, options = actor_and_options()
        return answered(services().cases.change_lawful_basis(actor, case_id, **body, options=options))
