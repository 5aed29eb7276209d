"""Who is acting: the account behind a request, as the access policy (pilar/cases/policy.py) sees it."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol


def pillar_scope(pillars: str | Iterable[str] | None) -> tuple[str, ...]:
    """The pillars an account serves as one tuple, whether given as one pillar, several, or none
    (every pillar: Dinas Sosial supervisors, auditors, admins)."""
    if pillars is None:
        return ()
    if isinstance(pillars, str):
        return (pillars,)
    return tuple(dict.fromkeys(pillars))


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    # The pillars served: one (every worker, most coordinators), several (a coordinator of more
    # than one pillar), or none listed: every pillar. One pillar or None may be given for a tuple.
    pillars: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()  # kecamatan codes served; empty: every kecamatan
    pii: bool = True  # reads NIK, KK, phone and address in clear (pilar/cases/account.py default_pii)
    # Where the request came from (the API: the client address as ProxyFix resolved it; the CLI:
    # "local"), for the access log; not part of who the actor is.
    client: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pillars", pillar_scope(self.pillars))

    @property
    def pillar(self) -> str | None:
        """The one pillar of an actor serving exactly one; None for several or every pillar, so
        never a test of scope (that is pilar/cases/policy.py's covers)."""
        return self.pillars[0] if len(self.pillars) == 1 else None


SYSTEM = Actor("system", "admin", None)


class AccessRecorder(Protocol):
    """Where reads of personal data are recorded (pilar/audit/access_log.py)."""

    def record(self, actor: Actor, action: str, *, case_id: object = None, beneficiary_id: object = None,
               detail: str = "") -> None: ...
