"""Auditors: the global event feed, integrity verification, the access log, past views."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.documented import errors
from pilar.api.schemas import PageInfo
from pilar.api.schemas.common import PAGE_MAX, BoundedInt, Input, Instant

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Auditors: feed, verification, access log")

AUDIT_ERRORS = {401: "No valid bearer token", 403: "Only auditors read this", 404: "No such case or beneficiary",
                422: "Invalid query parameters"}


class Entry(Schema):
    position = fields.Integer()
    stream_id = fields.String()
    stream_type = fields.String(allow_none=True, metadata={"description": "Case, Beneficiary, NikClaim, UserAccount, "
                                                                          "…; null for a damaged event"})
    version = fields.Integer()
    type = fields.String(allow_none=True, metadata={"description": "the event, e.g. AidGiven"})
    at = fields.String(allow_none=True, metadata={"description": "when, UTC"})
    actor = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)
    hash = fields.String(allow_none=True, metadata={"description": "chained to the stream's previous event; "
                                                                   "null until sealed (within a second or so)"})
    damaged = fields.String(metadata={"description": "only on a damaged event (type, time, actor and data null): "
                                                    "why it cannot be read (docs/operations.md)"})


class History(Schema):
    stream_id = fields.String()
    items = fields.List(fields.Nested(Entry))
    next_after_version = fields.Integer(allow_none=True)


class HistoryQuery(Input):
    after_version = BoundedInt(load_default=0)
    limit = BoundedInt(1, 1000, load_default=100)


class FeedQuery(Input):
    after = BoundedInt(load_default=0)
    limit = BoundedInt(1, 1000, load_default=100)


class Feed(Schema):
    items = fields.List(fields.Nested(Entry))
    next_after = fields.Integer()
    head = fields.Integer()


class Break(Schema):
    kind = fields.String(metadata={"description": "edited, missing_event, reordered, stream_gap, seal_chain, forged, "
                                                  "missing_seals, truncated, head_mismatch, forged_head, quarantined, "
                                                  "forged_boundary, access_log_edited, access_log_deleted, "
                                                  "access_log_inserted, access_log_reordered, access_log_seal_chain"})
    message = fields.String()
    stream_id = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    position = fields.Integer(allow_none=True, metadata={"description": "the event's position (first of a range)"})
    last_position = fields.Integer(allow_none=True, metadata={"description": "the last position of a range"})
    entry_id = fields.String(allow_none=True, metadata={"description": "the access-log entry (first of a range)"})
    access_seq = fields.Integer(allow_none=True, metadata={"description": "its place in the access log's order"})
    last_access_seq = fields.Integer(allow_none=True)


class AccessLogVerification(Schema):
    entries_checked = fields.Integer()
    sealed_up_to = fields.Integer()
    unsealed_entries = fields.Integer()


class HeadsVerification(Schema):
    file = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "checked, none published yet, no valid head, not configured"})
    position = fields.Integer(metadata={"description": "the newest published head's event position"})
    access_seq = fields.Integer()
    at = fields.String(metadata={"description": "when it was published, UTC"})


class VerifyAnswer(Schema):
    ok = fields.Boolean()
    events_checked = fields.Integer()
    sealed_up_to = fields.Integer()
    unsealed_events = fields.Integer()
    access_log = fields.Nested(AccessLogVerification)
    heads = fields.Nested(HeadsVerification)
    first_break = fields.Nested(Break, allow_none=True)
    breaks = fields.List(fields.Nested(Break), metadata={"description": "every break, in order (the first 100)"})
    breaks_total = fields.Integer()


class AccessQuery(Input):
    user = fields.String(validate=validate.Length(max=64))
    case_id = fields.UUID()
    beneficiary_id = fields.UUID()
    page = BoundedInt(1, PAGE_MAX, load_default=1)
    per_page = BoundedInt(1, 1000, load_default=100)


class AccessEntry(Schema):
    id = fields.String()
    at = fields.String()
    username = fields.String()
    role = fields.String()
    action = fields.String()
    case_id = fields.String(allow_none=True)
    beneficiary_id = fields.String(allow_none=True)
    detail = fields.String()
    client = fields.String(allow_none=True, metadata={"description": "the client's address (none: the CLI, or "
                                                                     "logged before addresses were)"})


class AccessPage(PageInfo):
    items = fields.List(fields.Nested(AccessEntry))


class AsOfQuery(Input):
    as_of = Instant(required=True, metadata={"description": "e.g. 2026-09-30T23:59:59+07:00"})


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
        """Check every event and access-log entry against its seal and the newest published head; `ok` is false
        and `breaks` names every break (`first_break`: the first)"""
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
