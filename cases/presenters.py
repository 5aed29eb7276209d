"""A case and a person as every client sees them (SPEC §5): the API's answers and, later,
the pages render these shapes; written once here."""

from datetime import date, datetime
from typing import Any

from cases.beneficiary import Beneficiary
from cases.case import Case
from cases.clock import parse_utc


def case_view(case: Case, today: date) -> dict[str, Any]:
    return {
        "id": case.id,
        "version": case.version,
        "status": case.status,
        "pillar": case.pillar,
        "beneficiary_id": case.beneficiary_id,
        "worker": case.worker,
        "categories": case.categories,
        "priority": case.priority,
        "desa_code": case.desa_code,
        "kecamatan_code": case.kecamatan_code,
        "referral": case.referral,
        "lawful_basis": case.lawful_basis,  # None: not recorded (opened before bases were); read as public_task
        "opened_at": case.opened_at,
        "opened_by": case.opened_by,
        "assessment": case.assessment,
        "aid": case.aid,
        "follow_ups": case.follow_ups,
        "next_follow_up_due": case.next_follow_up_due,
        "overdue": case.overdue(today),
        "referrals": case.referrals,
        "pending_referral": case.pending_referral,
        "closed_at": case.closed_at,
        "outcome": case.outcome,
        "closure_note": case.closure_note,
        "reopenings": case.reopenings,
    }


def beneficiary_view(person: Beneficiary, cases: list[Case]) -> dict[str, Any]:
    fields = ("nik", "kk", "name", "birth_date", "sex", "desa_code", "kecamatan_code", "address", "phone",
              "consent", "erasure_requested_at", "registered_at", "registered_by", "erased_at")
    return {
        "id": person.id,
        "version": person.version,
        **{f: getattr(person, f) for f in fields},
        "cases": [
            {"id": c.id, "pillar": c.pillar, "status": c.status, "worker": c.worker, "opened_at": c.opened_at,
             "closed_at": c.closed_at}
            for c in cases
        ],
    }


def privacy_request_view(row: dict[str, Any], name: str | None, now: datetime) -> dict[str, Any]:
    """A consent withdrawal or erasure request (UU PDP) against its 3×24 h deadline. Of the person,
    only their id, and their name for a reader of personal data (`name` None otherwise, or erased)."""
    deadline = parse_utc(row["deadline"])
    resolved_at = parse_utc(row["resolved_at"]) if row["resolved_at"] else None
    return {
        "id": row["request_id"],
        "beneficiary_id": row["beneficiary_id"],
        "name": name,
        "kind": row["kind"],
        "requested_at": parse_utc(row["requested_at"]),
        "requested_by": row["requested_by"],
        "deadline": deadline,
        "status": row["status"],
        "fulfilled": row["status"] == "erased",
        "resolved_at": resolved_at,
        "overdue": row["status"] == "open" and deadline < now,
        "in_time": None if resolved_at is None else resolved_at <= deadline,
    }
