"""A case and a person as every client sees them (SPEC §5): the API's answers and, later,
the pages render these shapes; written once here."""

from datetime import date
from typing import Any

from cases.beneficiary import Beneficiary
from cases.case import Case


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


def beneficiary_view(person: Beneficiary, cases: list[Case]) -> dict[str, Any]:
    fields = ("nik", "kk", "name", "birth_date", "sex", "desa_code", "kecamatan_code", "address", "phone",
              "consent", "registered_at", "registered_by", "erased_at")
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
