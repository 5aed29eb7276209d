"""UU PDP duties: consent withdrawals and erasure requests against their 3×24 h deadline."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.documented import errors
from pilar.api.schemas import PageInfo, ViewPosition
from pilar.api.workloads import READ_ERRORS, Paging
from pilar.cases import vocab

blp = Blueprint("privacy", __name__, url_prefix="/api/v1/privacy",
                description="Personal data duties under UU PDP (projected views)")

ERRORS = {**READ_ERRORS, 403: "Only coordinators (their pillar's people; Dinas Sosial everyone's) and auditors"}


class PrivacyRequestQuery(Paging):
    status = fields.String(validate=validate.OneOf(vocab.PRIVACY_REQUEST_STATUSES))
    overdue = fields.Boolean(metadata={"description": "open past the deadline"})


class PrivacyRequest(Schema):
    id = fields.String(metadata={"description": "the request's event: <beneficiary id>:<version>"})
    beneficiary_id = fields.String()
    name = fields.String(allow_none=True, metadata={"description": "for readers of personal data; null once erased"})
    kind = fields.String(metadata={"enum": list(vocab.PRIVACY_REQUEST_KINDS)})
    requested_at = fields.DateTime()
    requested_by = fields.String()
    deadline = fields.DateTime(metadata={"description": "3×24 hours after the request or withdrawal"})
    status = fields.String(metadata={"enum": list(vocab.PRIVACY_REQUEST_STATUSES)})
    fulfilled = fields.Boolean(metadata={"description": "the person's personal data was erased"})
    resolved_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    in_time = fields.Boolean(allow_none=True, metadata={"description": "resolved by the deadline; null while open"})


class PrivacyRequestList(ViewPosition, PageInfo):
    now = fields.DateTime()
    items = fields.List(fields.Nested(PrivacyRequest))


@blp.route("/requests")
class PrivacyRequests(MethodView):
    @blp.arguments(PrivacyRequestQuery, location="query")
    @blp.response(200, PrivacyRequestList)
    @errors(blp, ERRORS, 401, 403, 422, 503)
    def get(self, query):
        """Consent withdrawals and erasure requests: open ones first, the earliest deadline first"""
        return services().views.privacy_requests(
            current_actor(), status=query.get("status"), overdue=query.get("overdue"), page=query["page"],
            per_page=query["per_page"], min_position=query.get("min_position"))
