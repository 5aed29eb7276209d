"""Auditors: the global event feed, integrity verification, the access log, past views."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint, current_actor, services
from api.documented import errors
from api.schemas import PageInfo

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Auditors: feed, verification, access log")

AUDIT_ERRORS = {401: "No valid bearer token", 403: "Only auditors read this", 404: "No such case or beneficiary",
                422: "Invalid query parameters"}


class Entry(Schema):
    position = fields.Integer()
    stream_id = fields.String()
    stream_type = fields.String(metadata={"description": "Case, Beneficiary, NikClaim, UserAccount, …"})
    version = fields.Integer()
    type = fields.String(metadata={"description": "the event, e.g. AidGiven"})
    at = fields.String(metadata={"description": "when, UTC"})
    actor = fields.String(allow_none=True)
    data = fields.Dict()
    hash = fields.String(allow_none=True, metadata={"description": "chained to the stream's previous event; "
                                                                   "null until sealed (within a second or so)"})


class History(Schema):
    stream_id = fields.String()
    items = fields.List(fields.Nested(Entry))
    next_after_version = fields.Integer(allow_none=True)


class HistoryQuery(Schema):
    after_version = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class FeedQuery(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class Feed(Schema):
    items = fields.List(fields.Nested(Entry))
    next_after = fields.Integer()
    head = fields.Integer()


class Break(Schema):
    kind = fields.String()
    message = fields.String()
    stream_id = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    position = fields.Integer()


class VerifyAnswer(Schema):
    ok = fields.Boolean()
    events_checked = fields.Integer()
    sealed_up_to = fields.Integer()
    unsealed_events = fields.Integer()
    first_break = fields.Nested(Break, allow_none=True)


class AccessQuery(Schema):
    user = fields.String(validate=validate.Length(max=64))
    case_id = fields.UUID()
    beneficiary_id = fields.UUID()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AccessEntry(Schema):
    id = fields.String()
    at = fields.String()
    username = fields.String()
    role = fields.String()
    action = fields.String()
    case_id = fields.String(allow_none=True)
    beneficiary_id = fields.String(allow_none=True)
    detail = fields.String()


class AccessPage(PageInfo):
    items = fields.List(fields.Nested(AccessEntry))


class AsOfQuery(Schema):
    as_of = fields.AwareDateTime(required=True, metadata={"description": "e.g. 2026-09-30T23:59:59+07:00"})


class ViewsAsOf(Schema):
    as_of = fields.String()
    today_in_jakarta = fields.String()
    events_replayed = fields.Integer()
    pillars = fields.List(fields.Dict())


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(FeedQuery, location="query")
    @blp.response(200, Feed)
    @errors(blp, AUDIT_ERRORS, 401, 403, 422)
    def get(self, query):
        """The global event feed in position order; page with `after` = the previous `next_after`"""
        return services().audit.feed(current_actor(), query["after"], query["limit"])


@blp.route("/audit/verify")
class Verify(MethodView):
    @blp.response(200, VerifyAnswer)
    @errors(blp, AUDIT_ERRORS, 401, 403)
    def get(self):
        """Check every stored event against its seal; `ok` is false and `first_break` names the first broken link"""
        return services().audit.verify(current_actor())


@blp.route("/audit/access-log")
class AccessLogView(MethodView):
    @blp.arguments(AccessQuery, location="query")
    @blp.response(200, AccessPage)
    @errors(blp, AUDIT_ERRORS, 401, 403, 422)
    def get(self, query):
        """Who read whose personal data, newest first"""
        return services().audit.access(current_actor(), username=query.get("user"), case_id=query.get("case_id"),
                                 beneficiary_id=query.get("beneficiary_id"), page=query["page"],
                                 per_page=query["per_page"])


@blp.route("/audit/views")
class ViewsAt(MethodView):
    @blp.arguments(AsOfQuery, location="query")
    @blp.response(200, ViewsAsOf)
    @errors(blp, AUDIT_ERRORS, 401, 403, 422)
    def get(self, query):
        """Every pillar's workload view as it was at `as_of`, replayed without touching the live views"""
        return services().views.as_of(current_actor(), query["as_of"])
