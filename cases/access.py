"""Who is acting: the account behind a request, as the access policy (cases/policy.py) sees it."""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    pillar: str | None  # None: every pillar (Dinas Sosial supervisors, admins, auditors)
    kecamatan: tuple[str, ...] = ()  # kecamatan codes served; empty: every kecamatan
    pii: bool = True  # reads NIK, KK, phone and address in clear (cases/account.py default_pii)
    # Where the request came from (the API: the client address as ProxyFix resolved it; the CLI:
    # "local"), for the access log; not part of who the actor is.
    client: str | None = field(default=None, compare=False)


SYSTEM = Actor("system", "admin", None)


class AccessRecorder(Protocol):
    """Where reads of personal data are recorded (audit/access_log.py)."""

    def record(self, actor: Actor, action: str, *, case_id: object = None, beneficiary_id: object = None,
               detail: str = "") -> None: ...
