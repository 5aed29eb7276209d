"""Rate limits (Flask-Limiter over the store's own counters, pilar/store/rate_limits.py): failed sign-ins
per username and per client address, NIK look-ups per user. Every worker and server on a store
counts in the same table; PILAR_RATE_LIMIT_STORAGE may name a Redis instead.

When the counters cannot be read or written (the store is down, or `pilar db init` has not made
their table yet), sign-in fails closed (503: unthrottled password guessing is what the limit is
for, and sign-in needs the same store anyway) and look-ups fail open (an authenticated, logged
read that field work depends on). Either way it is logged, and never a 500."""

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from functools import partial, wraps
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RequestLimit
from werkzeug.exceptions import ServiceUnavailable

from pilar.api.errors import error_response
from pilar.api.metrics import RATE_LIMITED
from pilar.api.security import security_event
from pilar.store.connection import Readers
from pilar.store.rate_limits import StoreRateLimits

if TYPE_CHECKING:
    from pilar.settings import Settings


LIMITED = {
    "signin_user": ("signin_limit_user", "Too many failed sign-ins for this user"),
    "signin_address": ("signin_limit_address", "Too many failed sign-ins from this address"),
    "lookup": ("lookup_limit", "Too many look-ups by NIK or KK"),
}


class AppStoreLimits(StoreRateLimits):
    """The counters in the store of the app serving the request (tests run several apps in one
    process); a failure is noted for the request, so that sign-in can fail closed."""

    STORAGE_SCHEME = ["pilar"]

    @property
    def readers(self):
        return current_app.extensions["pilar"].readers

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._noting_failure(super().incr, key, expiry, amount)

    def get(self, key: str) -> int:
        return self._noting_failure(super().get, key)

    def get_expiry(self, key: str) -> float:
        return self._noting_failure(super().get_expiry, key)

    def _noting_failure(self, method: Callable, *args):
        try:
            return method(*args)
        except self.base_exceptions as exc:
            g.rate_limits_down = True
            security_event("rate_limit_store_unavailable", error=type(exc).__name__)
            raise


# Storage errors are swallowed (logged by Flask-Limiter, too): a look-up goes on, a sign-in is
# refused by `_closed_when_down`. The limits themselves are read from the app's settings.
limiter = Limiter(key_func=lambda: f"address:{request.remote_addr}", swallow_errors=True, strategy="fixed-window",
                  headers_enabled=False)


def init_limits(app: Flask) -> None:
    settings = app.extensions["pilar"].settings
    app.config["RATELIMIT_STORAGE_URI"] = settings.rate_limit_storage or "pilar://"
    limiter.init_app(app)
    # Only the views decorated below are limited, and each decorator checks its own limits. The
    # check Flask-Limiter also runs before every request (for default and application limits,
    # which Pilar has none of) cost ~15% of a workload GET; every other request skips it.
    before = app.before_request_funcs.setdefault(None, [])
    before[:] = [hook for hook in before if hook != limiter._check_request_limit]


def user_key(secret: str, username: str) -> str:
    """The counters' key for a username: keyed, so that a password typed into the username field
    is never stored (`pilar limits reset --user` computes the same)."""
    digest = hmac.new(secret.encode(), f"pilar-rate-limit|{username}".encode(), hashlib.sha256).hexdigest()
    return f"user:{digest[:32]}"


def address_key(address: str) -> str:
    return f"address:{address}"


def reset_counters(settings: "Settings", *, username: str | None = None, address: str | None = None) -> int:
    """Forget the counters of a user (sign-ins and look-ups) and of an address, or with neither
    every counter (`pilar limits reset`); how many. `limits` keys a counter
    `LIMITER/<key>/<endpoint>/<amount>/<multiples>/<unit>`."""
    if settings.rate_limit_storage:
        raise RuntimeError("the counters are in PILAR_RATE_LIMIT_STORAGE, not the store: clear them there")
    keys = ([user_key(settings.token_secret(), username)] if username else []) + (
        [address_key(address)] if address else [])
    readers = Readers(settings.store)
    try:
        storage = StoreRateLimits(readers=readers)
        return sum(storage.clear_prefix(f"LIMITER/{key}/" if key else "") for key in keys or [""])
    finally:
        readers.close()


def _signin_username() -> str:
    """The username a sign-in names: in the API's JSON body, or the sign-in page's form."""
    body = request.get_json(silent=True) if request.is_json else request.form
    name = body.get("username") if isinstance(body, dict) else None
    return name if isinstance(name, str) else ""


def _signin_user() -> str:
    return user_key(current_app.config["SECRET_KEY"], _signin_username())


def _actor_user() -> str:
    return user_key(current_app.config["SECRET_KEY"], g.actor.username)


def _setting(name: str) -> Callable[[], str]:
    return lambda: getattr(current_app.extensions["pilar"].settings, LIMITED[name][0])


# How a refusal is answered: (status, message, headers, the limit's name or None) -> Response.
# The API answers in its JSON shape; pages (pilar/web/) pass one that renders an HTML page.
Refusal = Callable[[int, str, dict[str, str], str | None], Response]


def json_refusal(code: int, message: str, headers: dict[str, str], name: str | None) -> Response:
    return error_response(code, message, headers, **({"limit": name} if name else {}))


def _breached(name: str, refusal: Refusal, limit: RequestLimit) -> Response:
    """The 429 naming the limit, with Retry-After; and a security event."""
    try:
        retry = max(1, math.ceil(limit.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - the counters failed just now: the whole window, then
        retry = limit.limit.get_expiry()
    security_event("rate_limited", _known_user(name), limit=name)
    RATE_LIMITED.labels(name).inc()
    message = f"{LIMITED[name][1]} (at most {limit.limit}): try again in {retry} s."
    return refusal(429, message, {"Retry-After": str(retry)}, name)


def _known_user(name: str) -> str | None:
    """Who was limited: the signed-in user, or a sign-in's username if it names an account
    (SignIn.loggable_name)."""
    if name == "lookup":
        return g.actor.username
    try:
        return current_app.extensions["pilar"].signin.loggable_name(_signin_username())
    except Exception:  # noqa: BLE001 - the log line goes without the name
        return None


class RateLimitsUnavailable(ServiceUnavailable):
    def __init__(self, refusal: Refusal = json_refusal):
        super().__init__(response=refusal(
            503, "Sign-in is unavailable while its rate limits cannot be checked; retry shortly.",
            {"Retry-After": "5"}, None))


def _closed_when_down(view: Callable, refusal: Refusal) -> Callable:
    @wraps(view)
    def checked(*args, **kwargs):
        if g.get("rate_limits_down"):
            raise RateLimitsUnavailable(refusal)
        return view(*args, **kwargs)

    return checked


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _limit(name: str, key: Callable[[], str], refusal: Refusal, **options) -> Callable[[Callable], Callable]:
    # Shared by name, not per view: the API's sign-in and the sign-in page count together.
    return limiter.shared_limit(_setting(name), scope=name, key_func=key, on_breach=partial(_breached, name, refusal),
                                **options)


def signin_limits(view: Callable, refusal: Refusal = json_refusal) -> Callable:
    """Failed sign-ins (answered 401) per username and per client address; successes never count.
    Only the innermost of Flask-Limiter's wrappers checks, and it checks both. The API's sign-in
    and the sign-in page share the counters."""
    view = _limit("signin_address", lambda: address_key(request.remote_addr), refusal, deduct_when=_failed)(
        _closed_when_down(view, refusal))
    limited = _limit("signin_user", _signin_user, refusal, deduct_when=_failed)(view)
    limited.outside_write_turn = True  # its password check takes ~0.1 s of a core and no store lock (pilar/wsgi.py)
    return limited


def lookup_limits(view: Callable, refusal: Refusal = json_refusal) -> Callable:
    """Look-ups per signed-in user, whatever they answer."""
    return _limit("lookup", _actor_user, refusal)(view)
