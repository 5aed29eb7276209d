"""A case and a person as every client sees them (SPEC §5): the API's answers and, later,
the pages render these shapes; written once here."""

from datetime import date
from typing import Any

from cases.beneficiary import Beneficiary
from cases.case import Case
from cases.masking import masked_unless


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


def beneficiary_view(person: Beneficiary, cases: list[tuple[Case, bool]], *, in_clear: bool) -> dict[str, Any]:
    """`cases`: each of the person's cases and whether the reader may read it (policy.read_case);
    `in_clear`: whether the reader sees the person's identifiers (policy.person_in_clear)."""
    fields = ("nik", "kk", "name", "birth_date", "sex", "desa_code", "kecamatan_code", "address", "phone",
              "consent", "registered_at", "registered_by", "erased_at")
    view = {"id": person.id, "version": person.version, **{f: getattr(person, f) for f in fields}}
    return {**masked_unless(in_clear, view), "cases": [case_link(case, readable) for case, readable in cases]}


# Another pillar's case of the same person (or one outside the reader's kecamatan) shows only
# these: enough not to work past each other, nothing of what the case is about or who handles it.
OUTSIDE_SCOPE_CASE_FIELDS = ("pillar", "status", "opened_at", "closed_at")


def case_link(case: Case, readable: bool) -> dict[str, Any]:
    link = {"id": case.id, "pillar": case.pillar, "status": case.status, "worker": case.worker,
            "opened_at": case.opened_at, "closed_at": case.closed_at}
    return link if readable else {f: link[f] for f in OUTSIDE_SCOPE_CASE_FIELDS}
