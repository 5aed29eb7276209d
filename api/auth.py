"""Sign-in: argon2-checked passwords exchanged for signed, expiring bearer tokens."""

import hashlib

from flask import current_app, g, request
from flask.views import MethodView
from api.blueprint import Blueprint
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.schemas import Problem, TokenAnswer, TokenRequest
from cases.access import Actor
from cases.errors import NotAuthenticated

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in")

PUBLIC_ENDPOINTS = {"auth.Token", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs_static.static",
                    "health.Healthz", "health.Readyz", "health.Metrics", "static"}


def token_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="pilar-api-token")


def _serializer() -> URLSafeTimedSerializer:
    return current_app.extensions["pilar_tokens"]


def _password_stamp(password_hash: str) -> str:
    # A changed password changes the stamp, which retires every token issued before.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenAnswer)
    @blp.alt_response(401, schema=Problem, description="Unknown user or wrong password")
    @blp.alt_response(422, schema=Problem, description="Missing or malformed fields")
    def post(self, credentials):
        """Exchange a username and password for a bearer token"""
        user = current_app.extensions["pilar"].authenticate(credentials["username"], credentials["password"])
        if user is None:
            raise NotAuthenticated("unknown user or wrong password")
        token = _serializer().dumps({"u": user.username, "p": _password_stamp(user.password_hash)})
        return {
            "token": token,
            "token_type": "Bearer",
            "expires_in": current_app.config["TOKEN_MAX_AGE"],
            "role": user.role,
            "pillar": user.pillar,
        }


def authenticate_request() -> None:
    """Runs before every request: resolves the bearer token to an Actor in g.actor."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send Authorization: Bearer <token> (get one from POST /api/v1/auth/token)")
    try:
        claims = _serializer().loads(token.strip(), max_age=current_app.config["TOKEN_MAX_AGE"])
    except SignatureExpired:
        raise NotAuthenticated("the token has expired; sign in again") from None
    except BadSignature:
        raise NotAuthenticated("the token is not valid") from None
    user = current_app.extensions["pilar"].user(claims.get("u", ""))
    if user is None or not user.active or claims.get("p") != _password_stamp(user.password_hash):
        raise NotAuthenticated("the token is no longer valid; sign in again")
    g.actor = Actor(user.username, user.role, user.pillar)


def current_actor() -> Actor:
    return g.actor
