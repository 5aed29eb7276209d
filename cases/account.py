"""User accounts: event-sourced, so auditors can see who was given which role and when."""

from uuid import UUID

from cases.domain import PilarAggregate, stable_id

# Who reads personal data in clear unless an admin says otherwise: those who serve the person.
PII_BY_DEFAULT = ("worker", "supervisor")


def default_pii(role: str) -> bool:
    return role in PII_BY_DEFAULT


class UserAccount(PilarAggregate):
    # Accounts added before scopes existed serve every kecamatan of their pillar, and read
    # personal data as their role does by default.
    kecamatan: tuple[str, ...] = ()
    pii: bool | None = None
    # Counts the times every session was ended (SessionsRevoked, UserDeactivated): a token
    # carries it in its stamp (cases/signin.py), so a token issued before no longer holds.
    session_epoch: int = 0

    class UserAdded(PilarAggregate.Created):
        # Version 2 names kecamatan and pii on every event. Version 1 (stored without a class_version)
        # had neither before scopes existed: upcast_v1_v2 reads it as every kecamatan and the role's
        # default. How to change an event's shape: docs/operations.md, Upgrades.
        class_version = 2

        username: str
        role: str
        pillar: str | None
        password_hash: str
        kecamatan: list[str]  # kecamatan codes the user serves; empty: all of them
        pii: bool | None  # reads NIK, KK, phone and address in clear; None: default_pii(role)

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.setdefault("kecamatan", [])
            state.setdefault("pii", None)

        def apply(self, user: "UserAccount") -> None:
            user.username = self.username
            user.role = self.role
            user.pillar = self.pillar
            user.password_hash = self.password_hash
            user.active = True
            user.kecamatan = tuple(self.kecamatan or ())
            user.pii = self.pii

    class PasswordChanged(PilarAggregate.Event):
        password_hash: str

        def apply(self, user: "UserAccount") -> None:
            user.password_hash = self.password_hash

    class UserDeactivated(PilarAggregate.Event):
        def apply(self, user: "UserAccount") -> None:
            user.active = False
            user.session_epoch += 1  # a reactivated account's old tokens stay retired

    class UserReactivated(PilarAggregate.Event):
        def apply(self, user: "UserAccount") -> None:
            user.active = True

    class RoleChanged(PilarAggregate.Event):
        role: str
        pillar: str | None

        def apply(self, user: "UserAccount") -> None:
            user.role = self.role
            user.pillar = self.pillar

    class ScopeChanged(PilarAggregate.Event):
        kecamatan: list[str]  # empty: every kecamatan

        def apply(self, user: "UserAccount") -> None:
            user.kecamatan = tuple(self.kecamatan)

    class PiiAccessChanged(PilarAggregate.Event):
        pii: bool | None  # None: as the role does by default

        def apply(self, user: "UserAccount") -> None:
            user.pii = self.pii

    class SessionsRevoked(PilarAggregate.Event):
        def apply(self, user: "UserAccount") -> None:
            user.session_epoch += 1

    @property
    def reads_pii(self) -> bool:
        return default_pii(self.role) if self.pii is None else self.pii

    @staticmethod
    def id_for(username: str) -> UUID:
        return stable_id("user", username)

    @classmethod
    def add(cls, *, actor: str, username: str, role: str, pillar: str | None, password_hash: str,
            kecamatan: tuple[str, ...] = (), pii: bool | None = None) -> "UserAccount":
        return cls._create(
            cls.UserAdded,
            id=cls.id_for(username),
            actor=actor,
            username=username,
            role=role,
            pillar=pillar,
            password_hash=password_hash,
            kecamatan=list(kecamatan),
            pii=pii,
        )

    def change_password(self, *, actor: str, password_hash: str) -> None:
        self.trigger_event(self.PasswordChanged, actor=actor, password_hash=password_hash)

    def deactivate(self, *, actor: str) -> None:
        self.trigger_event(self.UserDeactivated, actor=actor)

    def reactivate(self, *, actor: str) -> None:
        self.trigger_event(self.UserReactivated, actor=actor)

    def change_role(self, *, actor: str, role: str, pillar: str | None) -> None:
        self.trigger_event(self.RoleChanged, actor=actor, role=role, pillar=pillar)

    def change_scope(self, *, actor: str, kecamatan: tuple[str, ...]) -> None:
        self.trigger_event(self.ScopeChanged, actor=actor, kecamatan=list(kecamatan))

    def change_pii(self, *, actor: str, pii: bool | None) -> None:
        self.trigger_event(self.PiiAccessChanged, actor=actor, pii=pii)

    def revoke_sessions(self, *, actor: str) -> None:
        self.trigger_event(self.SessionsRevoked, actor=actor)
