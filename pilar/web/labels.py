"""Codes as people read them on the pages, in the reader's language. Vocabulary codes take their
labels from the one label file the API also answers with (pilar/cases/vocabularies.py,
pilar/cases/data/vocabulary_labels.csv); the names of event types, which are no vocabulary, are English
message ids translated by the catalogue (pilar/web/translations/)."""

from flask_babel import lazy_gettext as _l

from pilar.cases.vocabularies import vocabularies
from pilar.web.i18n import locale

# A page's kind of code -> the vocabulary holding its labels (GET /api/v1/vocabularies).
VOCABULARY_OF = {
    "pillar": "pillars", "ppks": "ppks_categories", "atensi": "aid_components", "status": "case_statuses",
    "priority": "priorities", "risk": "risks", "source": "referral_sources", "closure": "closure_outcomes",
    "funding": "funding_sources", "follow_up_outcome": "follow_up_outcomes", "sex": "sexes",
}
EVENTS = {
    "CaseOpened": _l("Case opened"), "CaseAssigned": _l("Assigned"), "NeedsAssessed": _l("Needs assessed"),
    "AidGiven": _l("Aid given"), "FollowUpScheduled": _l("Follow-up scheduled"),
    "FollowUpCompleted": _l("Follow-up completed"), "ReferralSent": _l("Referred to another pillar"),
    "ReferralAccepted": _l("Referral accepted"), "ReferralDeclined": _l("Referral declined"),
    "CaseClosed": _l("Case closed"), "CaseReopened": _l("Case reopened"),
    "LawfulBasisChanged": _l("Lawful basis changed"),
}


def _labels(kind: str) -> dict[str, str]:
    language = "en" if locale() == "en" else "id"
    return {entry["code"]: entry["labels"][language] for entry in vocabularies()[VOCABULARY_OF[kind]]}


def label(kind: str, code: str | None) -> str:
    """A code's label in the reader's language; an unknown code as itself."""
    if code is None:
        return "–"
    if kind == "event":
        return str(EVENTS.get(code, code))
    return _labels(kind).get(code, code)


def options(kind: str) -> list[tuple[str, str]]:
    """(code, label) for every code of a vocabulary, in the vocabulary's order."""
    return list(_labels(kind).items())
