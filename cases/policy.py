"""Who may read and change what (SPEC §1): the one place access is decided.

Each rule answers None (allowed) or the reason it is not; `require` turns a reason into
NotAllowed (403). The application service, the read service and the audit service ask these
rules, and nothing else decides access. A case is judged by the pillar holding it now, and by
the pillar a pending referral was sent to."""

from typing import Any

from cases import vocab
from cases.access import Actor
from cases.errors import NotAllowed

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
    """Whether the actor's scope includes `pillar` (no pillar: every pillar)."""
    return actor.pillar is None or actor.pillar == pillar


# ---------------------------------------------------------------- views
def visible_pillars(actor: Actor) -> tuple[str, ...]:
    """The pillars whose workloads, case lists and follow-ups the actor reads."""
    if reads_everything(actor) or (handles_cases(actor) and actor.pillar is None):
        return vocab.PILLARS
    if handles_cases(actor):
        return (actor.pillar,)
    raise NotAllowed("your role does not read workloads")


def read_pillar(actor: Actor, pillar: str) -> Denial:
    return _unless(pillar in visible_pillars(actor), f"pillar {pillar} is outside your scope")


# ---------------------------------------------------------------- cases
def open_case(actor: Actor, pillar: str) -> Denial:
    return _unless(handles_cases(actor) and covers(actor, pillar), f"you cannot open cases for pillar {pillar}")


def read_case(actor: Actor, case: Any) -> Denial:
    if reads_everything(actor):
        return None
    return _unless(handles_cases(actor) and _holds_or_is_asked(actor, case), "this case is outside your pillar")


def write_cases(actor: Actor) -> Denial:
    """Asked before a case is loaded: a role that writes no case learns nothing of it."""
    return _unless(handles_cases(actor), "your role does not write cases")


def write_case(actor: Actor, case: Any) -> Denial:
    return write_cases(actor) or _unless(covers(actor, case.pillar),
                                         f"the case is with pillar {case.pillar}, outside your pillar")


def answer_referral(actor: Actor, case: Any, referral_id: str) -> Denial:
    """The receiving pillar answers a case that is still with the sending pillar. A pillar a
    referral was sent to stays involved after answering, so a repeated answer is told the rule
    (referral_answered_once) rather than that the case is not theirs."""
    addressed = any(r["id"] == referral_id and covers(actor, r["to_pillar"]) for r in case.referrals)
    return write_cases(actor) or _unless(_holds_or_is_asked(actor, case) or addressed,
                                         "this case is outside your pillar")


def _holds_or_is_asked(actor: Actor, case: Any) -> bool:
    """The actor's pillar holds the case, or a pending referral asks it to."""
    pending = case.pending_referral
    return covers(actor, case.pillar) or (pending is not None and covers(actor, pending["to_pillar"]))


def assign_to(actor: Actor, worker: str) -> Denial:
    return _unless(actor.role != "worker" or worker == actor.username, "workers can only assign cases to themselves")


# ---------------------------------------------------------------- beneficiaries
def read_beneficiaries(actor: Actor) -> Denial:
    return _unless(handles_cases(actor) or reads_everything(actor), "your role does not read beneficiaries")


def register_beneficiary(actor: Actor) -> Denial:
    return _unless(handles_cases(actor), "only workers and supervisors register beneficiaries")


def correct_beneficiary(actor: Actor) -> Denial:
    return _unless(handles_cases(actor), "only workers and supervisors correct beneficiaries")


def record_consent(actor: Actor) -> Denial:
    return _unless(handles_cases(actor), "only workers and supervisors record consent")


def erase_personal_data(actor: Actor) -> Denial:
    return _unless(actor.role == "supervisor", "only supervisors erase personal data")


# ---------------------------------------------------------------- users and auditing
def manage_users(actor: Actor) -> Denial:
    return _unless(actor.role == "admin", "only admins manage users")


def change_password(actor: Actor, username: str) -> Denial:
    return _unless(actor.role == "admin" or actor.username == username,
                   "only admins change other users' passwords")


def audit(actor: Actor) -> Denial:
    """The feed, verification, the access log and the views at a past moment."""
    return _unless(reads_everything(actor), "only auditors read this")
