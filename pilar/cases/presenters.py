"""A case and a person as every client sees them (SPEC §5): the API's answers and, later,
the pages render these shapes; written once here."""

from datetime import date, datetime
from typing import Any

from pilar.cases.beneficiary import Beneficiary
from pilar.cases import case_record
from pilar.cases.case import Case
from pilar.cases.clock import parse_utc
from pilar.cases.masking import masked_unless


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
        "record": case_record.summary(case),
        "next_follow_up_due": case.next_follow_up_due,
        "overdue": case.overdue(today),
        "referrals": case.referrals,
        "pending_referral": case.pending_referral,
        "closed_at": case.closed_at,
        "outcome": case.outcome,
        "closure_note": case.closure_note,
        "reopenings": case.reopenings,
    }


def beneficiary_view(person: Beneficiary, cases: list[tuple[Case, bool]], *, in_clear: bool) -> dict[str, Any]:
    """`cases`: each of the person's cases and whether the reader may read it (policy.read_case);
    `in_clear`: whether the reader sees the person's identifiers (policy.person_in_clear)."""
    fields = ("nik", "kk", "name", "birth_date", "sex", "desa_code", "kecamatan_code", "address", "phone",
              "consent", "erasure_requested_at", "registered_at", "registered_by", "erased_at")
    view = {"id": person.id, "version": person.version, **{f: getattr(person, f) for f in fields}}
    return {**masked_unless(in_clear, view), "cases": [case_link(case, readable) for case, readable in cases]}


# Another pillar's case of the same person (or one outside the reader's kecamatan) shows only
# these: enough not to work past each other, nothing of what the case is about or who handles it.
OUTSIDE_SCOPE_CASE_FIELDS = ("pillar", "status", "opened_at", "closed_at")


def case_link(case: Case, readable: bool) -> dict[str, Any]:
    link = {"id": case.id, "pillar": case.pillar, "status": case.status, "worker": case.worker,
            "opened_at": case.opened_at, "closed_at": case.closed_at}
    return link if readable else {f: link[f] for f in OUTSIDE_SCOPE_CASE_FIELDS}


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
