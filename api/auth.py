"""Sign-in: argon2-checked passwords exchanged for signed, expiring bearer tokens."""

import hashlib
import time

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


class Tokens:
    """Signs tokens and checks them. A checked token's claims are kept until it expires, so a
    client's next requests skip the signature work; revocation is still checked on every request
    (the password stamp and the account's state, below)."""

    KEPT = 10_000

    def __init__(self, secret_key: str, max_age: int):
        self.serializer = URLSafeTimedSerializer(secret_key, salt="pilar-api-token")
        self.max_age = max_age
        self._checked: dict[str, tuple[dict, float]] = {}

    def issue(self, claims: dict) -> str:
        return self.serializer.dumps(claims)

    def claims(self, token: str) -> dict:
        kept = self._checked.get(token)
        if kept is not None and time.time() < kept[1]:
            return kept[0]
        claims, signed_at = self.serializer.loads(token, max_age=self.max_age, return_timestamp=True)
        if len(self._checked) >= self.KEPT:
            self._checked.clear()
        self._checked[token] = (claims, signed_at.timestamp() + self.max_age)
        return claims


def _tokens() -> Tokens:
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
        token = _tokens().issue({"u": user.username, "p": _password_stamp(user.password_hash)})
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
        claims = _tokens().claims(token.strip())
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
