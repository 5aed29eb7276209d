"""The case page's forms: each one's fields (the command's arguments) and what a page says once it
is saved. Rendered by pilar/web/templates/case.html, posted to pilar/web/case_writes.py."""

from flask_babel import lazy_gettext as _l

from pilar.web.forms import Field

FORMS: dict[str, list[Field]] = {
    "assignment": [],  # to the signed-in user: a worker assigns cases only to themselves (pilar/cases/policy.py)
    "assessment": [
        Field("needs", _l("Needs (ATENSI components)"), "checkboxes", "atensi"),
        Field("risk", _l("Risk"), "select", "risk"),
        Field("summary", _l("Summary of the assessment"), "textarea"),
        Field("desil-value", _l("Welfare decile (1–10)"), "number", required=False),
        Field("desil-period", _l("Decile period"), required=False, hint=_l("A quarter like 2026Q3")),
    ],
    "aid": [
        Field("component", _l("ATENSI component"), "select", "atensi"),
        Field("item", _l("Item"), hint=_l("e.g. beras 10 kg")),
        Field("quantity", _l("Quantity"), "number"),
        Field("unit", _l("Unit"), hint=_l("e.g. paket")),
        Field("value_idr", _l("Value (rupiah)"), "number"),
        Field("funding_source", _l("Funding source"), "select", "funding"),
        Field("given_on", _l("Given on"), "date"),
    ],
    "follow_up": [Field("due_on", _l("Due on"), "date"), Field("purpose", _l("Purpose of the visit"), "textarea")],
    "completion": [Field("outcome", _l("Outcome"), "select", "follow_up_outcome"),
                   Field("notes", _l("Notes"), "textarea", required=False, empty="")],
    "referral": [Field("to_pillar", _l("Refer to pillar"), "select", "pillar"),
                 Field("reason", _l("Reason"), "textarea")],
    "acceptance": [],
    "decline": [Field("reason", _l("Reason for declining"), "textarea")],
    "closure": [Field("outcome", _l("Outcome"), "select", "closure"),
                Field("note", _l("Note"), "textarea", required=False, empty="")],
    "reopening": [Field("reason", _l("Reason for reopening"), "textarea")],
}
DONE = {
    "assignment": _l("The case is now yours."), "assessment": _l("The assessment was recorded."), "aid": _l("The aid was recorded."),
    "follow_up": _l("The follow-up was scheduled."), "completion": _l("The follow-up was completed."),
    "referral": _l("The case was referred."), "acceptance": _l("The referral was accepted."),
    "decline": _l("The referral was declined."), "closure": _l("The case was closed."),
    "reopening": _l("The case was reopened."),
}
