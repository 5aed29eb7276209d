"""ETags and conditional GETs for the whole app (API and pages): every 200 answer to a GET carries
an ETag, and a request whose If-None-Match names it is answered 304 with no body.

An ETag is honest only if the same tag always means the same bytes. A view that knows its answer
sets its own: a case, `"<version>.<digest>"` (the version is what If-Match compares, pilar/api/writes.py;
the digest covers what the version alone does not: today's `overdue`, an erasure); reference data,
a digest computed once. Every other answer gets a weak ETag over its body, after the view has run:
a list or workload saves the network, not the server's work, and a masked answer never shares a
tag with an unmasked one. The digests are keyed (from the signing key), so a tag in a proxy's log
confirms no guess of the answer; every worker and server with the same key gives the same tags.
"""

import hashlib

from flask import Flask, Response, current_app, request

ETAG_KEY = "pilar.etag_key"


def init_conditional(app: Flask) -> None:
    secret = app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    app.extensions[ETAG_KEY] = hashlib.blake2b(secret, digest_size=32, person=b"pilar-etag").digest()
    app.after_request(conditional)


def digest(body: bytes) -> str:
    return hashlib.blake2b(body, key=current_app.extensions[ETAG_KEY], digest_size=12).hexdigest()


def conditional(response: Response) -> Response:
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    if response.direct_passthrough or response.is_streamed:
        return response  # files: send_file answers their conditional requests itself
    if "ETag" not in response.headers:
        response.set_etag(digest(response.get_data()), weak=True)
    if "If-None-Match" in request.headers:
        response.make_conditional(request)  # 304 when a tag matches (the weak comparison, RFC 9110 §13.1.2)
    return response


def versioned(body: bytes, version: int, mimetype: str = "application/json") -> Response:
    """An answer about one version of a record: its strong ETag names the version and the bytes."""
    response = current_app.response_class(body, mimetype=mimetype)
    response.set_etag(f"{version}.{digest(body)}")
    return response
