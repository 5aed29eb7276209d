"""Sign-in: argon2-checked passwords exchanged for signed, expiring tokens, and a token turned
back into the Actor behind it. The API sends tokens as bearer headers; pages may keep one in a
cookie session. Either way, this is the one check."""

import hashlib
import time
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from cases.access import Actor
from cases.errors import NotAuthenticated

TOKEN_MAX_AGE = 12 * 3600


class Tokens:
    """Signs tokens and checks them. A checked token's claims are kept until it expires, so a
    client's next requests skip the signature work; revocation is still checked on every request
    (the password stamp and the account's state, in SignIn)."""

    KEPT = 10_000

    def __init__(self, secret_key: str, max_age: int = TOKEN_MAX_AGE):
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


def password_stamp(password_hash: str) -> str:
    # A changed password changes the stamp, which retires every token issued before.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class SignIn:
    def __init__(self, accounts: Any, tokens: Tokens):
        self.accounts = accounts  # the application service: authenticate() and user()
        self.tokens = tokens

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        user = self.accounts.authenticate(username, password)
        if user is None:
            raise NotAuthenticated("unknown user or wrong password")
        return {
            "token": self.tokens.issue({"u": user.username, "p": password_stamp(user.password_hash)}),
            "token_type": "Bearer",
            "expires_in": self.tokens.max_age,
            "role": user.role,
            "pillar": user.pillar,
            "kecamatan": list(user.kecamatan),
            "pii": user.reads_pii,
        }

    def actor(self, token: str) -> Actor:
        try:
            claims = self.tokens.claims(token)
        except SignatureExpired:
            raise NotAuthenticated("the token has expired; sign in again") from None
        except BadSignature:
            raise NotAuthenticated("the token is not valid") from None
        user = self.accounts.user(claims.get("u", ""))
        if user is None or not user.active or claims.get("p") != password_stamp(user.password_hash):
            raise NotAuthenticated("the token is no longer valid; sign in again")
        return Actor(user.username, user.role, user.pillar, user.kecamatan, user.reads_pii)
