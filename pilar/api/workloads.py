"""Per-pillar workloads and the follow-up queue, read from the projection's view tables."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.documented import errors
from pilar.api.encoded import EncodedParts, fresh_response
from pilar.api.kept_answers import keep
from pilar.api.schemas import PageInfo, ViewPosition
from pilar.api.schemas.common import PAGE_MAX, BoundedInt, Input
from pilar.cases import vocab

blp = Blueprint("workloads", __name__, url_prefix="/api/v1", description="Per-pillar workloads (projected views)")

READ_ERRORS = {
    401: "No valid bearer token",
    403: "The pillar is outside your scope",
    404: "No such pillar",
    422: "Invalid query parameters, or `min_position` beyond the newest stored event",
    503: "The views have not reached `min_position` within 2 s (see Retry-After)",
}


class Freshness(Input):
    min_position = BoundedInt(metadata={"description": "wait up to 2 s for the views to reach this position (a "
                                                       "position beyond the newest stored event is a 422)"})


class Paging(Freshness):
    page = BoundedInt(1, PAGE_MAX, load_default=1)
    per_page = BoundedInt(1, 500, load_default=50)


class FollowUpQuery(Paging):
    pillar = fields.String(validate=validate.OneOf(vocab.PILLARS))
    days_ahead = BoundedInt(0, 366, load_default=7,
                            metadata={"description": "include follow-ups due up to this many days ahead"})


class PillarSummary(Schema):
    pillar = fields.String()
    open_cases = fields.Integer()
    open_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    overdue_follow_ups = fields.Integer()
    opened_this_month = fields.Integer()
    closed_this_month = fields.Integer()
    median_days_referral_to_assessment = fields.Float(allow_none=True)
    aid_by_component = fields.Dict(keys=fields.String(), values=fields.Dict())


class AidItem(Schema):
    component = fields.String()
    item = fields.String()
    count = fields.Integer()
    quantity = fields.Integer()
    value_idr = fields.Integer()


class PillarWorkload(PillarSummary):
    open_by_kecamatan = fields.Dict(keys=fields.String(), values=fields.Integer())
    open_by_worker = fields.Dict(keys=fields.String(), values=fields.Integer())
    open_by_desil = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "open cases by their person's latest DTSEN desil, 1–10, and `none` (no desil recorded)"})
    aid_by_item = fields.List(fields.Nested(AidItem))


class PillarDetail(PillarWorkload, ViewPosition):
    pass


class WorkloadSummary(ViewPosition):
    pillars = fields.List(fields.Nested(PillarSummary))


class FollowUpItem(Schema):
    case_id = fields.String()
    follow_up_id = fields.String()
    pillar = fields.String()
    due_on = fields.String()
    worker = fields.String(allow_none=True)
    kecamatan_code = fields.String()
    overdue = fields.Boolean()


class FollowUpQueue(ViewPosition, PageInfo):
    today = fields.String()
    items = fields.List(fields.Nested(FollowUpItem))


# The documented schemas above describe these answers; the parts are dumped with them once.
BRIEF = EncodedParts(PillarSummary())
DETAILED = EncodedParts(PillarWorkload())


@blp.route("/workloads")
class Workloads(MethodView):
    @blp.arguments(Freshness, location="query")
    @blp.response(200, WorkloadSummary)
    @errors(blp, READ_ERRORS, 401, 403, 422, 503)
    def get(self, query):
        """Every pillar in your scope: open cases, overdue follow-ups, this month, aid"""
        fresh, pillars = services().views.summary(current_actor(), query.get("min_position"))
        keep(fresh)
        return fresh_response(fresh, b'{"pillars":' + BRIEF.array(pillars) + b"}")


@blp.route("/workloads/<string:pillar>")
class WorkloadByPillar(MethodView):
    @blp.arguments(Freshness, location="query")
    @blp.response(200, PillarDetail)
    @errors(blp, READ_ERRORS, 401, 403, 404, 422, 503)
    def get(self, query, pillar: str):
        """One pillar in detail: by status, kecamatan and worker; aid by item"""
        fresh, workload = services().views.detail(current_actor(), pillar, query.get("min_position"))
        keep(fresh)
        return fresh_response(fresh, DETAILED(workload))


@blp.route("/follow-ups")
class FollowUps(MethodView):
    @blp.arguments(FollowUpQuery, location="query")
    @blp.response(200, FollowUpQueue)
    @errors(blp, READ_ERRORS, 401, 403, 422, 503)
    def get(self, query):
        """The follow-up queue: overdue and due within `days_ahead`, earliest first"""
        return services().views.follow_up_queue(current_actor(), query.get("pillar"), query["days_ahead"], query["page"],
                                       query["per_page"], query.get("min_position"))
