"""Which parts of which stored events are personal, and under whose key they are encrypted.

A path names a field; "*" stands for every element of a list. Everything here is encrypted
under a key of its own subject (pilar/cases/personal_data.py): the person's fields under the
person's key, a case's free text under the case's key (destroyed when the person is erased),
and the holder named by a NIK claim under a key of that one holding, so that once it ends
(erasure, a corrected NIK) the claim no longer says whose the NIK was."""

from typing import Any
from uuid import NAMESPACE_OID, UUID, uuid5

from eventsourcing.domain import Snapshot

from pilar.cases.beneficiary import PERSONAL_FIELDS, Beneficiary, NikClaim
from pilar.cases.case import Case

Path = tuple[str, ...]

_PERSON = [(name,) for name in PERSONAL_FIELDS]
# What a case holds as free text, as the case's snapshot state and as its events' fields.
_CASE_STATE = [("referral", "referred_by"), ("referral", "reason"), ("assessment", "summary"),
               ("follow_ups", "*", "purpose"), ("follow_ups", "*", "notes"), ("referrals", "*", "reason"),
               ("referrals", "*", "decline_reason"), ("closure_note",), ("reopenings", "*", "reason")]

PERSONAL_PATHS: dict[type, list[Path]] = {
    Beneficiary.BeneficiaryRegistered: _PERSON,
    Beneficiary.BeneficiaryDetailsCorrected: [("changes", name) for name in PERSONAL_FIELDS] + [("reason",)],
    Beneficiary.ConsentRecorded: [("given_by",), ("purpose",)],
    Beneficiary.ConsentWithdrawn: [("reason",)],
    Beneficiary.ErasureRequested: [("reason",)],
    Case.CaseOpened: [("referral", "referred_by"), ("referral", "reason")],
    Case.NeedsAssessed: [("summary",)],
    Case.FollowUpScheduled: [("purpose",)],
    Case.FollowUpCompleted: [("notes",)],
    Case.ReferralSent: [("reason",)],
    Case.ReferralDeclined: [("reason",)],
    Case.CaseClosed: [("note",)],
    Case.CaseReopened: [("reason",)],
    Case.LawfulBasisChanged: [("reason",)],
    NikClaim.NikClaimed: [("beneficiary_id",)],
    NikClaim.NikReclaimed: [("beneficiary_id",)],
    Snapshot: [("state", *path) for path in _CASE_STATE],
}


def paths_of(event_type: type) -> list[Path]:
    return PERSONAL_PATHS.get(event_type, [])


def key_id(event_type: type, originator_id: UUID, version: int) -> UUID:
    """Whose key encrypts the event: its stream's, but a NIK claim's holding has a key of its own."""
    if event_type in (NikClaim.NikClaimed, NikClaim.NikReclaimed):
        return holder_key_id(originator_id, version)
    return originator_id


def made_on_demand(event_type: type) -> bool:
    """A case's or a NIK holding's key is made when first needed (cases opened before there were
    case keys included); a person's is made at registration, and missing only once erased."""
    return not issubclass(event_type, Beneficiary.Event)


def holder_key_id(claim_id: UUID, version: int) -> UUID:
    return uuid5(NAMESPACE_OID, f"pilar-nik-holder:{claim_id}:{version}")


def take(state: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """Move the values at `paths` out of `state` (leaving None), as {"a.0.b": value}."""
    taken: dict[str, Any] = {}
    for path in paths:
        for concrete, parent, last in _places(state, path, ()):
            if parent[last] is not None:
                taken[".".join(concrete)] = parent[last]
                parent[last] = None
    return taken


def detached(node: Any, paths: list[Path]) -> Any:
    """`node` with every container on the way to `paths` copied, and everything else shared, so
    that `take` on the result leaves `node` as it was (a deep copy cost 4% of a write's CPU)."""
    if isinstance(node, dict):
        copied = dict(node)
        for head in {path[0] for path in paths if len(path) > 1 and path[0] in node}:
            copied[head] = detached(node[head], [path[1:] for path in paths if path[0] == head and len(path) > 1])
        return copied
    if isinstance(node, list):
        inner = [path[1:] for path in paths if path[0] == "*" and len(path) > 1]
        return [detached(child, inner) for child in node] if inner else list(node)
    return node


def put(state: dict[str, Any], taken: dict[str, Any]) -> None:
    for dotted, value in taken.items():
        *route, last = dotted.split(".")
        target: Any = state
        for step in route:
            target = target[int(step)] if isinstance(target, list) else target[step]
        target[int(last) if isinstance(target, list) else last] = value


def _places(node: Any, path: Path, done: tuple[str, ...]):
    head, rest = path[0], path[1:]
    if head == "*":
        children = list(enumerate(node)) if isinstance(node, list) else []
    else:
        children = [(head, node[head])] if isinstance(node, dict) and head in node else []
    for step, child in children:
        if rest:
            yield from _places(child, rest, (*done, str(step)))
        else:
            yield (*done, str(step)), node, step
