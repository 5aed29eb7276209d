"""Bulk imports and exports over HTTP (the same work as `pilar import` and `pilar export`,
pilar/api/bulk/): the templates, an upload (multipart `file` + `kind`) answered at once with the
import's id while its rows are imported in the background, its report, the list of imports, and
a pillar's cases and aid as CSV or XLSX."""

import io
import logging
import tempfile
import threading
from pathlib import Path

from flask import Response, request, stream_with_context
from flask.views import MethodView
from marshmallow import fields, validate

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.bulk import export as exporting
from pilar.api.bulk.importer import BadImport, prepare
from pilar.api.bulk.report import ENTRY_COLUMNS, entry_rows
from pilar.api.bulk.sheets import FORMATS, MEDIA_TYPES, write_csv, write_xlsx
from pilar.api.bulk.templates import KINDS
from pilar.api.documented import errors
from pilar.api.errors import error_response
from pilar.api.schemas.common import Input
from pilar.cases import policy, vocab
from pilar.cases.errors import NotFound

log = logging.getLogger(__name__)
blp = Blueprint("imports", __name__, url_prefix="/api/v1", description="Bulk import and export of lists (CSV, XLSX)")
ERRORS = {401: "No valid bearer token", 403: "Your role or scope does not allow it", 404: "No such import",
          413: "The file is larger than PILAR_IMPORT_MAX_BYTES",
          422: "No file, an unknown kind or format, or a file that is not the kind's CSV or XLSX template"}
UPLOAD_PATH = "/api/v1/imports"
TRUE = ("1", "true", "yes", "on")


class FormatQuery(Input):
    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS))


class ExportQuery(FormatQuery):
    pillar = fields.String(required=True, validate=validate.OneOf(vocab.PILLARS))


class ReportQuery(Input):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", *FORMATS)))


class ListQuery(Input):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


def _sheet(name: str, fmt: str, header: list[str], rows) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"', "Cache-Control": "no-store"}
    if fmt == "csv":
        return Response(stream_with_context(write_csv(header, rows)), mimetype=MEDIA_TYPES["csv"], headers=disposition)
    out = io.BytesIO()
    write_xlsx(header, rows, out, text_columns=exporting.TEXT_COLUMNS)
    return Response(out.getvalue(), mimetype=MEDIA_TYPES["xlsx"], headers=disposition)


@blp.route("/imports/templates/<kind>")
class ImportTemplate(MethodView):
    @blp.arguments(FormatQuery, location="query")
    @errors(blp, ERRORS, 401, 404, 422)
    def get(self, query, kind):
        """A kind's empty template (beneficiaries, cases or aid): its header row, the API's field names"""
        current_actor()
        if kind not in KINDS:
            raise NotFound("import template", kind)
        return _sheet(f"pilar-{kind}-template", query["format"], KINDS[kind].header, [])


@blp.route("/imports")
class Imports(MethodView):
    @errors(blp, ERRORS, 401, 403, 413, 422)
    def post(self):
        """Import a file: multipart `file` and `kind`, optional `dry_run` and `all_or_nothing`; answers
        202 with the import's id at once, its rows imported in the background (GET its report)"""
        actor = current_actor()
        policy.require(policy.import_rows(actor))
        limit = services().settings.import_max_bytes
        if (request.content_length or 0) > limit:  # refused before a byte of it is spooled to disk
            return error_response(413, f"the file is larger than {limit} bytes (PILAR_IMPORT_MAX_BYTES)")
        request.max_content_length = limit
        upload = request.files.get("file")
        kind = request.form.get("kind", "")
        if upload is None:
            return error_response(422, "Some fields are not valid: see errors.",
                                  errors={"files": {"file": ["a CSV or XLSX file is required"]}})
        dry_run = request.form.get("dry_run", "").lower() in TRUE
        all_or_nothing = request.form.get("all_or_nothing", "").lower() in TRUE
        kept = tempfile.NamedTemporaryFile(prefix="pilar-import-", delete=False)
        path = Path(kept.name)
        with kept:
            upload.save(kept)
        try:
            prepared = prepare(kind, path, upload.filename or "upload")
        except BadImport as bad:
            path.unlink(missing_ok=True)
            where = {"form": {"kind": [str(bad)]}} if bad.field == "kind" else {"files": {"file": [str(bad)]}}
            return error_response(422, str(bad), errors=where)
        built = services()
        import_id = built.imports.start(actor, prepared, dry_run=dry_run, all_or_nothing=all_or_nothing)

        def work() -> None:
            try:
                built.imports.run(import_id, actor, prepared, dry_run=dry_run, all_or_nothing=all_or_nothing)
            except Exception:  # noqa: BLE001 - recorded as failed; a re-run imports what is left
                log.exception("import %s failed", import_id)
            finally:
                path.unlink(missing_ok=True)

        threading.Thread(target=work, name=f"import-{import_id}", daemon=True).start()
        answer = {"id": import_id, "status": "running", "report": f"{UPLOAD_PATH}/{import_id}"}
        return answer, 202, {"Location": answer["report"]}

    @blp.arguments(ListQuery, location="query")
    @errors(blp, ERRORS, 401, 403, 422)
    def get(self, query):
        """Imports, newest first: every import for auditors, a supervisor's own for them"""
        actor = current_actor()
        policy.require(policy.list_imports(actor))
        mine = None if policy.reads_everything(actor) else actor.username
        return {"items": services().imports.table.recent(query["limit"], mine)}


@blp.route("/imports/<import_id>")
class ImportReport(MethodView):
    @blp.arguments(ReportQuery, location="query")
    @errors(blp, ERRORS, 401, 403, 404, 422)
    def get(self, query, import_id):
        """An import's report: status, counts and each reported row (row, field, outcome, message);
        `format=csv` for the rows as CSV"""
        actor = current_actor()
        policy.require(policy.list_imports(actor))  # before the look-up: a worker learns nothing of any import
        try:
            report = services().imports.report(import_id)
        except KeyError:
            raise NotFound("import", import_id) from None
        policy.require(policy.read_import(actor, report["actor"]))
        if query["format"] != "json":
            return _sheet(f"pilar-import-{import_id}", query["format"], list(ENTRY_COLUMNS), entry_rows(report))
        return report


@blp.route("/exports/<what>")
class Export(MethodView):
    @blp.arguments(ExportQuery, location="query")
    @errors(blp, ERRORS, 401, 403, 404, 422)
    def get(self, query, what):
        """A pillar's cases (`/exports/cases`) or the aid given on them (`/exports/aid`) in the import
        templates' columns; identifiers masked for a reader without `pii`; every case read is logged"""
        actor = current_actor()
        rows_of = {"cases": exporting.case_rows, "aid": exporting.aid_rows}.get(what)
        if rows_of is None:
            raise NotFound("export", what)
        policy.require(policy.read_pillar(actor, query["pillar"]))
        header, rows = rows_of(services(), actor, query["pillar"])
        return _sheet(f"pilar-{what}-{query['pillar']}", query["format"], header, rows)
