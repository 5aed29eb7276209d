"""Cases: open from a referral, then assign, assess, give aid, follow up, refer, close, reopen."""

from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint

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
    ReasonIn,
    ReferralSendIn,
    WriteAnswer,
)
from api.views import case_view
from api.writes import WRITE_ERRORS, actor_and_options, answered, service
from cases.application import today_in_jakarta

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Case work, one event per step")

CASE_WRITE = (400, 401, 403, 404, 409, 412, 413, 422)


@blp.route("")
class Cases(MethodView):
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
