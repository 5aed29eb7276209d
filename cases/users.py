"""User accounts and sign-in checks, mixed into PilarApplication."""

import time
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from cases import policy, vocab
from cases.access import Actor
from cases.account import UserAccount
from cases.errors import NotFound, RuleBroken
from cases.inputs import Problems
from cases.passwords import hash_password, verify_password

USER_CACHE_SECONDS = 5.0
PASSWORD_MIN = 10


def _check_password(problems: Problems, password: str) -> None:
    if len(password) < PASSWORD_MIN:
        problems.add("password", f"must be at least {PASSWORD_MIN} characters")


class UserCommands:
    _user_cache: dict[str, tuple[float, UserAccount | None]]

    def add_user(self, actor: Actor, username: str, role: str, pillar: str | None, password: str, *,
                 kecamatan: tuple[str, ...] = (), pii: bool | None = None) -> UUID:
        policy.require(policy.manage_users(actor))
        problems = Problems()
        if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
            problems.add("username", "use 1–64 letters, digits, '.', '_' or '-'")
        problems.choice("role", role, vocab.ROLES)
        if pillar is not None:
            problems.choice("pillar", pillar, vocab.PILLARS)
        elif role == "worker":
            problems.add("pillar", "a worker belongs to exactly one pillar")
        self._check_kecamatan(problems, kecamatan)
        _check_password(problems, password)
        problems.check()
        user = UserAccount.add(actor=actor.username, username=username, role=role, pillar=pillar,
                               password_hash=hash_password(password), kecamatan=tuple(kecamatan), pii=pii)
        try:
            self.save(user)
        except IntegrityError:
            raise RuleBroken("username_unique", f"user {username!r} already exists") from None
        return user.id

    def change_password(self, actor: Actor, username: str, password: str) -> None:
        policy.require(policy.change_password(actor, username))
        problems = Problems()
        _check_password(problems, password)
        problems.check()
        user = self._existing_user(username)
        user.change_password(actor=actor.username, password_hash=hash_password(password))
        self.save(user)
        self._user_cache.pop(username, None)

    def deactivate_user(self, actor: Actor, username: str) -> None:
        policy.require(policy.manage_users(actor))
        user = self._existing_user(username)
        if not user.active:
            raise RuleBroken("deactivate_once", f"user {username!r} is already deactivated")
        user.deactivate(actor=actor.username)
        self.save(user)
        self._user_cache.pop(username, None)

    def authenticate(self, username: str, password: str) -> UserAccount | None:
        user = self._user(username)
        if user is None or not user.active:
            # Spend the same effort for unknown users, so timing does not reveal who exists.
            verify_password(_DUMMY_HASH, password)
            return None
        return user if verify_password(user.password_hash, password) else None

    def user(self, username: str) -> UserAccount | None:
        """The account behind a bearer token, re-read at most every USER_CACHE_SECONDS: a changed
        role, password or deactivation reaches every worker within that time."""
        now = time.monotonic()
        cached = self._user_cache.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = self._user(username)
        if len(self._user_cache) > 10_000:
            self._user_cache.clear()
        self._user_cache[username] = (now + USER_CACHE_SECONDS, user)
        return user

    def _check_kecamatan(self, problems: Problems, kecamatan: tuple[str, ...]) -> None:
        unknown = [code for code in kecamatan if not self.wilayah.is_kecamatan(code)]
        if unknown:
            problems.add("kecamatan", f"not a kecamatan of {self.wilayah.regency.name}: {', '.join(unknown)}")
        elif len(set(kecamatan)) != len(kecamatan):
            problems.add("kecamatan", "names a kecamatan twice")

    def has_users(self) -> bool:
        return self.recorder.max_notification_id() not in (None, 0)

    def _existing_user(self, username: str) -> UserAccount:
        user = self._user(username)
        if user is None:
            raise NotFound("user", username)
        return user

    def _user(self, username: str) -> UserAccount | None:
        try:
            return self.repository.get(UserAccount.id_for(username))
        except AggregateNotFoundError:
            return None


_DUMMY_HASH = hash_password("pilar-timing-equaliser")
