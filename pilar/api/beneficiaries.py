"""Beneficiaries: register, search by NIK, read with all their cases, correct, consent, erase."""

from uuid import UUID

from flask.views import MethodView
from werkzeug.exceptions import BadRequest

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.documented import errors
from pilar.api.limits import lookup_limits
from pilar.api.schemas import (
    BeneficiaryCorrectionIn,
    BeneficiaryIn,
    BeneficiaryList,
    BeneficiaryOut,
    ConsentIn,
    Problem,
    ReasonIn,
    WriteAnswer,
)
from pilar.api.audit import AUDIT_ERRORS, History, HistoryQuery
from pilar.api.schemas.beneficiaries import NikSearchIn
from pilar.api.writes import WRITE_ERRORS, actor_and_options, answered

blp = Blueprint("beneficiaries", __name__, url_prefix="/api/v1/beneficiaries",
                description="People served by the pillars; personal data under UU PDP")

ERRORS = {**WRITE_ERRORS, 404: "No such beneficiary", 409: "The NIK is already registered (see `existing_id`), "
                                                             "or a rule is broken (see `rule`)"}
SEARCH_ERRORS = {400: "Malformed JSON", 401: "No valid bearer token", 403: "Your role does not read beneficiaries",
                 413: "The body is too large", 422: "`nik` is missing or not a well-formed NIK (see `errors`)",
                 429: "Too many look-ups by this user (`limit`: `lookup`); `Retry-After` says when to try again"}


# A NIK never travels in a URL: URLs land in gunicorn's and proxies' access logs. The look-up
# that used to be `GET ?nik=` is refused with a pointer to the search, without reading the NIK.
SEARCH_INSTEAD = ("A beneficiary is looked up by NIK with POST /api/v1/beneficiaries/search and the JSON body "
                  '{"nik": "<16 digits>"}; a NIK is never sent in a URL.')


@blp.route("")
class Beneficiaries(MethodView):
    @blp.doc(deprecated=True)
    @blp.alt_response(400, schema=Problem, description="Always: use POST /api/v1/beneficiaries/search")
    @errors(blp, ERRORS, 401)
    def get(self):
        """Removed: look a person up with POST /beneficiaries/search (a NIK never travels in a URL)"""
        raise BadRequest(SEARCH_INSTEAD)

    @blp.arguments(BeneficiaryIn)
    @blp.response(201, WriteAnswer)
    @errors(blp, ERRORS, 400, 401, 403, 409, 413, 422, 503)
    def post(self, details):
        """Register a beneficiary; the same NIK twice is refused with the existing id"""
        actor, options = actor_and_options()
        return answered(services().cases.register_beneficiary(actor, **details, options=options))


@blp.route("/search")
class BeneficiarySearch(MethodView):
    @blp.arguments(NikSearchIn)
    @blp.response(200, BeneficiaryList)
    @errors(blp, SEARCH_ERRORS, 400, 401, 403, 413, 422, 429)
    @lookup_limits
    def post(self, body):
        """Look a person up by NIK (zero or one match), with all their cases across pillars

        The NIK travels in the body, never in a URL. A read: nothing is written but the access
        log's entry, and no Idempotency-Key is needed."""
        app = services().cases
        person = app.find_beneficiary_by_nik(current_actor(), body["nik"])
        if person is None:
            return {"items": []}
        return {"items": [app.beneficiary_answer(current_actor(), person)]}


@blp.route("/<uuid:beneficiary_id>")
class BeneficiaryById(MethodView):
    @blp.response(200, BeneficiaryOut)
    @errors(blp, ERRORS, 401, 403, 404)
    def get(self, beneficiary_id: UUID):
        """A person with all their cases across pillars, as your scope allows

        NIK and KK are masked and phone, address and a consent's giver hidden unless you have the pii
        permission and serve the person; a case you may not read shows only its pillar, status and dates."""
        app = services().cases
        return app.beneficiary_answer(current_actor(), app.get_beneficiary(current_actor(), beneficiary_id))


@blp.route("/<uuid:beneficiary_id>/history")
class BeneficiaryHistory(MethodView):
    @blp.arguments(HistoryQuery, location="query")
    @blp.response(200, History)
    @errors(blp, AUDIT_ERRORS, 401, 403, 404, 422)
    def get(self, query, beneficiary_id: UUID):
        """Every event of the person's stream in version order, with who, when and its chained hash"""
        return services().audit.beneficiary_history(current_actor(), beneficiary_id, query["after_version"],
                                              query["limit"])


@blp.route("/<uuid:beneficiary_id>/corrections")
class Corrections(MethodView):
    @blp.arguments(BeneficiaryCorrectionIn)
    @blp.response(200, WriteAnswer)
    @errors(blp, ERRORS, 400, 401, 403, 404, 409, 412, 413, 422, 503)
    def post(self, body, beneficiary_id: UUID):
        """Correct registered details (a new NIK must still be unique)"""
        actor, options = actor_and_options()
        return answered(services().cases.correct_beneficiary(
            actor, beneficiary_id, changes=body["changes"], reason=body["reason"], options=options))


@blp.route("/<uuid:beneficiary_id>/consent")
class Consent(MethodView):
    @blp.arguments(ConsentIn)
    @blp.response(200, WriteAnswer)
    @errors(blp, ERRORS, 400, 401, 403, 404, 409, 412, 413, 422, 503)
    def post(self, body, beneficiary_id: UUID):
        """Record the person's consent to processing of their (specific) personal data"""
        actor, options = actor_and_options()
        return answered(services().cases.record_consent(actor, beneficiary_id, **body, options=options))


@blp.route("/<uuid:beneficiary_id>/consent/withdrawal")
class ConsentWithdrawal(MethodView):
    @blp.arguments(ReasonIn)
    @blp.response(200, WriteAnswer)
    @errors(blp, ERRORS, 400, 401, 403, 404, 409, 412, 413, 422, 503)
    def post(self, body, beneficiary_id: UUID):
        """Record that the person withdrew consent"""
        actor, options = actor_and_options()
        return answered(services().cases.withdraw_consent(actor, beneficiary_id, reason=body["reason"], options=options))


@blp.route("/<uuid:beneficiary_id>/erasure-request")
class ErasureRequest(MethodView):
    @blp.arguments(ReasonIn)
    @blp.response(200, WriteAnswer)
    @errors(blp, ERRORS, 400, 401, 403, 404, 409, 412, 413, 422)
    def post(self, body, beneficiary_id: UUID):
        """Record the person's request to erase their personal data: due within 3×24 h (GET /privacy/requests)"""
        actor, options = actor_and_options()
        return answered(services().cases.request_erasure(actor, beneficiary_id, reason=body["reason"], options=options))


@blp.route("/<uuid:beneficiary_id>/erasure")
class Erasure(MethodView):
    @blp.arguments(ReasonIn)
    @blp.response(200, WriteAnswer)
    @errors(blp, ERRORS, 400, 401, 403, 404, 409, 412, 413, 422, 503)
    def post(self, body, beneficiary_id: UUID):
        """Erase the person's personal data on request or withdrawal of consent (supervisors)"""
        actor, options = actor_and_options()
        return answered(services().cases.erase_personal_data(actor, beneficiary_id, reason=body["reason"], options=options))
