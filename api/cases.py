"""Cases: open from a referral, then assign, assess, give aid, follow up, refer, close, reopen."""

from uuid import UUID

from flask.views import MethodView
from api.blueprint import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_actor
from api.documented import errors
from api.schemas import (
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
    PageInfo,
    ReasonIn,
    ReferralSendIn,
    ViewPosition,
    WriteAnswer,
)
from api.audit import AUDIT_ERRORS, History, HistoryQuery, auditing
from api.views import case_view
from api.workloads import READ_ERRORS, Paging, views
from api.writes import WRITE_ERRORS, actor_and_options, answered, service
from cases import vocab
from cases.application import today_in_jakarta
from projections.queries import CaseFilter

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Case work, one event per step")

CASE_WRITE = (400, 401, 403, 404, 409, 412, 413, 422)


class CaseListQuery(Paging):
    pillar = fields.String(validate=validate.OneOf(vocab.PILLARS))
    status = fields.String(validate=validate.OneOf(vocab.CASE_STATUSES))
    kecamatan = fields.String(validate=validate.Length(max=20), metadata={"description": "e.g. 35.01.04"})
    desa = fields.String(validate=validate.Length(max=20), metadata={"description": "e.g. 35.01.04.1001"})
    worker = fields.String(validate=validate.Length(max=64))
    overdue = fields.Boolean()
    beneficiary_id = fields.UUID(metadata={"description": "which pillars hold cases for this person"})
    pending_referral_to = fields.String(validate=validate.OneOf(vocab.PILLARS))


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
            worker=query.get("worker"), overdue=query.get("overdue"),
            beneficiary_id=str(query["beneficiary_id"]) if "beneficiary_id" in query else None,
            pending_referral_to=query.get("pending_referral_to"),
        )
        return views().cases(current_actor(), where, query["page"], query["per_page"], query.get("min_position"))

    @blp.arguments(CaseIn)
    @blp.response(201, WriteAnswer)
    @errors(blp, WRITE_ERRORS, 400, 401, 403, 409, 413, 422)
    def post(self, body):
        """Open a case from a referral"""
        actor, options = actor_and_options()
        return answered(service().open_case(actor, **body, options=options))


@blp.route("/<uuid:case_id>")
class CaseById(MethodView):
    @blp.arguments(CaseQuery, location="query")
    @blp.response(200, CaseOut)
    @errors(blp, {**WRITE_ERRORS, 404: "No such case, or no state at that moment or version"}, 401, 403, 404, 422)
    def get(self, query, case_id: UUID):
        """A case now, at a past moment (`as_of`) or at a version"""
        case = service().get_case(current_actor(), case_id, version=query.get("version"), as_of=query.get("as_of"))
        return case_view(case, today_in_jakarta()), {"ETag": f'"{case.version}"'}


@blp.route("/<uuid:case_id>/history")
class CaseHistory(MethodView):
    @blp.arguments(HistoryQuery, location="query")
    @blp.response(200, History)
    @errors(blp, AUDIT_ERRORS, 401, 403, 404, 422)
    def get(self, query, case_id: UUID):
        """Every event of the case in version order, with who, when and its chained hash"""
        return auditing().case_history(current_actor(), case_id, query["after_version"], query["limit"])


def _write_route(name: str, path: str, schema, summary: str, command):
    """One POST view per case command; `command(app, actor, case_id, body, options, **ids)`."""

    class CaseWrite(MethodView):
        @blp.arguments(schema)
        @blp.response(200, WriteAnswer)
        @errors(blp, WRITE_ERRORS, *CASE_WRITE)
        def post(self, body, case_id: UUID, **ids):
            actor, options = actor_and_options()
            return answered(command(service(), actor, case_id, body, options, **ids))

    CaseWrite.post.__doc__ = summary
    CaseWrite.__name__ = CaseWrite.__qualname__ = name
    blp.route(path)(CaseWrite)


_write_route("Assignment", "/<uuid:case_id>/assignment", AssignmentIn, "Assign the case to a worker of its pillar",
             lambda app, a, cid, b, o: app.assign_case(a, cid, **b, options=o))
_write_route("Assessments", "/<uuid:case_id>/assessments", AssessmentIn, "Record an assessment of needs and risk",
             lambda app, a, cid, b, o: app.assess_case(a, cid, **b, options=o))
_write_route("Aid", "/<uuid:case_id>/aid", AidIn, "Record aid given (needs a prior assessment)",
             lambda app, a, cid, b, o: app.give_aid(a, cid, **b, options=o))
_write_route("FollowUps", "/<uuid:case_id>/follow-ups", FollowUpIn, "Schedule a follow-up visit",
             lambda app, a, cid, b, o: app.schedule_follow_up(a, cid, **b, options=o))
_write_route("FollowUpCompletion", "/<uuid:case_id>/follow-ups/<string:follow_up_id>/completion", FollowUpCompletionIn,
             "Complete a follow-up once",
             lambda app, a, cid, b, o, follow_up_id: app.complete_follow_up(a, cid, follow_up_id, **b, options=o))
_write_route("Referrals", "/<uuid:case_id>/referrals", ReferralSendIn, "Refer the case to another pillar",
             lambda app, a, cid, b, o: app.send_referral(a, cid, **b, options=o))
_write_route("ReferralAcceptance", "/<uuid:case_id>/referrals/<string:referral_id>/acceptance", Empty,
             "Accept a referral (the receiving pillar)",
             lambda app, a, cid, b, o, referral_id: app.accept_referral(a, cid, referral_id, options=o))
_write_route("ReferralDecline", "/<uuid:case_id>/referrals/<string:referral_id>/decline", ReasonIn,
             "Decline a referral (the receiving pillar)",
             lambda app, a, cid, b, o, referral_id: app.decline_referral(a, cid, referral_id, **b, options=o))
_write_route("Closure", "/<uuid:case_id>/closure", ClosureIn, "Close the case with an outcome",
             lambda app, a, cid, b, o: app.close_case(a, cid, **b, options=o))
_write_route("Reopening", "/<uuid:case_id>/reopening", ReasonIn, "Reopen a closed case",
             lambda app, a, cid, b, o: app.reopen_case(a, cid, **b, options=o))
