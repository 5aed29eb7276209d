"""User accounts and sign-in checks, mixed into PilarApplication. Every change is an event on the
account naming the real actor (an admin signed in to the API, or the OS user of the CLI)."""

import time
from collections.abc import Callable, Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from pilar.cases import policy, vocab
from pilar.cases.access import Actor, pillar_scope
from pilar.cases.account import AdminRoster, UserAccount
from pilar.cases.errors import Contention, InvalidInput, NotFound, RuleBroken, StaleVersion
from pilar.cases.inputs import Problems
from pilar.cases.passwords import hash_password, password_problem, verify_password

USER_CACHE_SECONDS = 5.0
USERNAME_MAX = 64
CHANGE_ATTEMPTS = 4
# Every account is found by its creation event; `pilar db init` indexes those (a handful of rows).
ACCOUNT_INDEX = ("pilar_user_accounts", get_topic(UserAccount.UserAdded))


def _valid_username(username: str) -> bool:
    return (0 < len(username) <= USERNAME_MAX
            and username.replace("_", "").replace(".", "").replace("-", "").isalnum())


def _check_password(problems: Problems, password: str, username: str) -> None:
    if problem := password_problem(password, username):
        problems.add("password", problem)


def _check_role(problems: Problems, role: str, pillars: tuple[str, ...]) -> None:
    """A worker serves exactly one pillar; a coordinator one, several, or none (every pillar:
    Dinas Sosial); auditors and admins belong to no pillar. One pillar is given as `pillar`,
    several as `pillars` (the API's fields): the problem names the field the caller used."""
    problems.choice("role", role, vocab.ROLES)
    field = "pillars" if len(pillars) > 1 else "pillar"
    unknown = [pillar for pillar in pillars if pillar not in vocab.PILLARS]
    if unknown:
        problems.add(field, f"not a pillar: {', '.join(unknown)}; one of {', '.join(vocab.PILLARS)}")
    elif role == "worker" and len(pillars) != 1:
        problems.add(field, "a worker belongs to exactly one pillar")
    elif role in ("auditor", "admin") and pillars:
        problems.add(field, f"an {role} belongs to no pillar")


class UserCommands:
    _user_cache: dict[str, tuple[float, UserAccount | None]]

    def add_user(self, actor: Actor, username: str, role: str, pillars: str | Sequence[str] | None, password: str,
                 *, kecamatan: tuple[str, ...] = (), pii: bool | None = None) -> UUID:
        """`pillars`: one pillar, several (coordinators only), or None for every pillar."""
        policy.require(policy.manage_users(actor))
        pillars = pillar_scope(pillars)
        problems = Problems()
        if not _valid_username(username):
            problems.add("username", f"use 1–{USERNAME_MAX} letters, digits, '.', '_' or '-'")
        _check_role(problems, role, pillars)
        self._check_kecamatan(problems, kecamatan)
        _check_password(problems, password, username)
        problems.check()
        user = UserAccount.add(actor=actor.username, username=username, role=role, pillars=pillars,
                               password_hash=hash_password(password), kecamatan=tuple(kecamatan), pii=pii)
        try:
            self.save(user)
        except IntegrityError:
            raise RuleBroken("username_unique", f"user {username!r} already exists") from None
        return user.id

    def reset_password(self, actor: Actor, username: str, password: str, *,
                       expected_version: int | None = None) -> UserAccount:
        """An admin sets a user's password; every token issued before stops working (the token's
        stamp is the password's)."""
        self._require_manager(actor)
        return self._set_password(actor, username, password, expected_version)

    def change_password(self, actor: Actor, current_password: str, password: str) -> UserAccount:
        """A user's own new password, given the current one (a stolen token alone cannot take the
        account over); every token issued before, this one too, stops working."""
        policy.require(policy.change_password(actor, actor.username))
        user = self._existing_user(actor.username)
        if not verify_password(user.password_hash, current_password):
            raise InvalidInput.one("current_password", "is not your current password")
        return self._set_password(actor, actor.username, password)

    def _set_password(self, actor: Actor, username: str, password: str,
                      expected_version: int | None = None) -> UserAccount:
        problems = Problems()
        _check_password(problems, password, username)
        problems.check()
        return self._change(actor, username, lambda user: user.change_password(
            actor=actor.username, password_hash=hash_password(password)), managing=False,
            expected_version=expected_version)

    def change_role(self, actor: Actor, username: str, role: str, pillars: str | Sequence[str] | None, *,
                    expected_version: int | None = None) -> UserAccount:
        pillars = pillar_scope(pillars)
        problems = Problems()
        _check_role(problems, role, pillars)
        self._require_manager(actor)
        problems.check()

        def change(user: UserAccount) -> list[AdminRoster]:
            if (user.role, user.pillars) == (role, pillars):
                return []
            roster = self._keep_an_admin(actor, user, "change the role of") if role != "admin" else []
            user.change_role(actor=actor.username, role=role, pillars=pillars)
            return roster

        return self._change(actor, username, change, expected_version=expected_version)

    def change_scope(self, actor: Actor, username: str, kecamatan: tuple[str, ...], *,
                     expected_version: int | None = None) -> UserAccount:
        problems = Problems()
        self._check_kecamatan(problems, kecamatan)
        self._require_manager(actor)
        problems.check()
        def change(user: UserAccount) -> None:
            if user.kecamatan != tuple(kecamatan):
                user.change_scope(actor=actor.username, kecamatan=tuple(kecamatan))

        return self._change(actor, username, change, expected_version=expected_version)

    def set_pii(self, actor: Actor, username: str, pii: bool | None, *,
                expected_version: int | None = None) -> UserAccount:
        """Whether the user reads NIK, KK, phone and address in clear; None: as their role does."""
        def change(user: UserAccount) -> None:
            if user.pii is not pii:
                user.change_pii(actor=actor.username, pii=pii)

        return self._change(actor, username, change, expected_version=expected_version)

    def deactivate_user(self, actor: Actor, username: str, *, expected_version: int | None = None) -> UserAccount:
        def deactivate(user: UserAccount) -> list[AdminRoster]:
            if not user.active:
                raise RuleBroken("deactivate_once", f"user {username!r} is already deactivated")
            roster = self._keep_an_admin(actor, user, "deactivate")
            user.deactivate(actor=actor.username)
            return roster

        return self._change(actor, username, deactivate, expected_version=expected_version)

    def reactivate_user(self, actor: Actor, username: str, *, expected_version: int | None = None) -> UserAccount:
        def reactivate(user: UserAccount) -> None:
            if user.active:
                raise RuleBroken("reactivate_inactive_only", f"user {username!r} is active")
            user.reactivate(actor=actor.username)

        return self._change(actor, username, reactivate, expected_version=expected_version)

    def revoke_sessions(self, actor: Actor, username: str, *, expected_version: int | None = None) -> UserAccount:
        """Every token issued to the user so far stops working; they may sign in again."""
        return self._change(actor, username, lambda user: user.revoke_sessions(actor=actor.username),
                            expected_version=expected_version)

    def get_user(self, actor: Actor, username: str) -> UserAccount:
        self._require_manager(actor)
        return self._existing_user(username)

    def list_users(self, actor: Actor) -> list[UserAccount]:
        self._require_manager(actor)
        accounts = (self.repository.get(uid) for uid in self.streams.originators(ACCOUNT_INDEX[1]))
        return sorted(accounts, key=lambda user: user.username)

    def authenticate(self, username: str, password: str) -> UserAccount | None:
        user = self._user(username)
        if user is None or not user.active:
            # Spend the same effort for unknown users, so timing does not reveal who exists.
            verify_password(_DUMMY_HASH, password)
            return None
        return user if verify_password(user.password_hash, password) else None

    def user(self, username: str) -> UserAccount | None:
        """The account behind a bearer token, re-read at most every USER_CACHE_SECONDS: a changed
        role, scope, password, revocation or deactivation reaches every worker within that time."""
        now = time.monotonic()
        cached = self._user_cache.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = self._user(username)
        if len(self._user_cache) > 10_000:
            self._user_cache.clear()
        self._user_cache[username] = (now + USER_CACHE_SECONDS, user)
        return user

    def _require_manager(self, actor: Actor) -> None:
        policy.require(policy.manage_users(actor))

    def _change(self, actor: Actor, username: str, change: Callable[[UserAccount], list[AdminRoster] | None], *,
                managing: bool = True, expected_version: int | None = None) -> UserAccount:
        """Load the account, apply `change` (which may trigger events, raise RuleBroken, and answer
        other aggregates to save with it, atomically), save; if another change was saved
        meanwhile, decide again on fresh state. `expected_version`: the version a form was shown
        at; changed since → StaleVersion, nothing written (a page's stale form or second submit)."""
        if managing:
            self._require_manager(actor)
        for _ in range(CHANGE_ATTEMPTS):
            user = self._existing_user(username)
            if expected_version is not None and user.version != expected_version:
                raise StaleVersion(expected_version, user.version)
            companions = change(user) or []
            try:
                if user.pending_events:
                    self.save(user, *companions)
            except IntegrityError:
                continue
            finally:
                self._user_cache.pop(username, None)
            return user
        raise Contention(f"the account {username!r} kept changing under this request; retry it")

    def _keep_an_admin(self, actor: Actor, user: UserAccount, what: str) -> list[AdminRoster]:
        """An admin may not lock themselves out, nor leave the store without an active admin.
        Removing an active admin answers the admin roster to save with the change (AdminRoster)."""
        if user.username == actor.username:
            raise RuleBroken("not_yourself", f"you cannot {what} yourself: ask another admin")
        if user.role != "admin" or not user.active:
            return []
        roster = self._admin_roster(actor)  # read before the accounts: a removal saved after it conflicts
        if not any(other.role == "admin" and other.active and other.username != user.username
                   for other in self.list_users(actor)):
            raise RuleBroken("last_admin", f"cannot {what} the last active admin")
        roster.admin_removed(actor=actor.username, username=user.username)
        return [roster]

    def _admin_roster(self, actor: Actor) -> AdminRoster:
        try:
            return self.repository.get(AdminRoster.id_for())
        except AggregateNotFoundError:
            return AdminRoster.start(actor=actor.username)

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
        if not _valid_username(username):
            return None  # no such account could exist
        try:
            return self.repository.get(UserAccount.id_for(username))
        except AggregateNotFoundError:
            return None


# What an unknown user's password is checked against, so that signing in as nobody costs what signing
# in as someone costs: "pilar-timing-equaliser" hashed at the hasher's parameters, written out so that
# no process (each worker, each `pilar` command) spends a full argon2 hash on it as it starts.
# tests/test_accounts.py checks that it has the hasher's parameters.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$ezC1hLI0hHatOTvS9Wr9FA$lT9pssVbPLwzm/ZvyfbIiT+uiBG8aGrSSQJkLB1AotY"
