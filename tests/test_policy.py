"""The access policy (pilar/cases/policy.py) for every role and scope, without HTTP: one row per rule
and target, one column per actor. `+` allowed, `-` refused."""

from uuid import uuid4

import pytest

from pilar.cases import policy, vocab
from pilar.cases.access import Actor
from pilar.cases.case import Case
from pilar.cases.errors import NotAllowed, RuleBroken

ACTORS = {
    "W": Actor("wati", "worker", "pkh"),  # a PKH facilitator
    "S": Actor("sri", "supervisor", "pkh"),  # the PKH coordinator
    "D": Actor("dinsos", "supervisor", None),  # Dinas Sosial: every pillar
    "A": Actor("inspektur", "auditor", None),
    "X": Actor("root", "admin", None),
    "M": Actor("mira", "supervisor", ("tksk", "psm")),  # a coordinator of two pillars, neither PKH
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


def _involved(*cases: Case) -> set[str]:
    """The pillars involved with a person whose cases are `cases` (each linked at its opening pillar)."""
    links = [{"case_id": c.id, "pillar": c.referrals[0]["from_pillar"] if c.referrals else c.pillar} for c in cases]
    return policy.involved_pillars(links, cases)


def _moved(from_pillar: str, to_pillar: str) -> Case:
    case = _case(from_pillar, referred_to=to_pillar)
    case.accept_referral(actor="someone", acting_for=(to_pillar,), referral_id=case.pending_referral["id"])
    return case


def _declined(from_pillar: str, to_pillar: str) -> Case:
    case = _case(from_pillar, referred_to=to_pillar)
    case.decline_referral(actor="someone", acting_for=(to_pillar,), referral_id=case.pending_referral["id"],
                          reason="not ours")
    return case


# A change to a person (pilar/cases/people.py asks these with the pillars of the person's stored cases).
PERSON_ACTIONS = ("correct", "consent", "erase")
PERSON_ROWS = [
    # whose (seen from PKH's side)          involved pillars                     correct   consent   erase
    ("with a case in own pillar",            _involved(OWN),                    ("+++---", "+++---", "-++---")),
    ("with a case only in another pillar",   _involved(OTHER),                  ("--+--+", "--+--+", "--+--+")),
    ("whose case own pillar held before",    _involved(_moved("pkh", "tksk")),  ("+++--+", "+++--+", "-++--+")),
    ("whose case moved to own pillar",       _involved(_moved("tksk", "pkh")),  ("+++--+", "+++--+", "-++--+")),
    ("whose case is referred to own pillar", _involved(REFERRED_TO_OWN),        ("+++--+", "+++--+", "-++--+")),
    ("whose referral own pillar declined",   _involved(_declined("tksk", "pkh")), ("--+--+", "--+--+", "--+--+")),
    ("with cases in own and another pillar", _involved(OWN, OTHER),             ("+++--+", "+++--+", "-++--+")),
    ("with no case yet",                     set(),                             ("+++--+", "+++--+", "-++--+")),
]


def _person_rule(action: str, pillars: set[str]):
    return lambda a: policy.write_beneficiary(a, action, pillars, {"35.01.04"})


MATRIX = {
    # rule and target                              W S D A X M
    "read own pillar's case":                     ("++++--", lambda a: policy.read_case(a, OWN)),
    "read another pillar's case":                 ("--++-+", lambda a: policy.read_case(a, OTHER)),
    "read a case referred to own pillar":         ("++++-+", lambda a: policy.read_case(a, REFERRED_TO_OWN)),
    "write own pillar's case":                    ("+++---", lambda a: policy.write_case(a, OWN)),
    "write another pillar's case":                ("--+--+", lambda a: policy.write_case(a, OTHER)),
    "write a case only referred to own pillar":   ("--+--+", lambda a: policy.write_case(a, REFERRED_TO_OWN)),
    "any case write at all":                      ("+++--+", lambda a: policy.write_cases(a)),
    "answer a referral to own pillar":            ("+++--+", lambda a: policy.answer_referral(
        a, REFERRED_TO_OWN, REFERRED_TO_OWN.pending_referral["id"])),
    "answer a referral of another pillar's case": ("--+--+", lambda a: policy.answer_referral(
        a, _case("tksk", referred_to="psm"), "r")),
    # The sending pillar is involved; the domain then refuses it (rule only_receiving_pillar).
    "answer own pillar's referral away":          ("+++--+", lambda a: policy.answer_referral(
        a, REFERRED_AWAY, REFERRED_AWAY.pending_referral["id"])),
    "open a case in own pillar":                  ("+++---", lambda a: policy.open_case(a, "pkh")),
    "open a case in another pillar":              ("--+--+", lambda a: policy.open_case(a, "tksk")),
    "assign a case to oneself":                   ("++++++", lambda a: policy.assign_to(a, a.username)),
    "assign a case to a colleague":               ("-+++++", lambda a: policy.assign_to(a, "agus")),
    "read own pillar's workload":                 ("++++--", lambda a: policy.read_pillar(a, "pkh")),
    "read another pillar's workload":             ("--++-+", lambda a: policy.read_pillar(a, "tksk")),
    "read beneficiaries":                         ("++++-+", lambda a: policy.read_beneficiaries(a)),
    "register a beneficiary":                     ("+++--+", lambda a: policy.register_beneficiary(a)),
    **{f"{action} a person {whose}": (expected, _person_rule(action, pillars))
       for whose, pillars, by_action in PERSON_ROWS
       for action, expected in zip(PERSON_ACTIONS, by_action)},
    "manage users":                               ("----+-", lambda a: policy.manage_users(a)),
    "change one's own password":                  ("++++++", lambda a: policy.change_password(a, a.username)),
    "change another's password":                  ("----+-", lambda a: policy.change_password(a, "agus")),
    "audit: feed, verify, access log, past views": ("---+--", lambda a: policy.audit(a)),
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
    assert policy.visible_pillars(ACTORS["M"]) == ("tksk", "psm")
    assert policy.privacy_request_pillars(ACTORS["M"]) == ("tksk", "psm")
    with pytest.raises(NotAllowed):
        policy.visible_pillars(ACTORS["X"])


def test_the_pillars_involved_with_a_person():
    assert _involved(OWN) == {"pkh"}
    assert _involved(REFERRED_TO_OWN) == {"tksk", "pkh"}  # asked by a pending referral
    assert _involved(_moved("tksk", "pkh")) == {"tksk", "pkh"}  # holds now, held before
    assert _involved(_declined("tksk", "pkh")) == {"tksk"}  # a declining pillar never held it
    twice = _moved("tksk", "pkh")
    twice.send_referral(actor="someone", to_pillar="psm", reason="needs them")
    twice.accept_referral(actor="someone", acting_for=("psm",), referral_id=twice.pending_referral["id"])
    assert policy.involved_pillars([{"case_id": twice.id, "pillar": "tksk"}], [twice]) == {"tksk", "pkh", "psm"}
    assert policy.involved_pillars([], []) == set()


def test_role_checks_before_the_person_is_loaded():
    for action in PERSON_ACTIONS:
        for who in "AX":
            assert policy.write_beneficiaries(ACTORS[who], action) is not None
        assert policy.write_beneficiaries(ACTORS["S"], action) is None
    assert policy.write_beneficiaries(ACTORS["W"], "correct") is None
    assert policy.write_beneficiaries(ACTORS["W"], "erase") == "only supervisors erase personal data"
    assert policy.write_beneficiary(ACTORS["W"], "correct", {"tksk"}, {"35.01.04"}) == (
        "only a pillar that holds or held a case of this person, in their kecamatan, or Dinas Sosial, "
        "may correct their details")


def test_require_turns_a_refusal_into_not_allowed():
    policy.require(None)
    with pytest.raises(NotAllowed, match="only auditors read this"):
        policy.require(policy.audit(ACTORS["W"]))


def test_an_actor_given_one_pillar_serves_that_pillar_only():
    assert Actor("wati", "worker", "pkh").pillars == ("pkh",)
    assert Actor("dinsos", "supervisor", None).pillars == ()
    assert (ACTORS["W"].pillar, ACTORS["D"].pillar, ACTORS["M"].pillar) == ("pkh", None, None)


def test_a_coordinator_of_several_pillars_answers_referrals_to_any_of_them():
    to_psm = _case("pkh", referred_to="psm")
    to_psm.accept_referral(actor="mira", acting_for=ACTORS["M"].pillars, referral_id=to_psm.pending_referral["id"])
    assert to_psm.pillar == "psm"
    with pytest.raises(RuleBroken, match="only pillar pkh can accept"):
        REFERRED_TO_OWN.accept_referral(actor="mira", acting_for=ACTORS["M"].pillars,
                                        referral_id=REFERRED_TO_OWN.pending_referral["id"])
