"""Answers read from the views, kept per reader in each worker and sent again until the views move.

Through Flask (routing, webargs, flask-smorest, the query, the dump, compression, ETag, security
headers, metrics), a workload GET took 2.5 times the CPU of a hello-world Flask endpoint and a case
list 6 times (docs/performance.md), yet between two moves of the views the same reader asking the
same thing gets the same bytes. A view whose 200 answer is made of nothing but the request's path
and query, the reader (as the policy sees them) and the views (as `Freshness` names them) on a day
in Jakarta calls `keep`; its whole final answer (status, headers, body) is then kept under a key of
everything it was made from:

- the path and the query string, as sent;
- the reader, as their token resolves on *this* request (`SignIn.actor`: expiry, sign-out, idle
  time, a new password, deactivation, a changed role or scope apply as on any request); the whole
  Actor, so an answer is never sent to another reader, whatever their scope or masking;
- the request headers that shape the answer's headers: Accept-Encoding (compression), Origin
  (CORS), the scheme (HSTS);

and it is sent again only while the views stand where they stood when it was read (position,
tracking time, and the store's head, which the answer's `lag` shows) on the same day in Jakarta
(overdue, this month). Anything else goes to Flask and is answered as always: another method, a
conditional or ranged request, a body, no bearer token, a token that does not resolve (Flask
answers its 401 and logs the security event). A kept answer's request is counted in the metrics
under its route and carries the reader and route into the access log, as Flask's would.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import g, request

from pilar.api.metrics import observe
from pilar.cases import clock, log_context
from pilar.cases.access import Actor
from pilar.projections.service import Freshness

KEPT_AT = "pilar.kept_at"  # where `keep` leaves the views' state the answer was read at, and the reader
# Requests whose answer is not the plain 200 (304, 412, 206) or that carry a body: Flask's.
_TO_FLASK = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
             "HTTP_RANGE", "HTTP_IF_RANGE", "HTTP_TRANSFER_ENCODING")
LARGEST = 256 * 1024  # a larger answer (a long page of cases) is read afresh each time
KEPT_BYTES = 16 * 1024 * 1024  # per worker; all are dropped when more would be kept


def keep(fresh: Freshness) -> None:
    """Called by a view: its 200 answer may be kept, being made only of the path, the query, the
    reader (whom the blueprint authenticated) and the views at `fresh` on today's date in Jakarta."""
    request.environ[KEPT_AT] = (_state(fresh), g.actor)


def _state(fresh: Freshness) -> tuple:
    return fresh.position, fresh.written_at, fresh.head


@dataclass(frozen=True)
class Kept:
    state: tuple
    day: date
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    route: str


class KeptAnswers:
    """WSGI middleware around the Flask app (inside ProxyFix and the request ids)."""

    def __init__(self, app: Callable, services: Any):
        self.app = app
        self.signin = services.signin
        self.views = services.views
        self._kept: dict[tuple, Kept] = {}
        self._paths: set[str] = set()  # the paths some answer is kept for: other requests skip the look-up
        self._bytes = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        today = clock.today_in_jakarta()
        if environ.get("PATH_INFO") in self._paths and _plain(environ):
            actor = self._actor(environ)
            kept = self._kept.get(_key(environ, actor)) if actor is not None else None
            if kept is not None and kept.day == today and kept.state == self._views_state():
                log_context.note(user=actor.username, route=kept.route)
                start_response(kept.status, list(kept.headers))
                observe("GET", kept.route, 200, started)
                return [kept.body]
        return self._read(environ, start_response, today)

    def _views_state(self) -> tuple | None:
        try:
            return _state(self.views.freshness())
        except Exception:  # noqa: BLE001 - a store that does not answer is Flask's to answer (503)
            return None

    def _actor(self, environ: dict) -> Actor | None:
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return self.signin.actor(token.strip())
        except Exception:  # noqa: BLE001 - any refusal or failure is Flask's to answer, and to log
            return None

    def _read(self, environ: dict, start_response: Callable, today: date) -> Iterable[bytes]:
        """Flask answers; a kept view's plain 200 answer is kept for the reader Flask authenticated."""
        answered: list = []

        def noted(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.app(environ, noted)
        kept_at = environ.get(KEPT_AT)
        if kept_at is None or not answered or not answered[0].startswith("200 ") or not _plain(environ):
            return body
        try:
            whole = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        route = log_context.fields().get("route")
        state, actor = kept_at
        if route and len(whole) <= LARGEST and clock.today_in_jakarta() == today:
            self._store(_key(environ, actor), Kept(state, today, answered[0], tuple(answered[1]), whole, route))
        return [whole]

    def _store(self, key: tuple, kept: Kept) -> None:
        with self._lock:
            if self._bytes + len(kept.body) > KEPT_BYTES:
                self._kept.clear()
                self._paths.clear()
                self._bytes = 0
            previous = self._kept.get(key)
            self._bytes += len(kept.body) - (len(previous.body) if previous else 0)
            self._kept[key] = kept
            self._paths.add(key[0])


def _plain(environ: dict) -> bool:
    """A GET without a body, a condition or a range: its answer is the view's plain 200."""
    return (environ.get("REQUEST_METHOD") == "GET" and not any(name in environ for name in _TO_FLASK)
            and environ.get("CONTENT_LENGTH") in (None, "", "0"))


def _key(environ: dict, actor: Actor) -> tuple:
    """Everything a kept answer is made from but the views and the day (pilar/api/kept_answers.py)."""
    return (environ.get("PATH_INFO"), actor, environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT_ENCODING"),
            environ.get("HTTP_ORIGIN"), environ.get("wsgi.url_scheme"))
