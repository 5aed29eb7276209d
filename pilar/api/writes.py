"""HTTP preconditions of a write (If-Match, Idempotency-Key) and the headers of its answer."""

import re

from flask import request
from werkzeug.exceptions import BadRequest

from pilar.api.blueprint import current_actor, services
from pilar.api.metrics import IDEMPOTENT_REPLAYS
from pilar.cases.write_path import Idempotency, WriteOptions, WriteResult

# "3", or a case GET's ETag: "3.<digest>", with ":gzip" or ":br" when it came compressed.
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,9})(?:\.[0-9a-f]{24}(?::gzip|:br)?)?"?\s*$')
# An Idempotency-Key (a header here, a hidden field on the pages: pilar/web/writes.py).
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

WRITE_ERRORS = {
    400: "Malformed JSON, or a malformed If-Match / Idempotency-Key header",
    401: "No valid bearer token",
    403: "Your role or pillar does not allow this",
    404: "No such case, follow-up or referral",
    409: "The request breaks a rule (see `rule`)",
    412: "If-Match names a version that is no longer current",
    413: "The body is too large",
    422: "Invalid fields, each named in `errors`",
    503: "Nothing was written: other writers kept changing the record (`rule`: concurrent_writes) or the store "
         "is not reachable; retry after `Retry-After` seconds with the same Idempotency-Key",
}


def write_options() -> WriteOptions:
    expected = None
    if_match = request.headers.get("If-Match")
    # "*" only asks that the record exists, which every write on an id checks anyway.
    if if_match is not None and if_match.strip() != "*":
        match = _IF_MATCH.match(if_match)
        if not match:
            raise BadRequest('If-Match must be a case version in quotes, like "3" (or the ETag a case GET answered)')
        expected = int(match.group(1))
    idempotency = None
    if (key := request.headers.get("Idempotency-Key")) is not None:
        if not IDEMPOTENCY_KEY.match(key):
            raise BadRequest("Idempotency-Key must be 1–255 printable ASCII characters without spaces")
        # Fingerprinted with the application's lookup key: the record keeps no guessable hash of the body.
        idempotency = Idempotency.of_request(
            services().cases.lookup, key, request.method, request.path, request.get_json(silent=True)
        )
    return WriteOptions(expected_version=expected, idempotency=idempotency)


def answered(result: WriteResult):
    headers = {"ETag": f'"{result.version}"'}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
        IDEMPOTENT_REPLAYS.inc()
    return result.answer(), headers


def actor_and_options():
    return current_actor(), write_options()
