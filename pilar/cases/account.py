"""User accounts: event-sourced, so auditors can see who was given which role and when."""

from uuid import UUID

from pilar.cases.access import Actor, pillar_scope
from pilar.cases.domain import PilarAggregate, stable_id

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
    # carries it in its stamp (pilar/cases/signin.py), so a token issued before no longer holds.
    session_epoch: int = 0
    # A coordinator of several pillars has them here and no `pillar` (events before this existed
    # name one pillar or none).
    several_pillars: tuple[str, ...] = ()

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
        pillars: list[str] | None = None  # a coordinator's several pillars (then pillar is None)

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.setdefault("kecamatan", [])
            state.setdefault("pii", None)

        def apply(self, user: "UserAccount") -> None:
            user.username = self.username
            user.role = self.role
            user.pillar = self.pillar
            user.several_pillars = tuple(self.pillars or ())
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
        pillars: list[str] | None = None

        def apply(self, user: "UserAccount") -> None:
            user.role = self.role
            user.pillar = self.pillar
            user.several_pillars = tuple(self.pillars or ())

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

    @property
    def pillars(self) -> tuple[str, ...]:
        """Every pillar the user serves (empty: every pillar)."""
        return (self.pillar,) if self.pillar else self.several_pillars

    def actor(self, client: str | None = None) -> Actor:
        """The user as the access policy sees them."""
        return Actor(self.username, self.role, self.pillars, self.kecamatan, self.reads_pii, client)

    @staticmethod
    def _pillar_fields(pillars: tuple[str, ...]) -> dict:
        """One pillar is stored as `pillar`, as it always was; several as `pillars`."""
        return {"pillar": pillars[0] if len(pillars) == 1 else None,
                "pillars": list(pillars) if len(pillars) > 1 else None}

    @staticmethod
    def id_for(username: str) -> UUID:
        return stable_id("user", username)

    @classmethod
    def add(cls, *, actor: str, username: str, role: str, pillars: str | tuple[str, ...] | None, password_hash: str,
            kecamatan: tuple[str, ...] = (), pii: bool | None = None) -> "UserAccount":
        return cls._create(
            cls.UserAdded,
            id=cls.id_for(username),
            actor=actor,
            username=username,
            role=role,
            **cls._pillar_fields(pillar_scope(pillars)),
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

    def change_role(self, *, actor: str, role: str, pillars: str | tuple[str, ...] | None) -> None:
        self.trigger_event(self.RoleChanged, actor=actor, role=role, **self._pillar_fields(pillar_scope(pillars)))

    def change_scope(self, *, actor: str, kecamatan: tuple[str, ...]) -> None:
        self.trigger_event(self.ScopeChanged, actor=actor, kecamatan=list(kecamatan))

    def change_pii(self, *, actor: str, pii: bool | None) -> None:
        self.trigger_event(self.PiiAccessChanged, actor=actor, pii=pii)

    def revoke_sessions(self, *, actor: str) -> None:
        self.trigger_event(self.SessionsRevoked, actor=actor)


class AdminRoster(PilarAggregate):
    """A stream every removal of an active admin also writes to (a deactivation, or a role change
    away from admin), so that two removals racing cannot both pass the last-admin check: they
    change one aggregate, the later save conflicts, and it is decided again on fresh accounts."""

    removals: int = 0

    class RosterStarted(PilarAggregate.Created):
        pass

    class AdminRemoved(PilarAggregate.Event):
        username: str

        def apply(self, roster: "AdminRoster") -> None:
            roster.removals += 1

    @staticmethod
    def id_for() -> UUID:
        return stable_id("roster", "admins")

    @classmethod
    def start(cls, *, actor: str) -> "AdminRoster":
        return cls._create(cls.RosterStarted, id=cls.id_for(), actor=actor)

    def admin_removed(self, *, actor: str, username: str) -> None:
        self.trigger_event(self.AdminRemoved, actor=actor, username=username)
