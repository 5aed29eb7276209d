"""Every code list of pilar/cases/vocab.py with its labels in Bahasa Indonesia (`id`) and English (`en`),
for clients to show codes as people read them (GET /api/v1/vocabularies). The labels live in
pilar/cases/data/vocabulary_labels.csv; the codes, and their order, stay those of pilar/cases/vocab.py."""

import csv
from functools import cache
from pathlib import Path

from pilar.cases import vocab

LABELS_CSV = Path(__file__).parent / "data" / "vocabulary_labels.csv"
LANGUAGES = ("id", "en")

# Each vocabulary's name in the answer, and its codes in the domain's order.
CODES: dict[str, tuple[str, ...]] = {
    "pillars": vocab.PILLARS,
    "ppks_categories": vocab.PPKS_CATEGORIES,
    "aid_components": vocab.AID_COMPONENTS,  # ATENSI; also an assessment's `needs`
    "case_statuses": vocab.CASE_STATUSES,
    "priorities": vocab.PRIORITIES,
    "risks": vocab.RISKS,
    "referral_sources": vocab.REFERRAL_SOURCES,
    "closure_outcomes": vocab.CLOSURE_OUTCOMES,
    "funding_sources": vocab.FUNDING_SOURCES,
    "follow_up_outcomes": vocab.FOLLOW_UP_OUTCOMES,
    "sexes": vocab.SEXES,
    "roles": vocab.ROLES,
    "consent_methods": vocab.CONSENT_METHODS,
    "lawful_bases": vocab.LAWFUL_BASES,
    "privacy_request_kinds": vocab.PRIVACY_REQUEST_KINDS,
    "privacy_request_statuses": vocab.PRIVACY_REQUEST_STATUSES,
}
# A pillar is also a referral source; it is labelled once, as a pillar.
BORROWED = {"referral_sources": "pillars"}

Entry = dict[str, object]


def read_labels(path: Path | str = LABELS_CSV) -> dict[tuple[str, str], dict[str, str]]:
    """(vocabulary, code) -> {"id": …, "en": …}; refuses a label file that misses or invents a code."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = {(r["vocabulary"], r["code"]): {lang: (r[lang] or "").strip() for lang in LANGUAGES} for r in rows}
    expected = {(name, code) for name, codes in CODES.items() for code in codes
                if not (name in BORROWED and code in CODES[BORROWED[name]])}
    problems = [f"no label for {name} {code}" for name, code in sorted(expected - labels.keys())]
    problems += [f"a label for {name} {code}, which is not a code" for name, code in sorted(labels.keys() - expected)]
    problems += [f"an empty {lang} label for {name} {code}" for (name, code), label in labels.items()
                 for lang in LANGUAGES if not label[lang]]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return labels


@cache
def vocabularies(path: Path | str = LABELS_CSV) -> dict[str, list[Entry]]:
    """Every vocabulary, in the order above: [{"code", "labels": {"id", "en"}}, …] each."""
    labels = read_labels(path)

    def label(name: str, code: str) -> dict[str, str]:
        borrowed = BORROWED.get(name)
        return labels[(borrowed, code)] if borrowed and code in CODES[borrowed] else labels[(name, code)]

    return {name: [{"code": code, "labels": label(name, code)} for code in codes] for name, codes in CODES.items()}

