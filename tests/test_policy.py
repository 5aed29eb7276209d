"""The access policy (cases/policy.py) for every role and scope, without HTTP: one row per rule
and target, one column per actor. `+` allowed, `-` refused."""

from uuid import uuid4

import pytest

from cases import policy, vocab
from cases.access import Actor
from cases.case import Case
from cases.errors import NotAllowed

ACTORS = {
    "W": Actor("wati", "worker", "pkh"),  # a PKH facilitator
    "S": Actor("sri", "supervisor", "pkh"),  # the PKH coordinator
    "D": Actor("dinsos", "supervisor", None),  # Dinas Sosial: every pillar
    "A": Actor("inspektur", "auditor", None),
    "X": Actor("root", "admin", None),
}


def _case(pillar: str, *, referred_to: str | None = None) -> Case:
    case = Case.open(actor="someone", beneficiary_id=uuid4(), pillar=pillar, desa_code="35.01.04.1001",
                     kecamatan_code="35.01.04", referral={"source": "musdes", "referred_by": "x", "reason": "y"},
                     categories=["fakir_miskin"], priority="normal")
    if referred_to:
        case.send_referral(actor="someone", to_pillar=referred_to, reason="needs them")
    return case


OWN = _case("pkh")
OTHER = _case("tksk")
REFERRED_TO_OWN = _case("tksk", referred_to="pkh")
REFERRED_AWAY = _case("pkh", referred_to="tksk")

MATRIX = {
    # rule and target                              W S D A X
    "read own pillar's case":                     ("++++-", lambda a: policy.read_case(a, OWN)),
    "read another pillar's case":                 ("--++-", lambda a: policy.read_case(a, OTHER)),
    "read a case referred to own pillar":         ("++++-", lambda a: policy.read_case(a, REFERRED_TO_OWN)),
    "write own pillar's case":                    ("+++--", lambda a: policy.write_case(a, OWN)),
    "write another pillar's case":                ("--+--", lambda a: policy.write_case(a, OTHER)),
    "write a case only referred to own pillar":   ("--+--", lambda a: policy.write_case(a, REFERRED_TO_OWN)),
    "any case write at all":                      ("+++--", lambda a: policy.write_cases(a)),
    "answer a referral to own pillar":            ("+++--", lambda a: policy.answer_referral(
        a, REFERRED_TO_OWN, REFERRED_TO_OWN.pending_referral["id"])),
    "answer a referral of another pillar's case": ("--+--", lambda a: policy.answer_referral(
        a, _case("tksk", referred_to="psm"), "r")),
    # The sending pillar is involved; the domain then refuses it (rule only_receiving_pillar).
    "answer own pillar's referral away":          ("+++--", lambda a: policy.answer_referral(
        a, REFERRED_AWAY, REFERRED_AWAY.pending_referral["id"])),
    "open a case in own pillar":                  ("+++--", lambda a: policy.open_case(a, "pkh")),
    "open a case in another pillar":              ("--+--", lambda a: policy.open_case(a, "tksk")),
    "assign a case to oneself":                   ("+++++", lambda a: policy.assign_to(a, a.username)),
    "assign a case to a colleague":               ("-++++", lambda a: policy.assign_to(a, "agus")),
    "read own pillar's workload":                 ("++++-", lambda a: policy.read_pillar(a, "pkh")),
    "read another pillar's workload":             ("--++-", lambda a: policy.read_pillar(a, "tksk")),
    "read beneficiaries":                         ("++++-", lambda a: policy.read_beneficiaries(a)),
    "register a beneficiary":                     ("+++--", lambda a: policy.register_beneficiary(a)),
    "correct a beneficiary":                      ("+++--", lambda a: policy.correct_beneficiary(a)),
    "record or withdraw consent":                 ("+++--", lambda a: policy.record_consent(a)),
    "erase personal data":                        ("-++--", lambda a: policy.erase_personal_data(a)),
    "manage users":                               ("----+", lambda a: policy.manage_users(a)),
    "change one's own password":                  ("+++++", lambda a: policy.change_password(a, a.username)),
    "change another's password":                  ("----+", lambda a: policy.change_password(a, "agus")),
    "audit: feed, verify, access log, past views": ("---+-", lambda a: policy.audit(a)),
}


def _allowed(rule, actor: Actor) -> bool:
    try:
        denial = rule(actor)
    except NotAllowed:
        return False
    if denial is not None:
        assert isinstance(denial, str) and denial, "a refusal says why"
    return denial is None


@pytest.mark.parametrize("name", MATRIX)
def test_the_policy_matrix(name):
    expected, rule = MATRIX[name]
    got = "".join("+" if _allowed(rule, actor) else "-" for actor in ACTORS.values())
    assert got == expected, f"{name}: {' '.join(ACTORS)} expected {expected}, got {got}"


def test_visible_pillars_by_scope():
    assert policy.visible_pillars(ACTORS["W"]) == ("pkh",)
    assert policy.visible_pillars(ACTORS["S"]) == ("pkh",)
    assert policy.visible_pillars(ACTORS["D"]) == vocab.PILLARS
    assert policy.visible_pillars(ACTORS["A"]) == vocab.PILLARS
    with pytest.raises(NotAllowed):
        policy.visible_pillars(ACTORS["X"])


def test_require_turns_a_refusal_into_not_allowed():
    policy.require(None)
    with pytest.raises(NotAllowed, match="only auditors read this"):
        policy.require(policy.audit(ACTORS["W"]))
