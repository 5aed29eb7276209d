"""The Flask app, composed at the top: the API's blueprints (pilar/api/) and the pages for people (pilar/web/)
over the services from the composition root (pilar/bootstrap.py). Pages have cookie sessions, CSRF
tokens and HTML errors; the API's bearer auth and JSON errors are scoped to it.

gunicorn entry: `gunicorn -c python:pilar.gunicorn_conf pilar.wsgi:app`. The app (and its store connections) is
built inside each worker after the fork, never in the master: connection pools and SQLite
handles must not be shared across processes.
"""

import base64
import hashlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from pilar.api import is_api_request
from pilar.api.app import init_api
from pilar.api.compression import init_compression
from pilar.api.conditional import init_conditional
from pilar.api.errors import http_error
from pilar.api.imports import UPLOAD_PATH
from pilar.api.kept_answers import KeptAnswers
from pilar.api.unavailable import unavailable_app
from pilar.api.metrics import init_metrics
from pilar.bootstrap import Services, bootstrap
from pilar.cases import log_context
from pilar.log_format import configure as configure_logging
from pilar.settings import Settings
from pilar.store.faults import STORE_UNREACHABLE, check_reachable
from pilar.web import init_web
from pilar.web.errors import error_page

log = logging.getLogger("pilar.server")


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
    configure_logging(settings.log_format)
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
    # Before any other after_request, so that these two run last, on the final answer: the ETag
    # and 304 over the body as the view made it, then compression of whatever is still sent.
    init_compression(app)
    init_conditional(app)
    app.extensions["pilar"] = services
    init_api(app)
    init_web(app)
    init_metrics(app)
    app.register_error_handler(HTTPException, _outside_blueprints)
    app.after_request(_security_headers)
    app.before_request(_note_route)
    if settings.cors_origins:
        _open_cors(app, frozenset(settings.cors_origins))
    app.wsgi_app = _RequestIds(_WritesInTurn(
        _SizedBodies(KeptAnswers(app.wsgi_app, services), settings.max_body_bytes,
                     {UPLOAD_PATH: settings.import_max_bytes}),
        settings.writes_at_once, _outside_write_turn(app)))
    if settings.trusted_proxies:
        # Only then is X-Forwarded-Proto (and -For, -Host, -Port) believed, and only as many
        # hops as there are proxies; gunicorn itself trusts no forwarded header (pilar/gunicorn_conf.py).
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
            response.headers["Access-Control-Expose-Headers"] = "ETag, Idempotent-Replayed, Retry-After, X-Request-ID"
        return response


def _note_route() -> None:
    # The URL rule (`/api/v1/cases/<uuid:case_id>`), never the path: logs name no ids.
    log_context.note(route=request.url_rule.rule if request.url_rule else None)


class _RequestIds:
    """Every request gets an id: the client's `X-Request-ID` if well-formed, else a new one
    (pilar/cases/log_context.py). It is echoed in the answer's `X-Request-ID` and is on every log line
    written for the request; the same fields stay in the environ for gunicorn's access line."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ, start_response):
        rid = log_context.request_id(environ.get("HTTP_X_REQUEST_ID"))
        context = environ["pilar.log"] = {"request_id": rid, "user": None, "route": None}
        token = log_context.current.set(context)

        def with_id(status, headers, exc_info=None):
            headers = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
            return start_response(status, [*headers, ("X-Request-ID", rid)], exc_info)

        try:
            return self.app(environ, with_id)
        finally:
            log_context.current.reset(token)


def _outside_write_turn(app: Flask) -> frozenset[tuple[str, str]]:
    """(method, path) of each view marked `outside_write_turn` (the sign-ins, pilar/api/limits.py):
    checking a password takes ~0.1 s of a core, in the write turn it held every write of its worker
    back that long, and the few rows a sign-in writes take the store's own write turn anyway."""
    free = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for method in (rule.methods or set()) - _WritesInTurn.SAFE:
            handler = getattr(view.view_class, method.lower(), None) if hasattr(view, "view_class") else view
            if getattr(handler, "outside_write_turn", False):
                free.add((method, rule.rule))
    return frozenset(free)


class _WritesInTurn:
    """At most `most` write requests (any method but GET, HEAD and OPTIONS) at once in this process,
    the rest waiting their turn before any of their work; reads, CORS preflights and sign-ins (each
    (method, path) of `free`) pass freely. 0: no limit."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: Callable, most: int, free: frozenset[tuple[str, str]] = frozenset()):
        self.app = app
        self.turns = threading.BoundedSemaphore(most) if most else None
        self.free = free

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if self.turns is None or method in self.SAFE or (method, environ.get("PATH_INFO")) in self.free:
            return self.app(environ, start_response)
        with self.turns:
            return self.app(environ, start_response)


class _SizedBodies:
    """A chunked body is read here up to one byte past the limit and given its length: werkzeug
    would otherwise cut it at the limit without a word (its JSON then fails to parse: a 400), where
    a body over the limit is a 413 however it is sent."""

    def __init__(self, app: Callable, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.larger = larger or {}  # path -> its own limit (an import's upload)

    def __call__(self, environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            limit = self.larger.get(environ.get("PATH_INFO", ""), self.limit)
            body = environ["wsgi.input"].read(limit + 1)
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
    """Builds the app once per process (after gunicorn's fork). If the store cannot be reached
    then, the process still starts: it answers 503 (pilar/api/unavailable.py) and keeps trying in the
    background, longer between attempts up to RETRY_LONGEST seconds, until the app is built."""

    RETRY_FIRST, RETRY_LONGEST = 0.5, 5.0

    def __init__(self, factory: Callable, reachable: Callable[[], None] = lambda: None) -> None:
        self._factory = factory
        self._reachable = reachable  # raises one of STORE_UNREACHABLE if the store does not answer
        self._app = None
        self._pid = None
        self._lock = threading.Lock()
        self._waiting: tuple[int, Callable] | None = None  # (pid, the app answering 503 meanwhile)

    def build(self):
        with self._lock:
            if self._app is None or self._pid != os.getpid():
                self._app = self._factory()
                self._pid = os.getpid()
        return self._app

    def build_or_wait(self) -> None:
        """Build now; an unreachable store starts the background attempts instead of failing.
        Any other error (a bad setting, a missing key) still fails the start."""
        try:
            self._reachable()
            self.build()
        except STORE_UNREACHABLE as error:
            with self._lock:
                if self._waiting is not None and self._waiting[0] == os.getpid():
                    return
                self._waiting = (os.getpid(), unavailable_app(type(error).__name__))
            log.warning("the store is not reachable (%s: %s); answering 503 and retrying", type(error).__name__, error)
            threading.Thread(target=self._keep_trying, name="app-builder", daemon=True).start()

    def _keep_trying(self) -> None:
        delay = self.RETRY_FIRST
        while True:
            time.sleep(delay)
            delay = min(delay * 2, self.RETRY_LONGEST)
            try:
                self._reachable()
                self.build()
            except STORE_UNREACHABLE:
                continue
            except Exception:  # noqa: BLE001 - e.g. a key the store refuses: said, and tried again later
                log.exception("cannot build the application; answering 503 and retrying")
                delay = self.RETRY_LONGEST
                continue
            log.warning("the store is reachable: serving requests")
            return

    def __call__(self, environ, start_response):
        pid = os.getpid()
        if self._pid != pid:
            waiting = self._waiting
            if waiting is None or waiting[0] != pid:
                self.build_or_wait()
                waiting = self._waiting
            if self._pid != pid:
                return waiting[1](environ, start_response)
        return self._app(environ, start_response)


app = PerProcessApp(create_app, lambda: check_reachable(Settings.from_env().store))
