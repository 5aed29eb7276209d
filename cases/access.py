"""Who may do what (SPEC §1): roles and pillar scope, judged against a case's current pillar."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    pillar: str | None  # None: every pillar (Dinas Sosial supervisors, admins, auditors)

    def covers(self, pillar: str) -> bool:
        return self.pillar is None or self.pillar == pillar

    @property
    def handles_cases(self) -> bool:
        return self.role in ("worker", "supervisor")

    @property
    def reads_everything(self) -> bool:
        return self.role == "auditor"


SYSTEM = Actor("system", "admin", None)


class AccessRecorder(Protocol):
    """Where reads of personal data are recorded (audit/access_log.py)."""

    def record(self, actor: Actor, action: str, *, case_id: object = None, beneficiary_id: object = None,
               detail: str = "") -> None: ...
