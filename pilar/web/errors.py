"""Errors of the pages as HTML pages in the reader's language (the API answers its own in JSON,
pilar/api/errors.py): not signed in → the sign-in page; 403, 404, 429, 503 → a page saying so."""

import logging

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from pilar.api.errors import STORE_UNAVAILABLE
from pilar.api.errors import where_raised
from pilar.api.security import security_event
from pilar.cases.errors import Contention, NotAllowed, NotAuthenticated, NotFound
from pilar.web import blp

log = logging.getLogger(__name__)


def _titles() -> dict[int, str]:
    return {400: _("The request was not understood"), 403: _("Not allowed"), 404: _("Not found"),
            405: _("Not allowed this way"), 413: _("Too much data sent"), 429: _("Too many attempts"),
            500: _("Something went wrong"), 503: _("Busy; try again shortly")}


def error_page(code: int, message: str = "", headers: dict[str, str] | None = None) -> Response:
    title = _titles().get(code, str(code))
    response = Response(render_template("error.html", code=code, title=title, message=message), status=code,
                        mimetype="text/html")
    response.headers.update(headers or {})
    return response


def html_refusal(code: int, message: str, headers: dict[str, str], name: str | None) -> Response:
    """A rate limit's refusal (pilar/api/limits.py) as a page."""
    wait = headers.get("Retry-After", "")
    return error_page(code, _("Wait %(seconds)s seconds, then try again.", seconds=wait) if wait else
                      _("Try again shortly."), headers)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (never //elsewhere)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("web.my_cases")


@blp.errorhandler(NotAuthenticated)
def sign_in_first(exc: NotAuthenticated):
    if exc.event != "no_token":
        security_event(exc.event, exc.username)
    wanted = request.full_path.rstrip("?") if request.method == "GET" else None
    response = redirect(url_for("web.sign_in", next=wanted) if wanted else url_for("web.sign_in"), 303)
    response.set_data(b"")  # the Location header says it all; nothing of the page asked for is repeated
    return response


@blp.errorhandler(NotAllowed)
def forbidden(exc: NotAllowed):
    security_event("forbidden", method=request.method, reason=str(exc))
    return error_page(403, _("Your role, pillar or kecamatan does not allow this."))


@blp.errorhandler(NotFound)
def not_found(exc: NotFound):
    return error_page(404, _("There is no such record."))


@blp.errorhandler(CSRFError)
def stale_form(exc: CSRFError):
    return error_page(400, _("This form has expired or did not come from Pilar. Go back, reload the page and "
                             "send it again."))


@blp.errorhandler(Contention)
def busy(exc: Contention):
    return error_page(503, _("Others kept changing this record; nothing was saved. Send the form again."),
                      {"Retry-After": "1"})


def store_down(exc: Exception):
    log.warning("store unavailable: %s", type(exc).__name__)
    return error_page(503, _("The server cannot reach its data just now; try again in a moment."),
                      {"Retry-After": "2"})


for _kind in STORE_UNAVAILABLE:
    blp.register_error_handler(_kind, store_down)


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    if exc.response is not None:  # answered already (a rate limit's page)
        return exc.response
    return error_page(exc.code or 500)


@blp.errorhandler(Exception)
def unexpected(exc: Exception):
    log.error("unhandled error on a page\n%s", where_raised(exc))
    return error_page(500, _("It has been logged."))
