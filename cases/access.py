"""Who may do what (SPEC §1): roles and pillar scope, judged against a case's current pillar."""

from dataclasses import dataclass


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
