"""Who may read and change what (SPEC §1): the one place access is decided.

Each rule answers None (allowed) or the reason it is not; `require` turns a reason into
NotAllowed (403). The application service, the read service and the audit service ask these
rules, and nothing else decides access. A case is judged by the pillar holding it now, the
pillar a pending referral was sent to, and the kecamatan of its desa; a person by the pillars
involved with their cases (involved_pillars) and the kecamatan they live in or have cases in
(person_kecamatan). Whether personal identifiers are shown in clear or masked
(pilar/cases/masking.py) is decided here too (*_in_clear)."""

from collections.abc import Collection, Iterable
from typing import Any

from pilar.cases import vocab
from pilar.cases.access import Actor
from pilar.cases.errors import NotAllowed

Denial = str | None
CASE_ROLES = ("worker", "supervisor")


def require(denial: Denial) -> None:
    if denial is not None:
        raise NotAllowed(denial)


def _unless(allowed: bool, reason: str) -> Denial:
    return None if allowed else reason


def handles_cases(actor: Actor) -> bool:
    return actor.role in CASE_ROLES


def reads_everything(actor: Actor) -> bool:
    return actor.role == "auditor"


def covers(actor: Actor, pillar: str) -> bool:
    """Whether the actor's scope includes `pillar` (no pillar listed: every pillar)."""
    return not actor.pillars or pillar in actor.pillars


def in_kecamatan(actor: Actor, kecamatan_code: str | None) -> bool:
    """Whether the actor serves `kecamatan_code` (no kecamatan listed: every kecamatan). The list
    narrows workers and supervisors; auditors read everything whatever it says."""
    return not actor.kecamatan or kecamatan_code in actor.kecamatan


def serves(actor: Actor, pillar: str, kecamatan_code: str | None) -> bool:
    """A case of `pillar` in `kecamatan_code` is within the actor's pillar and kecamatan scope."""
    return covers(actor, pillar) and in_kecamatan(actor, kecamatan_code)


# ---------------------------------------------------------------- views
def visible_pillars(actor: Actor) -> tuple[str, ...]:
    """The pillars whose workloads, case lists and follow-ups the actor reads."""
    if reads_everything(actor) or (handles_cases(actor) and not actor.pillars):
        return vocab.PILLARS
    if handles_cases(actor):
        return actor.pillars
    raise NotAllowed("your role does not read workloads")


def read_pillar(actor: Actor, pillar: str) -> Denial:
    return _unless(pillar in visible_pillars(actor), f"pillar {pillar} is outside your scope")


def visible_kecamatan(actor: Actor) -> tuple[str, ...] | None:
    """The kecamatan whose cases, follow-ups and workload counts the actor reads (None: all).
    Asked with visible_pillars, which refuses a role that reads no views."""
    visible_pillars(actor)
    return None if reads_everything(actor) or not actor.kecamatan else tuple(actor.kecamatan)


def read_kecamatan(actor: Actor, kecamatan_code: str) -> Denial:
    visible = visible_kecamatan(actor)
    return _unless(visible is None or kecamatan_code in visible, f"kecamatan {kecamatan_code} is outside your scope")


# ---------------------------------------------------------------- cases
def open_case(actor: Actor, pillar: str) -> Denial:
    """Asked before the person is loaded; open_case_in then judges where they and the case are."""
    return _unless(handles_cases(actor) and covers(actor, pillar), f"you cannot open cases for pillar {pillar}")


def open_case_in(actor: Actor, kecamatan: Collection[str]) -> Denial:
    """`kecamatan`: where the person lives and where the case's desa lies; a kecamatan-scoped
    actor opens cases only for people and desa of their own kecamatan."""
    return _unless(all(in_kecamatan(actor, code) for code in kecamatan),
                   "you cannot open cases for a person or desa outside your kecamatan")


def read_case(actor: Actor, case: Any) -> Denial:
    if reads_everything(actor):
        return None
    return _unless(handles_cases(actor) and _holds_or_is_asked(actor, case),
                   "this case is outside your pillar or kecamatan")


def write_cases(actor: Actor) -> Denial:
    """Asked before a case is loaded: a role that writes no case learns nothing of it."""
    return _unless(handles_cases(actor), "your role does not write cases")


def write_case(actor: Actor, case: Any) -> Denial:
    return write_cases(actor) or _unless(
        covers(actor, case.pillar), f"the case is with pillar {case.pillar}, outside your pillar") or _unless(
        in_kecamatan(actor, case.kecamatan_code), "the case's desa is outside your kecamatan")


def answer_referral(actor: Actor, case: Any, referral_id: str) -> Denial:
    """The receiving pillar answers a case that is still with the sending pillar. A pillar a
    referral was sent to stays involved after answering, so a repeated answer is told the rule
    (referral_answered_once) rather than that the case is not theirs."""
    addressed = any(r["id"] == referral_id and serves(actor, r["to_pillar"], case.kecamatan_code)
                    for r in case.referrals)
    return write_cases(actor) or _unless(_holds_or_is_asked(actor, case) or addressed,
                                         "this case is outside your pillar or kecamatan")


def _holds_or_is_asked(actor: Actor, case: Any) -> bool:
    """The actor's pillar holds the case, or a pending referral asks it to; in either, the case's
    desa lies in the actor's kecamatan (a kecamatan-scoped receiver sees only referrals of its own
    kecamatan; an unscoped colleague of the pillar sees them all)."""
    pending = case.pending_referral
    pillar_ok = covers(actor, case.pillar) or (pending is not None and covers(actor, pending["to_pillar"]))
    return pillar_ok and in_kecamatan(actor, case.kecamatan_code)


def change_lawful_basis(actor: Actor, case: Any) -> Denial:
    """Which ground a case is processed on is a coordinator's decision (docs/decisions.md, "Lawful basis")."""
    return write_case(actor, case) or _unless(actor.role == "supervisor",
                                              "only a coordinator changes a case's lawful basis")


def assign_to(actor: Actor, worker: str) -> Denial:
    return _unless(actor.role != "worker" or worker == actor.username, "workers can only assign cases to themselves")


# ---------------------------------------------------------------- beneficiaries
def read_beneficiaries(actor: Actor) -> Denial:
    return _unless(handles_cases(actor) or reads_everything(actor), "your role does not read beneficiaries")


def register_beneficiary(actor: Actor) -> Denial:
    return _unless(handles_cases(actor), "only workers and supervisors register beneficiaries")


# Changing a person (correcting their details, recording or withdrawing their consent, erasing
# them) is for a pillar involved with them, or Dinas Sosial (an all-pillar supervisor). A pillar
# is involved when it holds one of their cases now, held one before (it opened it, or referred it
# on, or accepted it and passed it on again), or is asked to take one by a pending referral (it can
# already read that case). A person with no case yet is any pillar's, as registering them was.
# Erasure is a supervisor's only.
BENEFICIARY_WRITES: dict[str, tuple[tuple[str, ...], str, str]] = {
    # action: (roles, refusal by role, what the pillar condition allows)
    "correct": (CASE_ROLES, "only workers and supervisors correct beneficiaries", "correct their details"),
    "consent": (CASE_ROLES, "only workers and supervisors record or withdraw consent",
                "record or withdraw their consent"),
    "request_erasure": (CASE_ROLES, "only workers and supervisors record erasure requests",
                        "record their request for erasure"),
    "erase": (("supervisor",), "only supervisors erase personal data", "erase their personal data"),
}


def involved_pillars(links: Iterable[dict[str, Any]], cases: Iterable[Any]) -> set[str]:
    """The pillars involved with a person: each case link's pillar at opening, each case's pillar
    now, every pillar that sent one on, received one, or is asked by a pending referral (a declined
    referral's receiver never held the case)."""
    pillars = {link["pillar"] for link in links}
    for case in cases:
        pillars.add(case.pillar)
        for referral in case.referrals:
            pillars.add(referral["from_pillar"])
            if referral["status"] in ("accepted", "pending"):
                pillars.add(referral["to_pillar"])
    return pillars


def person_kecamatan(person: Any, cases: Iterable[Any]) -> set[str]:
    """The kecamatan a person is found in: where they live, and where each of their cases' desa lies."""
    found = {case.kecamatan_code for case in cases}
    if getattr(person, "kecamatan_code", None):
        found.add(person.kecamatan_code)
    return found


def person_in_scope(actor: Actor, pillars: Collection[str], kecamatan: Collection[str]) -> bool:
    """Whether a person whose involved pillars are `pillars` (empty: no case yet, any pillar's)
    and whose kecamatan (person_kecamatan) are `kecamatan` is the actor's to serve: auditors
    every person; a worker or supervisor one their pillar is involved with, in their kecamatan."""
    if reads_everything(actor):
        return True
    return (handles_cases(actor) and (not pillars or any(covers(actor, pillar) for pillar in pillars))
            and (not actor.kecamatan or any(code in actor.kecamatan for code in kecamatan)))


def write_beneficiaries(actor: Actor, action: str) -> Denial:
    """Asked before the person is loaded: a role that may not do `action` to anyone learns nothing."""
    roles, refusal, _ = BENEFICIARY_WRITES[action]
    return _unless(actor.role in roles, refusal)


def write_beneficiary(actor: Actor, action: str, pillars: Collection[str], kecamatan: Collection[str]) -> Denial:
    """`action` (correct, consent, erase) on a person whose involved pillars are `pillars`
    (involved_pillars; empty: no case yet) and whose kecamatan are `kecamatan` (person_kecamatan)."""
    _, _, what = BENEFICIARY_WRITES[action]
    return write_beneficiaries(actor, action) or _unless(
        person_in_scope(actor, pillars, kecamatan),
        f"only a pillar that holds or held a case of this person, in their kecamatan, or Dinas Sosial, may {what}")


def read_person_history(actor: Actor, pillars: Collection[str], kecamatan: Collection[str]) -> Denial:
    """A person's stream (consent, corrections and their reasons) is read by auditors and by those
    who serve the person; anyone else who reads beneficiaries sees only the masked person view."""
    return read_beneficiaries(actor) or _unless(person_in_scope(actor, pillars, kecamatan),
                                                "this person is outside your pillar or kecamatan")


# ---------------------------------------------------------------- personal identifiers
# NIK, KK, phone, address and a consent's guardian are shown in clear only to a user with the
# pii permission, and only within their scope; everyone else gets them masked (pilar/cases/masking.py).
def person_in_clear(actor: Actor, pillars: Collection[str], kecamatan: Collection[str]) -> bool:
    return actor.pii and person_in_scope(actor, pillars, kecamatan)


def names_in_lists(actor: Actor) -> bool:
    """People's names on a list (case lists, privacy requests), whose rows the reader's scope has
    already chosen: for a reader of personal data only."""
    return actor.pii


def case_in_clear(actor: Actor) -> bool:
    """A case's history, asked once the case is readable (and so within the actor's scope)."""
    return actor.pii


def feed_in_clear(actor: Actor) -> bool:
    """The whole store's events (the feed, exports): auditors with the pii permission only."""
    return actor.pii and reads_everything(actor)


# ---------------------------------------------------------------- privacy requests (UU PDP)
def privacy_request_pillars(actor: Actor) -> tuple[str, ...] | None:
    """Whose withdrawals and erasure requests the actor lists: the people with a case in these
    pillars (None: everyone's). Coordinators answer for them within 3×24 hours, Dinas Sosial for
    every pillar; auditors read them all. Workers and admins do not."""
    if reads_everything(actor) or (actor.role == "supervisor" and not actor.pillars):
        return None
    if actor.role == "supervisor":
        return actor.pillars
    raise NotAllowed("only coordinators and auditors read privacy requests")


# ---------------------------------------------------------------- users and auditing
def manage_users(actor: Actor) -> Denial:
    return _unless(actor.role == "admin", "only admins manage users")


def change_password(actor: Actor, username: str) -> Denial:
    return _unless(actor.role == "admin" or actor.username == username,
                   "only admins change other users' passwords")


def audit(actor: Actor) -> Denial:
    """The feed, verification, the access log and the views at a past moment."""
    return _unless(reads_everything(actor), "only auditors read this")
