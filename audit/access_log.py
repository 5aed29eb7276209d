"""Every read of a person's data is recorded: who, when, what. Auditors read the log.

Kept in its own append-only table beside the events, not as events: reads are not facts
about a case, and logging them must not contend with case writes for stream versions."""

import uuid
from datetime import datetime, timezone
from typing import Any

from cases.access import Actor
from cases.clock import utc_text
from store.connection import Readers

ACCESS_LOG_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS audit_access_log (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        username TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        case_id TEXT,
        beneficiary_id TEXT,
        detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_access_by_user ON audit_access_log (username, at)",
    "CREATE INDEX IF NOT EXISTS audit_access_by_case ON audit_access_log (case_id, at)",
    "CREATE INDEX IF NOT EXISTS audit_access_by_beneficiary ON audit_access_log (beneficiary_id, at)",
    "CREATE INDEX IF NOT EXISTS audit_access_by_time ON audit_access_log (at)",
]
COLUMNS = ("id", "at", "username", "role", "action", "case_id", "beneficiary_id", "detail")


class AccessLog:
    def __init__(self, readers: Readers):
        self.readers = readers

    def record(self, actor: Actor, action: str, *, case_id: object = None, beneficiary_id: object = None,
               detail: str = "") -> None:
        with self.readers.connection() as conn:
            conn.execute(
                f"INSERT INTO audit_access_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                (str(uuid.uuid4()), utc_text(datetime.now(timezone.utc)), actor.username, actor.role, action,
                 None if case_id is None else str(case_id),
                 None if beneficiary_id is None else str(beneficiary_id), detail))

    def search(self, *, username: str | None = None, case_id: str | None = None,
               beneficiary_id: str | None = None, page: int = 1, per_page: int = 100) -> tuple[list[dict[str, Any]], int]:
        clauses, params = [], []
        for column, value in (("username", username), ("case_id", case_id), ("beneficiary_id", beneficiary_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.readers.connection() as conn:
            total = conn.one(f"SELECT COUNT(*) FROM audit_access_log {where}", params)[0]
            rows = conn.all(f"SELECT {', '.join(COLUMNS)} FROM audit_access_log {where} "
                            "ORDER BY at DESC, id LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
        return [dict(zip(COLUMNS, row)) for row in rows], int(total)
