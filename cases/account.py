"""User accounts: event-sourced, so auditors can see who was given which role and when."""

from uuid import UUID

from cases.domain import PilarAggregate, stable_id


class UserAccount(PilarAggregate):
    class UserAdded(PilarAggregate.Created):
        username: str
        role: str
        pillar: str | None
        password_hash: str

        def apply(self, user: "UserAccount") -> None:
            user.username = self.username
            user.role = self.role
            user.pillar = self.pillar
            user.password_hash = self.password_hash
            user.active = True

    class PasswordChanged(PilarAggregate.Event):
        password_hash: str

        def apply(self, user: "UserAccount") -> None:
            user.password_hash = self.password_hash

    class UserDeactivated(PilarAggregate.Event):
        def apply(self, user: "UserAccount") -> None:
            user.active = False

    @staticmethod
    def id_for(username: str) -> UUID:
        return stable_id("user", username)

    @classmethod
    def add(cls, *, actor: str, username: str, role: str, pillar: str | None, password_hash: str) -> "UserAccount":
        return cls._create(
            cls.UserAdded,
            id=cls.id_for(username),
            actor=actor,
            username=username,
            role=role,
            pillar=pillar,
            password_hash=password_hash,
        )

    def change_password(self, *, actor: str, password_hash: str) -> None:
        self.trigger_event(self.PasswordChanged, actor=actor, password_hash=password_hash)

    def deactivate(self, *, actor: str) -> None:
        self.trigger_event(self.UserDeactivated, actor=actor)
