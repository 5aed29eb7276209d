"""The Flask app, composed at the top: the API's blueprints (api/) over the services from the
composition root (bootstrap.py). Pages for people will sit beside the API as sibling blueprints
with cookie sessions and HTML errors; the API's bearer auth and JSON errors are scoped to it.

gunicorn entry: `gunicorn -c gunicorn.conf.py wsgi:app`. The app (and its store connections) is
built inside each worker after the fork, never in the master: connection pools and SQLite
handles must not be shared across processes.
"""

import os
import threading
from collections.abc import Callable
from html import escape

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, InternalServerError

from api import init_api, is_api_request
from api.errors import http_error
from api.metrics import init_metrics
from bootstrap import Services, bootstrap


class PageSessions(SecureCookieSessionInterface):
    """Cookie sessions for pages only. The API signs in with bearer tokens, so its requests open
    no session (opening one costs a signer per request on the write path)."""

    def open_session(self, app, request):
        if is_api_request(request.path):
            return None  # Flask then uses its null session
        return super().open_session(app, request)


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
    init_metrics(app)
    app.register_error_handler(HTTPException, _outside_blueprints)
    return app


def _outside_blueprints(exc: HTTPException):
    """Errors no blueprint answered (an unknown URL, a method not allowed): JSON for API paths,
    a plain page otherwise."""
    if is_api_request(request.path):
        return http_error(exc)
    code = exc.code or InternalServerError.code
    page = f"<!doctype html><title>{code}</title><h1>{code} {escape(exc.name)}</h1><p>{escape(exc.description or '')}</p>"
    return Response(page, status=code, mimetype="text/html")


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
