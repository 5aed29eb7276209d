"""Sign-in: a username and password exchanged for a signed, expiring bearer token; sign-out
retires the token presented, on every worker and server (pilar/cases/signin.py)."""

import functools
import logging

from flask.views import MethodView

from pilar.api.blueprint import Blueprint, authenticate_request, bearer_token, current_actor, services
from pilar.api.compression import uncompressed
from pilar.api.documented import errors
from pilar.api.limits import signin_limits
from pilar.api.schemas import Problem, TokenAnswer, TokenRequest
from pilar.api.schemas.users import OwnPasswordIn
from pilar.api.security import security_event
from pilar.cases import log_context

PASSWORD_ERRORS = {400: "Malformed JSON", 401: "No valid bearer token", 413: "The body is too large",
                   422: "The current password is wrong, or the new one is too weak (see `errors`)"}

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out", bearer=False)


@blp.route("/token")
@uncompressed  # it carries a credential (pilar/api/compression.py)
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenAnswer)
    @blp.alt_response(401, schema=Problem, description="Unknown user or wrong password")
    @blp.alt_response(422, schema=Problem, description="Missing or malformed fields")
    @blp.alt_response(429, schema=Problem, description="Too many failed sign-ins for this user or from this "
                                                       "address (`limit`); `Retry-After` says when to try again")
    @blp.alt_response(503, schema=Problem, description="The store, or the rate limits' counters, cannot be reached")
    @signin_limits
    def post(self, credentials):
        """Exchange a username and password for a bearer token"""
        answer = services().signin.sign_in(credentials["username"], credentials["password"])
        log_context.note(user=credentials["username"])  # an account's name: the sign-in succeeded
        return answer

    @blp.response(204)
    @blp.alt_response(401, schema=Problem, description="No valid bearer token")
    def delete(self):
        """Sign out: the bearer token presented stops working (the same as POST /auth/sign-out)"""
        _sign_out()


@blp.route("/sign-out")
class SignOut(MethodView):
    @blp.response(204)
    @blp.alt_response(401, schema=Problem, description="No valid bearer token")
    def post(self):
        """Sign out: the bearer token presented stops working, on every server within seconds"""
        _sign_out()


def _signed_in(view):
    """Authenticates before the body is read: a caller without a valid token learns nothing of
    what the body should hold."""
    @functools.wraps(view)
    def checked(*args, **kwargs):
        authenticate_request()
        return view(*args, **kwargs)
    return checked


@blp.route("/password")
class OwnPassword(MethodView):
    decorators = [_signed_in]

    @blp.arguments(OwnPasswordIn)
    @blp.response(204)
    @errors(blp, PASSWORD_ERRORS, 400, 401, 413, 422)
    def post(self, body):
        """Change your own password, given the current one; every token of yours stops working"""
        services().cases.change_password(current_actor(), body["current_password"], body["password"])
        security_event("password_changed", level=logging.INFO)


def _sign_out() -> None:
    actor = services().signin.sign_out(bearer_token())
    security_event("signed_out", actor.username, level=logging.INFO)
