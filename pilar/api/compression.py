"""Compression for the whole app (API and pages): brotli or gzip, as the client's Accept-Encoding
prefers, for answers over 1 KiB, with `Vary: Accept-Encoding` on every answer that may be (flask-compress).

BREACH (guessing a secret from compressed sizes) needs an answer that carries a secret beside
input the attacker chose, sent with the victim's credentials many times. The API's credentials are
bearer tokens, which another site cannot make a browser send; pages' session cookies are
SameSite=Lax. The one answer that carries a credential, the token of a sign-in, is never compressed
all the same (`@uncompressed`); a page that shows a secret (a CSRF token) beside what the request
typed is marked with `@uncompressed` or sends the secret masked anew in each answer.
"""

from collections.abc import Callable

from flask import Flask, Response, current_app, request
from flask_compress import Compress

MIN_SIZE = 1024


def uncompressed(view: Callable) -> Callable:
    """Never compress this view's answers: a view function or a MethodView class."""
    view.pilar_uncompressed = True
    return view


def _is_uncompressed() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "pilar_uncompressed", False) or getattr(getattr(view, "view_class", None),
                                                                 "pilar_uncompressed", False)


class Compression(Compress):
    def after_request(self, response: Response) -> Response:
        if _is_uncompressed():
            return response
        source = response.response  # a file's, before it is wrapped in the compressing stream
        response = super().after_request(response)
        if response.response is not source and hasattr(source, "close"):
            response.call_on_close(source.close)  # closing the compressing stream leaves the file open
        # A compressed answer's strong ETag has just gained its coding (`"…:gzip"`): a request that
        # sent that tag back is answered 304 here. flask-compress would evaluate every compressed
        # answer, conditional or not, at a third of a workload GET's cost; only these need it.
        if ("Content-Encoding" in response.headers and request.method in ("GET", "HEAD")
                and ("If-None-Match" in request.headers or "If-Modified-Since" in request.headers)
                and (not response.is_streamed or request.endpoint in self.streaming_endpoint_with_conditional)):
            response.make_conditional(request)
        return response


def init_compression(app: Flask) -> None:
    """Call first, before anything else adds an after_request: it then runs last, on the final body."""
    app.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],  # brotli where the client takes it (smaller), else gzip
        COMPRESS_ALGORITHM_STREAMING=["br"],
        COMPRESS_MIN_SIZE=MIN_SIZE,
        COMPRESS_LEVEL=6,
        # On a list of 100 cases (43 KB) quality 2 is within 1% of quality 4's size in half the time.
        COMPRESS_BR_LEVEL=2,
        # Static files answer their own conditional requests; compressed, they are checked again.
        COMPRESS_STREAMING_ENDPOINT_CONDITIONAL=["static", "docs_static.static", "web.static"],
        COMPRESS_EVALUATE_CONDITIONAL_REQUEST=False,  # done by Compression, for conditional requests only
    )
    Compression(app)
