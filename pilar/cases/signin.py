"""Sign-in: argon2-checked passwords exchanged for signed, expiring tokens, and a token turned
back into the Actor behind it. The API sends tokens as bearer headers; pages may keep one in a
cookie session. Either way, this is the one check.

A token says who (`u`), which password and which generation of the account's sessions it was
issued under (`p`, the stamp: a new password, a revocation of all sessions or a deactivation
retires it) and its own id (`j`, by which it is signed out and its idle time kept: pilar/cases/sessions.py)."""

import hashlib
import secrets
import time
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pilar.cases.access import Actor
from pilar.cases.errors import NotAuthenticated
from pilar.cases.sessions import Sessions

TOKEN_MAX_AGE = 12 * 3600


class Tokens:
    """Signs tokens and checks them. A checked token's claims are kept until it expires, so a
    client's next requests skip the signature work; revocation is still checked on every request
    (the stamp and the account's state, and the token's session, in SignIn)."""

    KEPT = 10_000

    def __init__(self, secret_key: str, max_age: int = TOKEN_MAX_AGE):
        self.serializer = URLSafeTimedSerializer(secret_key, salt="pilar-api-token")
        self.max_age = max_age
        self._checked: dict[str, tuple[dict, float]] = {}

    def issue(self, claims: dict) -> str:
        return self.serializer.dumps(claims)

    def check(self, token: str) -> tuple[dict, float]:
        """The token's claims and when it expires (Unix time)."""
        kept = self._checked.get(token)
        if kept is not None and time.time() < kept[1]:
            return kept
        claims, signed_at = self.serializer.loads(token, max_age=self.max_age, return_timestamp=True)
        if len(self._checked) >= self.KEPT:
            self._checked.clear()
        kept = self._checked[token] = (claims, signed_at.timestamp() + self.max_age)
        return kept


def password_stamp(password_hash: str, session_epoch: int = 0) -> str:
    # A changed password, or a new generation of sessions, changes the stamp, which retires every
    # token issued before. Generation 0 stamps as tokens issued before generations existed did.
    stamped = password_hash if not session_epoch else f"{password_hash}|{session_epoch}"
    return hashlib.sha256(stamped.encode()).hexdigest()[:16]


def token_id(token: str, claims: dict) -> str:
    # Tokens issued before ids existed are known by a hash of themselves.
    return str(claims.get("j") or hashlib.sha256(token.encode()).hexdigest()[:32])


class SignIn:
    def __init__(self, accounts: Any, tokens: Tokens, sessions: Sessions):
        self.accounts = accounts  # the application service: authenticate() and user()
        self.tokens = tokens
        self.sessions = sessions

    def loggable_name(self, username: str) -> str | None:
        """`username` if it names an account, else None: a name typed at sign-in that is no
        account's may be a password typed in the wrong field, and is never logged."""
        return username if username and self.accounts.user(username) is not None else None

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        user = self.accounts.authenticate(username, password)
        if user is None:
            known = self.loggable_name(username)
            raise NotAuthenticated("unknown user or wrong password",
                                   event="sign_in_failed" if known else "sign_in_unknown_user", username=known)
        claims = {"u": user.username, "p": password_stamp(user.password_hash, user.session_epoch),
                  "j": secrets.token_urlsafe(12)}
        token = self.tokens.issue(claims)
        self.sessions.started(claims["j"], user.username, time.time() + self.tokens.max_age)
        return {
            "token": token,
            "token_type": "Bearer",
            "expires_in": self.tokens.max_age,
            "idle_timeout": self.sessions.idle_timeout or None,
            "role": user.role,
            "pillar": user.pillar,
            "pillars": list(user.pillars),
            "kecamatan": list(user.kecamatan),
            "pii": user.reads_pii,
        }

    def actor(self, token: str) -> Actor:
        claims, expires_at = self._claims(token)
        username = str(claims.get("u", ""))
        user = self.accounts.user(username)
        if user is None or not user.active:
            raise NotAuthenticated("the token is no longer valid; sign in again", event="token_of_inactive_user",
                                   username=username)
        if claims.get("p") != password_stamp(user.password_hash, user.session_epoch):
            raise NotAuthenticated("the token is no longer valid; sign in again", event="token_revoked",
                                   username=username)
        refusal = self.sessions.refusal(token_id(token, claims), username, expires_at)
        if refusal == "signed_out":
            raise NotAuthenticated("the token was signed out; sign in again", event="token_signed_out",
                                   username=username)
        if refusal == "idle":
            raise NotAuthenticated("the token was unused for too long; sign in again", event="token_idle",
                                   username=username)
        return user.actor()

    def sign_out(self, token: str) -> Actor:
        """Retire this token on every worker and server (the caller's other tokens stay valid)."""
        actor = self.actor(token)
        claims, expires_at = self._claims(token)
        self.sessions.end(token_id(token, claims), actor.username, expires_at)
        return actor

    def _claims(self, token: str) -> tuple[dict, float]:
        try:
            claims, expires_at = self.tokens.check(token)
        except SignatureExpired:
            raise NotAuthenticated("the token has expired; sign in again", event="token_expired") from None
        except BadSignature:
            raise NotAuthenticated("the token is not valid", event="token_invalid") from None
        if not isinstance(claims, dict):
            raise NotAuthenticated("the token is not valid", event="token_invalid")
        return claims, expires_at
