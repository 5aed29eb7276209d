"""Households: everyone registered under one KK, with all their cases across pillars, each as the
person view shows them to you (POST /households/search: a KK never travels in a URL); and DTSEN
desil extracts imported by Dinas Sosial (POST /desil/imports)."""

from flask.views import MethodView
from marshmallow import fields
from flask_smorest.fields import Upload

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.documented import errors
from pilar.api.limits import lookup_limits
from pilar.api.schemas import BeneficiaryList
from pilar.api.schemas.beneficiaries import SixteenDigits
from pilar.api.schemas.common import Input
from pilar.cases.errors import InvalidInput
from pilar.cases.nik import kk_problems

blp = Blueprint("households", __name__, url_prefix="/api/v1",
                description="Households by KK; DTSEN desil extracts")

SEARCH_ERRORS = {400: "Malformed JSON", 401: "No valid bearer token", 403: "Your role does not read beneficiaries",
                 413: "The body is too large", 422: "`kk` is missing or not a well-formed KK (see `errors`)",
                 429: "Too many look-ups by this user (`limit`: `lookup`); `Retry-After` says when to try again"}
IMPORT_ERRORS = {400: "Not a multipart form", 401: "No valid bearer token",
                 403: "Only Dinas Sosial (an all-pillar coordinator) imports desil",
                 413: "The file is larger than PILAR_MAX_BODY_BYTES: import it with `pilar desil import`",
                 422: "`file` or `period` is missing or unusable (see `errors`)"}


class KkSearchIn(Input):
    kk = SixteenDigits(kk_problems, required=True)


class DesilImportForm(Input):
    period = fields.String(required=True, metadata={"description": "the DTSEN period, a quarter like 2026Q3"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "check and count, record nothing"})


class DesilImportFile(Input):
    file = Upload(required=True, metadata={"description": "CSV (UTF-8), header row `nik,kk,desil` (nik or kk may "
                                                          "be left out); a row names a person by NIK or a household "
                                                          "by KK"})


class DesilProblem(Input):
    row = fields.Integer(metadata={"description": "as a spreadsheet numbers it: the header is row 1"})
    field = fields.String()
    message = fields.String()


class DesilReport(Input):
    period = fields.String()
    dry_run = fields.Boolean()
    rows = fields.Integer(metadata={"description": "rows read (blank rows are skipped)"})
    people = fields.Integer(metadata={"description": "registered people the rows named"})
    recorded = fields.Integer(metadata={"description": "desil recorded (in a dry run: would be)"})
    unchanged = fields.Integer(metadata={"description": "that same desil already on record for the period"})
    unmatched = fields.Integer(metadata={"description": "good rows naming nobody registered here"})
    problems = fields.List(fields.Nested(DesilProblem))


@blp.route("/households/search")
class HouseholdSearch(MethodView):
    @blp.arguments(KkSearchIn)
    @blp.response(200, BeneficiaryList)
    @errors(blp, SEARCH_ERRORS, 400, 401, 403, 413, 422, 429)
    @lookup_limits
    def post(self, body):
        """Everyone registered under a KK, each with all their cases across pillars, as the person view shows them

        The KK travels in the body, never in a URL; the access log keeps its keyed hash, never the
        KK. Counted by the same per-user limit as NIK look-ups."""
        return {"items": services().households.search(current_actor(), body["kk"])}


# The form's fields and its file are parsed by two schemas; the document shows them as the one form they are.
IMPORT_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "period"], "properties": {
        "file": {"type": "string", "format": "binary", "description": DesilImportFile().fields["file"].metadata[
            "description"]},
        "period": {"type": "string", "description": "the DTSEN period, a quarter like 2026Q3 (or 2026-Q3)"},
        "dry_run": {"type": "boolean", "default": False, "description": "check and count, record nothing"}}}}}}


@blp.route("/desil/imports")
class DesilImports(MethodView):
    @blp.doc(requestBody=IMPORT_BODY)
    @blp.arguments(DesilImportForm, location="form")
    @blp.arguments(DesilImportFile, location="files")
    @blp.response(200, DesilReport)
    @errors(blp, IMPORT_ERRORS, 400, 401, 403, 413, 422)
    def post(self, form, files):
        """Import a DTSEN period's desil extract (Dinas Sosial): bad rows reported, good rows recorded, a re-run changes nothing"""
        upload = files["file"]
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput.one("file", "must be a CSV file in UTF-8") from None
        source = f"DTSEN {form['period']} ({upload.filename or 'upload'})"
        return services().households.import_desil(current_actor(), text.splitlines(), period=form["period"],
                                                  source=source, dry_run=form["dry_run"])
