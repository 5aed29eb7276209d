"""Domain errors. Each maps to one HTTP status in pilar/api/errors.py and to one exit message in the CLI."""

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from uuid import UUID


class PilarError(Exception):
    """Base of every error the application service raises on purpose."""


class InvalidInput(PilarError):
    """Input that is well-formed but not acceptable: each field named with its problems."""

    def __init__(self, errors: dict[str, Any]):
        self.errors = errors  # field -> messages, or a nested field -> {field -> messages}
        super().__init__("; ".join(_flat(errors)))

    @classmethod
    def one(cls, field: str, message: str) -> "InvalidInput":
        return cls({field: [message]})


class RuleBroken(PilarError):
    """A command that the current state of an aggregate does not allow (SPEC §4 rules)."""

    def __init__(self, rule: str, message: str):
        self.rule = rule
        self.message = message
        super().__init__(f"{rule}: {message}")


class DuplicateNik(PilarError):
    def __init__(self, existing_id: UUID):
        self.existing_id = existing_id
        super().__init__(f"a beneficiary with this NIK is already registered: {existing_id}")


class NotFound(PilarError):
    def __init__(self, what: str, ident: object):
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident} not found")


class NotAllowed(PilarError):
    """The actor is known but their role or pillar scope does not allow this."""


class NotAuthenticated(PilarError):
    """No valid credentials. `event` names it for the security log (e.g. sign_in_failed,
    token_expired, token_signed_out); `username` is whom it claimed to be, if anyone."""

    def __init__(self, message: str, *, event: str = "unauthenticated", username: str | None = None):
        self.event = event
        self.username = username
        super().__init__(message)


class StaleVersion(PilarError):
    def __init__(self, expected: int, actual: int):
        self.expected = expected
        self.actual = actual
        super().__init__(f"If-Match expected version {expected}, the case is at version {actual}")


class IdempotencyKeyReused(PilarError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")


class Contention(PilarError):
    """Writers kept colliding on the same stream; the caller may retry."""


def _flat(errors: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, problems in errors.items():
        if isinstance(problems, dict):
            yield from _flat(problems, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}: {', '.join(problems)}"


class DamagedEvent(PilarError):
    """A stored event that cannot be read as Pilar wrote it: bytes that do not decode, a MAC that
    does not hold, a topic that names no event class, personal data that does not decrypt.
    `position` is known when it was read in the global order (a notification), else None."""

    def __init__(self, stream_id: UUID | str, version: int, position: int | None, reason: str):
        self.stream_id = str(stream_id)
        self.version = version
        self.position = position
        self.reason = reason
        self.found_at = datetime.now(timezone.utc)  # when it was read so: a repair after that stands
        where = f"position {position}, " if position is not None else ""
        super().__init__(f"the event at {where}stream {self.stream_id} version {version} is damaged: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {"stream_id": self.stream_id, "version": self.version, "position": self.position,
                "reason": self.reason}
