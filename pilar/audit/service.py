"""The auditors' read service: histories, the event feed, verification and the access log.
Every read of personal data through it is logged; who may read what is asked of pilar/cases/policy.py."""

from pathlib import Path
from typing import Any
from uuid import UUID

from pilar.audit.access_log import AccessLog
from pilar.audit.entries import entry
from pilar.audit.seals import hashes_between, stream_hashes, verify
from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.application import PilarApplication
from pilar.store import key_checks
from pilar.store.connection import Readers


class AuditService:
    def __init__(self, app: PilarApplication, readers: Readers, access_log: AccessLog, audit_key: bytes,
                 heads_file: Path | None = None):
        self.app = app
        self.readers = readers
        self.access_log = access_log
        self.audit_key = audit_key
        self.heads_file = heads_file  # where the projection process publishes the seals' heads (pilar/audit/heads.py)

    def case_history(self, actor: Actor, case_id: UUID, after_version: int, limit: int) -> dict[str, Any]:
        case = self.app.readable_case(actor, case_id)
        answer = self._history(case_id, after_version, limit, policy.case_in_clear(actor))
        self.access_log.record(actor, "read_case_history", case_id=case_id, beneficiary_id=case.beneficiary_id)
        return answer

    def beneficiary_history(self, actor: Actor, beneficiary_id: UUID, after_version: int,
                            limit: int) -> dict[str, Any]:
        person = self.app.readable_beneficiary(actor, beneficiary_id)
        cases = self.app.beneficiary_cases(actor, person)
        scope = self.app.person_scope(person, cases)
        policy.require(policy.read_person_history(actor, *scope))
        answer = self._history(beneficiary_id, after_version, limit, policy.person_in_clear(actor, *scope))
        # A case linked to the person that the reader may not read keeps its pillar, not its id.
        unreadable = {str(case.id) for case in cases if policy.read_case(actor, case) is not None}
        for item in answer["items"]:
            if item["data"].get("case_id") in unreadable:
                item["data"]["case_id"] = None
        self.access_log.record(actor, "read_beneficiary_history", beneficiary_id=beneficiary_id)
        return answer

    def _history(self, stream_id: UUID, after_version: int, limit: int, in_clear: bool) -> dict[str, Any]:
        notifications = self.app.streams.select_stream(stream_id, after_version=after_version, limit=limit)
        with self.readers.connection() as conn:
            hashes = stream_hashes(conn, stream_id, [n.originator_version for n in notifications])
        with self.app.mapper.key_scope():
            items = [entry(n, self.app.mapper, hashes.get(n.originator_version), in_clear=in_clear)
                     for n in notifications]
        return {
            "stream_id": str(stream_id),
            "items": items,
            "next_after_version": items[-1]["version"] if len(items) == limit else None,
        }

    def feed(self, actor: Actor, after: int, limit: int) -> dict[str, Any]:
        policy.require(policy.audit(actor))
        notifications = self.app.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        hashes: dict[int, str] = {}
        if notifications:
            with self.readers.connection() as conn:
                hashes = hashes_between(conn, after, notifications[-1].id)
        with self.app.mapper.key_scope():
            items = [entry(n, self.app.mapper, hashes.get(n.id), in_clear=policy.feed_in_clear(actor))
                     for n in notifications]
        self.access_log.record(actor, "read_feed", detail=f"after={after} limit={limit} returned={len(items)}")
        return {"items": items, "next_after": items[-1]["position"] if items else after,
                "head": self.app.recorder.max_notification_id() or 0}

    def verify(self, actor: Actor) -> dict[str, Any]:
        policy.require(policy.audit(actor))
        with self.readers.connection() as conn:
            # A key that is not the store's would report every seal as a break.
            key_checks.require_match(conn, "audit", self.audit_key, "set PILAR_AUDIT_KEY to the store's audit key")
            return verify(self.app.recorder, conn, self.audit_key, heads=self.heads_file).as_dict()

    def access(self, actor: Actor, *, username: str | None, case_id: UUID | None, beneficiary_id: UUID | None,
               page: int, per_page: int) -> dict[str, Any]:
        policy.require(policy.audit(actor))
        items, total = self.access_log.search(username=username, case_id=case_id, beneficiary_id=beneficiary_id,
                                              page=page, per_page=per_page)
        return {"page": page, "per_page": per_page, "total": total, "items": items}
