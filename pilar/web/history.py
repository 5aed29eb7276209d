"""A history entry (pilar/audit/entries.py, as the API's history endpoints answer it, already masked as
pilar/cases/policy.py lets the reader see it) as a page shows it: the event's name in the reader's
language, who and when, and each field of its data labelled, codes as their labels, dates and
rupiah in Indonesian form. Nothing is added to what the entry carries."""

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pilar.web import labels
from pilar.web.case_pages import area_name
from pilar.web.i18n import rupiah, tanggal, waktu

FIELDS = {
    "beneficiary_id": _l("Person"), "case_id": _l("Case"), "pillar": _l("Pillar"), "to_pillar": _l("To pillar"),
    "from_pillar": _l("From pillar"), "desa_code": _l("Desa"), "kecamatan_code": _l("Kecamatan"),
    "referral": _l("Referral"), "source": _l("Referred by way of"), "referred_by": _l("Referred by (who)"),
    "reason": _l("Reason"), "categories": _l("PPKS categories"), "priority": _l("Priority"),
    "lawful_basis": _l("Lawful basis"), "worker": _l("Worker"), "needs": _l("Needs"), "risk": _l("Risk"),
    "summary": _l("Summary"), "desil": _l("Welfare decile"), "value": _l("Value"), "period": _l("Period"),
    "component": _l("ATENSI component"), "item": _l("Item"), "quantity": _l("Quantity"), "unit": _l("Unit"),
    "value_idr": _l("Value (rupiah)"), "funding_source": _l("Funding source"), "given_on": _l("Given on"),
    "follow_up_id": _l("Follow-up"), "due_on": _l("Due on"), "purpose": _l("Purpose"), "outcome": _l("Outcome"),
    "notes": _l("Notes"), "note": _l("Note"), "referral_id": _l("Referral"), "nik": _l("NIK"),
    "kk": _l("KK number"), "name": _l("Full name"), "birth_date": _l("Date of birth"), "sex": _l("Sex"),
    "address": _l("Address"), "phone": _l("Phone"), "changes": _l("Changes"), "given_by": _l("Given by"),
    "method": _l("Method"), "keys": _l("Keys destroyed"),
}
# Fields holding a code, by the vocabulary that labels it (an outcome's depends on the event).
CODES = {"pillar": "pillar", "to_pillar": "pillar", "from_pillar": "pillar", "source": "source",
         "categories": "ppks", "priority": "priority", "lawful_basis": "lawful_basis", "needs": "atensi",
         "risk": "risk", "component": "atensi", "funding_source": "funding", "sex": "sex", "method": "consent_method"}
OUTCOMES = {"CaseClosed": "closure", "FollowUpCompleted": "follow_up_outcome"}
DATES = {"given_on", "due_on", "birth_date"}


def shown(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with `title` (the event in the reader's language) and `fields`: (label, text) pairs."""
    data = entry.get("data") or {}
    return {**entry, "title": labels.label("event", entry["type"]) if entry.get("type") else _("Damaged event"),
            "fields": _fields(data, entry.get("type"))}


def _fields(data: dict[str, Any], event: str | None, outer: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{outer} · {_name(key)}" if outer else _name(key)
        if isinstance(value, dict):
            found.extend(_fields(value, event, name))
        elif key == "keys" and isinstance(value, list):
            found.append((name, str(len(value))))
        else:
            found.append((name, _text(key, value, event)))
    return found


def _name(key: str) -> str:
    return str(FIELDS.get(key, key))


def _text(key: str, value: Any, event: str | None) -> str:
    if value is None or value == "" or value == []:
        return "–"
    kind = OUTCOMES.get(event or "") if key == "outcome" else CODES.get(key)
    if isinstance(value, list):
        return ", ".join(labels.label(kind, str(v)) if kind else str(v) for v in value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if kind:
        return labels.label(kind, str(value))
    if key in ("desa_code", "kecamatan_code"):
        return f"{area_name(value)} ({value})"
    if key == "value_idr" and isinstance(value, int):
        return rupiah(value)
    if key in DATES:
        return tanggal(str(value))
    if key.endswith("_at"):
        return waktu(str(value))
    return str(value)
