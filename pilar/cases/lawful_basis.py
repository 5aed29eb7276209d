"""The lawful basis a case is processed on (UU PDP 27/2022 Pasal 20) and the consent rules that
follow from it: one place for the API, the pages and the CLI (docs/decisions.md, "Lawful basis").

A case records its basis when opened (CaseOpened.lawful_basis): the one asked for, or its pillar's
configured default (PILAR_LAWFUL_BASIS), shipped as public_task. Cases opened before bases were
recorded carry none ("not recorded"); the rules treat them as public_task, the mandate they were
opened under. Where the basis is consent, every step but closing the case (and declining a
referral, which also ends processing) needs the person's consent on record and in force."""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pilar.cases import vocab
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.errors import RuleBroken

SHIPPED_DEFAULT = "public_task"
# A case opened before bases were recorded is judged as opened on the regency's public mandate.
UNRECORDED_READS_AS = "public_task"
# What still may be done on a consent-basis case without consent in force: it ends processing.
ENDS_PROCESSING = frozenset({"closure", "referral decline"})
# UU PDP: erasure within 3×24 hours of a request or of a withdrawal of consent (SPEC §3).
ERASURE_DEADLINE = timedelta(hours=72)


def parse_defaults(text: str | None) -> dict[str, str]:
    """PILAR_LAWFUL_BASIS, e.g. "tagana=vital_interest,psm=consent": each pillar's default basis.
    Raises ValueError naming every bad entry, so a server refuses to start rather than guess."""
    defaults: dict[str, str] = {}
    problems = []
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        pillar, sep, basis = (part.strip() for part in entry.partition("="))
        if not sep or pillar not in vocab.PILLARS or basis not in vocab.LAWFUL_BASES:
            problems.append(entry.strip())
        elif pillar in defaults and defaults[pillar] != basis:
            problems.append(f"{entry.strip()} (pillar {pillar} named twice)")
        else:
            defaults[pillar] = basis
    if problems:
        raise ValueError(
            f"PILAR_LAWFUL_BASIS: cannot read {'; '.join(map(repr, problems))}: write pillar=basis pairs separated "
            f"by commas, pillars among {', '.join(vocab.PILLARS)}, bases among {', '.join(vocab.LAWFUL_BASES)}")
    return defaults


def default_for(pillar: str, defaults: Mapping[str, str]) -> str:
    return defaults.get(pillar, SHIPPED_DEFAULT)


def for_rules(basis: str | None) -> str:
    """The basis the rules apply: the recorded one, or public_task for a case that records none."""
    return basis or UNRECORDED_READS_AS


def needs_consent(basis: str | None) -> bool:
    return for_rules(basis) == "consent"


def consent_status(events: Iterable[Any]) -> str | None:
    """"given", "withdrawn" or None (never recorded), from a person's events in order."""
    status = None
    for event in events:
        if isinstance(event, Beneficiary.ConsentRecorded):
            status = "given"
        elif isinstance(event, Beneficiary.ConsentWithdrawn):
            status = "withdrawn"
    return status


def require_consent(status: str | None, doing: str) -> None:
    """The consent rule on a consent-basis case: `doing` needs consent on record and in force."""
    if status == "withdrawn":
        raise RuleBroken("consent_withdrawn", f"the person withdrew consent, the basis of this case: no {doing} is "
                                              "accepted; close the case or have a coordinator record another basis")
    if status != "given":
        raise RuleBroken("consent_required", f"the basis of this case is consent, and the person's consent is not "
                                             f"on record: record it before any {doing}")


def check(basis: str | None, status: str | None, doing: str) -> None:
    """The whole rule for one step on a case: `doing` names it ("assessment", "closure", ...)."""
    if needs_consent(basis) and doing not in ENDS_PROCESSING:
        require_consent(status, doing)


def erasure_deadline(requested_at: datetime) -> datetime:
    return requested_at + ERASURE_DEADLINE
