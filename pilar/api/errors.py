"""One JSON error shape for every failure of the API, and the mapping from domain errors to
statuses. Registered on each API blueprint (pilar/api/blueprint.py), never app-wide."""

import logging
import sqlite3
import traceback

import psycopg
from psycopg_pool import PoolTimeout

from eventsourcing.persistence import OperationalError, InterfaceError
from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from pilar.api.metrics import CONFLICTS
from pilar.api.security import security_event
from pilar.cases.errors import (
    Contention,
    DamagedEvent,
    DuplicateNik,
    IdempotencyKeyReused,
    InvalidInput,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    RuleBroken,
    StaleVersion,
)
from pilar.projections.service import BeyondHead, ViewBehind
from pilar.store.config import StoreUrlError
from pilar.store.kek import KekError
from pilar.store.key_checks import KeyMismatch

log = logging.getLogger(__name__)

PHRASES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable",
}


# The store (or its pool) cannot be reached: a 503 with Retry-After, on the API and the pages alike.
STORE_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError, PoolTimeout, sqlite3.OperationalError,
                     StoreUrlError)


def error_response(code: int, message: str, headers: dict | None = None, **extra):
    body = {"code": code, "status": PHRASES.get(code, ""), "message": message, **extra}
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_error(exc: HTTPException):
    """An HTTP error (routing, body size, webargs' 400/422) in the JSON shape; one raised with its
    answer made already (a rate limit's 429, pilar/api/limits.py) is answered with that."""
    if exc.response is not None:
        return exc.response
    extra = {}
    data = getattr(exc, "data", None) or {}
    if "messages" in data:
        extra["errors"] = data["messages"]
    message = exc.description or PHRASES.get(exc.code, "")
    if exc.code == 422:
        message = "Some fields are not valid: see errors."
    elif exc.code == 400 and "messages" in data:
        message = "The request body is not valid JSON."
    headers = dict(data.get("headers") or {})
    if exc.code == 405:
        headers["Allow"] = ", ".join(exc.valid_methods or [])
    return error_response(exc.code or 500, message, headers, **extra)


def register_error_handlers(blp: Blueprint) -> None:
    blp.register_error_handler(HTTPException, http_error)

    @blp.errorhandler(InvalidInput)
    def invalid(exc: InvalidInput):
        return error_response(422, "Some fields are not valid: see errors.", errors={"json": exc.errors})

    @blp.errorhandler(RuleBroken)
    def rule(exc: RuleBroken):
        return error_response(409, exc.message, rule=exc.rule)

    @blp.errorhandler(DuplicateNik)
    def duplicate(exc: DuplicateNik):
        return error_response(409, str(exc), rule="nik_unique", existing_id=str(exc.existing_id))

    @blp.errorhandler(NotFound)
    def not_found(exc: NotFound):
        return error_response(404, str(exc))

    @blp.errorhandler(NotAllowed)
    def forbidden(exc: NotAllowed):
        security_event("forbidden", method=request.method, reason=str(exc))
        return error_response(403, str(exc))

    @blp.errorhandler(NotAuthenticated)
    def unauthenticated(exc: NotAuthenticated):
        if exc.event != "no_token":  # a request without any token is no attack on anyone's
            security_event(exc.event, exc.username)
        return error_response(401, str(exc), {"WWW-Authenticate": 'Bearer realm="pilar"'})

    @blp.errorhandler(StaleVersion)
    def stale(exc: StaleVersion):
        CONFLICTS.labels("stale_version").inc()
        return error_response(412, str(exc), {"ETag": f'"{exc.actual}"'})

    @blp.errorhandler(IdempotencyKeyReused)
    def reused(exc: IdempotencyKeyReused):
        return error_response(422, str(exc), errors={"headers": {"Idempotency-Key": [str(exc)]}})

    @blp.errorhandler(Contention)
    def contention(exc: Contention):
        # Not a broken rule (409): nothing is wrong with the request, and clients retry a 503.
        CONFLICTS.labels("concurrent_writes").inc()
        return error_response(503, str(exc), {"Retry-After": "1"}, rule="concurrent_writes")

    @blp.errorhandler(DamagedEvent)
    def damaged(exc: DamagedEvent):
        # Not the request's fault, and retrying will not help: an operator must restore or
        # quarantine the event (docs/operations.md). A write is refused as a conflict with it.
        log.error("damaged event: %s", exc)
        write = request.method not in ("GET", "HEAD")
        return error_response(409 if write else 500, f"This record cannot be {'changed' if write else 'read'}: "
                              f"{exc}. An operator has been told (docs/operations.md, When an event is damaged).",
                              rule="damaged_event", damaged=exc.as_dict())

    @blp.errorhandler(KeyMismatch)
    @blp.errorhandler(KekError)
    def misconfigured(exc: Exception):
        log.error("%s", exc)
        return error_response(503, f"The server is misconfigured: {exc}")

    @blp.errorhandler(BeyondHead)
    def beyond(exc: BeyondHead):
        return error_response(422, "Some fields are not valid: see errors.",
                              errors={"query": {"min_position": [str(exc)]}})

    @blp.errorhandler(ViewBehind)
    def behind(exc: ViewBehind):
        return error_response(503, str(exc), {"Retry-After": "1"}, position=exc.position)

    def store_down(exc: Exception):
        log.warning("store unavailable: %s", exc)
        return error_response(503, "The event store is not reachable; retry shortly.", {"Retry-After": "2"})

    for kind in STORE_UNAVAILABLE:
        blp.register_error_handler(kind, store_down)

    @blp.errorhandler(RecursionError)
    def too_deep(exc: RecursionError):
        # Python's JSON parser recurses per nesting level: `[[[[…]]]]` a few thousand deep (far
        # below the body limit) exhausts the stack while the body is parsed.
        return error_response(400, "The request body is not valid JSON: it nests too deeply.")

    @blp.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.error("unhandled error\n%s", where_raised(exc))
        return error_response(500, "An unexpected error occurred; it has been logged.")


def where_raised(exc: BaseException) -> str:
    """The exception's kind and where it was raised (with its causes), but not its message: a
    message may quote the input (a NIK, a name, a phone number), and no log line may hold one."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append("".join(traceback.format_tb(exc.__traceback__))
                     + f"{type(exc).__module__}.{type(exc).__qualname__} (message not logged)\n")
        exc = exc.__cause__ or exc.__context__
    return "\nwhile handling an earlier error:\n".join(reversed(parts))
