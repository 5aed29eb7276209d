"""Reference data for clients and pages: the regency's kecamatan and desa with their names, and
every vocabulary with Indonesian and English labels. Any signed-in user reads them (SPEC §5: every
call but sign-in carries a token); they hold nothing personal, so a browser may keep them and
revalidate them by their ETag (a digest of the answer, computed once per process)."""

from collections.abc import Callable

from flask import Response, current_app
from flask.views import MethodView

from pilar.api.blueprint import Blueprint, services
from pilar.api.conditional import digest
from pilar.api.documented import errors
from pilar.api.encoded import encode
from pilar.api.schemas import VocabulariesOut, WilayahOut
from pilar.cases.vocabularies import vocabularies
from pilar.cases.wilayah import Wilayah

blp = Blueprint("reference", __name__, url_prefix="/api/v1", description="Reference data: wilayah and vocabularies")

REFERENCE_ERRORS = {304: "Not modified: If-None-Match names the current ETag (no body)", 401: "No valid bearer token"}
CACHE_CONTROL = "private, no-cache"  # kept by the browser, revalidated by ETag on each use
CACHED = "pilar.reference"


def wilayah_answer(wilayah: Wilayah) -> dict:
    regency = wilayah.regency
    return {
        "regency": {"code": regency.code, "name": regency.name},
        "kecamatan": [{"code": kecamatan.code, "name": kecamatan.name,
                       "desa": [{"code": v.code, "name": v.name, "level": v.level} for v in villages]}
                      for kecamatan, villages in wilayah.kecamatan()],
    }


def _answer(name: str, build: Callable[[], dict]) -> Response:
    """The answer's bytes and strong ETag, made on first use and kept by this app."""
    kept = current_app.extensions.setdefault(CACHED, {})
    if name not in kept:
        body = encode(build())
        kept[name] = (body, digest(body))
    body, etag = kept[name]
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@blp.route("/wilayah")
class WilayahList(MethodView):
    @blp.response(200, WilayahOut)
    @errors(blp, REFERENCE_ERRORS, 304, 401)
    def get(self):
        """The regency's kecamatan, each with its desa and kelurahan: codes and names"""
        return _answer("wilayah", lambda: wilayah_answer(services().cases.wilayah))


@blp.route("/vocabularies")
class Vocabularies(MethodView):
    @blp.response(200, VocabulariesOut)
    @errors(blp, REFERENCE_ERRORS, 304, 401)
    def get(self):
        """Every code list (pillars, PPKS categories, ATENSI components, statuses, …) with labels in
        Bahasa Indonesia (`id`) and English (`en`)"""
        return _answer("vocabularies", vocabularies)
