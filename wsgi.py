"""The Flask app, composed at the top: the API's blueprints (api/) and the pages for people (web/)
over the services from the composition root (bootstrap.py). Pages have cookie sessions, CSRF
tokens and HTML errors; the API's bearer auth and JSON errors are scoped to it.

gunicorn entry: `gunicorn -c gunicorn.conf.py wsgi:app`. The app (and its store connections) is
built inside each worker after the fork, never in the master: connection pools and SQLite
handles must not be shared across processes.
"""

import base64
import hashlib
import io
import os
import re
import threading
from collections.abc import Callable

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from api import init_api, is_api_request
from api.errors import http_error
from api.metrics import init_metrics
from bootstrap import Services, bootstrap
from web import init_web
from web.errors import error_page


class PageSessions(SecureCookieSessionInterface):
    """Cookie sessions for pages only. The API signs in with bearer tokens, so its requests open
    no session (opening one costs a signer per request on the write path). The cookie is HttpOnly,
    SameSite=Lax, and Secure whenever the request came over TLS (to this server, or so a trusted
    proxy says: PILAR_TRUSTED_PROXIES)."""

    def open_session(self, app, request):
        if is_api_request(request.path):
            return None  # Flask then uses its null session
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def create_app(services: Services | None = None) -> Flask:
    services = services or bootstrap()
    settings = services.settings
    services.cases.personal_keys.keks.check()  # without a key-encryption key, refuse to start
    services.cases.lookup  # nor without the store's lookup key  # noqa: B018
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SECRET_KEY=settings.token_secret(),
        TOKEN_MAX_AGE=services.signin.tokens.max_age,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.session_interface = PageSessions()
    app.extensions["pilar"] = services
    init_api(app)
    init_web(app)
    init_metrics(app)
    app.register_error_handler(HTTPException, _outside_blueprints)
    app.after_request(_security_headers)
    if settings.cors_origins:
        _open_cors(app, frozenset(settings.cors_origins))
    app.wsgi_app = _SizedBodies(app.wsgi_app, settings.max_body_bytes)
    if settings.trusted_proxies:
        # Only then is X-Forwarded-Proto (and -For, -Host, -Port) believed, and only as many
        # hops as there are proxies; gunicorn itself trusts no forwarded header (gunicorn.conf.py).
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    return app


# Every answer (API, health, pages, errors) carries these; a view may set its own instead.
# Cache-Control: answers carry personal data, tokens, or both; static files set their own.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"
# Pages load their one stylesheet from this server and post forms only to it; no script runs.
PAGES_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
             "frame-ancestors 'none'")
# The API's docs (Swagger UI) load their scripts, styles and the OpenAPI document from this server
# only (so they work offline), and run one inline script, allowed by its hash. Checked in a headless
# Chromium with every operation expanded: nothing else is needed.
DOCS_CSP = ("default-src 'none'; script-src 'self' {inline}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _security_headers(response: Response) -> Response:
    if request.endpoint and request.endpoint.endswith(".openapi_swagger_ui"):
        hashes = [base64.b64encode(hashlib.sha256(s).digest()).decode()
                  for s in _INLINE_SCRIPT.findall(response.get_data())]
        response.headers["Content-Security-Policy"] = DOCS_CSP.format(inline=" ".join(f"'sha256-{h}'" for h in hashes))
    headers = response.headers
    if not is_api_request(request.path) and "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = PAGES_CSP
        # Forms over TLS are checked to come from this server's own pages (Flask-WTF's Referer
        # check), so a page sends its address to this server, and to no other.
        headers["Referrer-Policy"] = "same-origin"
    present = {name.lower() for name in headers.keys()}  # one pass: setdefault would scan per header
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    if request.is_secure:  # over TLS to this server, or so a trusted proxy says
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _open_cors(app: Flask, origins: frozenset[str]) -> None:
    """The API answers browsers on these origins (PILAR_CORS_ORIGINS) and no others; bearer tokens,
    not cookies, so no credentials. Without the setting no Access-Control-* header is ever sent."""

    def allowed() -> str | None:
        origin = request.headers.get("Origin")
        return origin if origin in origins and is_api_request(request.path) else None

    @app.before_request
    def preflight():
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers and allowed():
            return Response(status=204, headers={
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, Idempotency-Key",
                "Access-Control-Max-Age": "600",
            })
        return None

    @app.after_request
    def cors(response: Response) -> Response:
        response.vary.add("Origin")
        if origin := allowed():
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "ETag, Idempotent-Replayed, Retry-After"
        return response


class _SizedBodies:
    """A chunked body is read here up to one byte past the limit and given its length: werkzeug
    would otherwise cut it at the limit without a word (its JSON then fails to parse: a 400), where
    a body over the limit is a 413 however it is sent."""

    def __init__(self, app: Callable, limit: int):
        self.app = app
        self.limit = limit

    def __call__(self, environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = environ["wsgi.input"].read(self.limit + 1)
            del environ["HTTP_TRANSFER_ENCODING"]  # werkzeug ignores a chunked body's CONTENT_LENGTH
            environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        return self.app(environ, start_response)


def _outside_blueprints(exc: HTTPException):
    """Errors no blueprint answered (an unknown URL, a method not allowed): JSON for API paths and
    for a client that asks for JSON rather than HTML, a page in the reader's language otherwise."""
    if is_api_request(request.path) or _prefers_json():
        return http_error(exc)
    if exc.response is not None:
        return exc.response
    code = exc.code or InternalServerError.code
    headers = {"Allow": ", ".join(exc.valid_methods or [])} if code == 405 else None
    return error_page(code, "", headers)


def _prefers_json() -> bool:
    accepted = request.accept_mimetypes
    return accepted.best_match(["text/html", "application/json"]) == "application/json" and \
        accepted["application/json"] > accepted["text/html"]


class PerProcessApp:
    def __init__(self, factory: Callable) -> None:
        self._factory = factory
        self._app = None
        self._pid = None
        self._lock = threading.Lock()

    def build(self):
        with self._lock:
            if self._app is None or self._pid != os.getpid():
                self._app = self._factory()
                self._pid = os.getpid()
        return self._app

    def __call__(self, environ, start_response):
        app = self._app if self._pid == os.getpid() else self.build()
        return app(environ, start_response)


app = PerProcessApp(create_app)
