"""SPEC §4 rules, derived case state and access scope, through the application service.

Every rejected command must append nothing: each rejection is checked against the store's
newest global position before and after.
"""

from contextlib import contextmanager
from datetime import date, timedelta

import pytest

from pilar.cases.errors import InvalidInput, NotAllowed, NotFound, RuleBroken
from testkit import factories

TODAY = date.today()



@contextmanager
def rejected(service, error=RuleBroken, rule=None):
    """The block raises `error` (with `rule`) and nothing is appended to the store."""
    before = service.recorder.max_notification_id()
    with pytest.raises(error) as info:
        yield info
    if rule is not None:
        assert info.value.rule == rule, str(info.value)
    assert service.recorder.max_notification_id() == before


def register(service, actor, **overrides):
    body = factories.person(**overrides)
    return service.register_beneficiary(
        actor, nik=body["nik"], kk=body["kk"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
        sex=body["sex"], desa_code=body["desa_code"], address=body["address"], phone=body["phone"],
    )


def open_case(service, actor, beneficiary_id=None, pillar=None):
    if beneficiary_id is None:
        beneficiary_id = register(service, actor).id
    body = factories.case(str(beneficiary_id), pillar=pillar or actor.pillar or "pkh")
    return service.open_case(
        actor, beneficiary_id=beneficiary_id, pillar=body["pillar"], referral=body["referral"],
        categories=body["categories"], priority=body["priority"],
    )


def assess(service, actor, case_id, **kw):
    body = {"needs": ["basic_needs"], "risk": "high", "summary": "needs food", "desil": {"value": 1, "period": "2026Q3"}}
    body.update(kw)
    return service.assess_case(actor, case_id, **body)


def give_aid(service, actor, case_id, **kw):
    body = {"component": "basic_needs", "item": "paket sembako", "quantity": 1, "unit": "paket", "value_idr": 300_000,
            "funding_source": "apbd", "given_on": TODAY}
    body.update(kw)
    return service.give_aid(actor, case_id, **body)


def schedule(service, actor, case_id, days=14):
    return service.schedule_follow_up(actor, case_id, due_on=TODAY + timedelta(days=days), purpose="visit")


def case_of(service, actor, case_id):
    return service.get_case(actor, case_id)


# ================================================================ SPEC §4 rules
def test_aid_needs_a_prior_assessment(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    with rejected(service, rule="aid_needs_assessment"):
        give_aid(service, wati, case_id)
    assess(service, wati, case_id)
    result = give_aid(service, wati, case_id)
    assert result.version == 3
    assert case_of(service, wati, case_id).aid[0]["value_idr"] == 300_000


def test_closed_case_accepts_nothing_but_reopening(service, staff):
    wati, joko, sri = staff["wati"], staff["joko"], staff["sri"]
    case_id = open_case(service, wati).id
    assess(service, wati, case_id)
    follow_up_id = schedule(service, wati, case_id).extra["follow_up_id"]
    referral_id = service.send_referral(wati, case_id, to_pillar="tksk", reason="needs a TKSK").extra["referral_id"]
    service.close_case(wati, case_id, outcome="graduated", note="mandiri")
    assert case_of(service, wati, case_id).status == "closed"

    commands = {
        "assign (self)": lambda: service.assign_case(wati, case_id, worker="wati"),
        "assign (supervisor)": lambda: service.assign_case(sri, case_id, worker="agus"),
        "assess": lambda: assess(service, wati, case_id),
        "give aid": lambda: give_aid(service, wati, case_id),
        "schedule follow-up": lambda: schedule(service, wati, case_id),
        "complete follow-up": lambda: service.complete_follow_up(wati, case_id, follow_up_id, outcome="stable",
                                                                 notes=""),
        "send referral": lambda: service.send_referral(wati, case_id, to_pillar="psm", reason="x"),
        "accept referral": lambda: service.accept_referral(joko, case_id, referral_id),
        "decline referral": lambda: service.decline_referral(joko, case_id, referral_id, reason="x"),
        "close again": lambda: service.close_case(wati, case_id, outcome="other", note=""),
    }
    for name, command in commands.items():
        with rejected(service, rule="case_closed") as info:
            command()
        assert info.value.rule == "case_closed", name

    reopened = service.reopen_case(wati, case_id, reason="relapsed")
    case = case_of(service, wati, case_id)
    assert case.version == reopened.version
    assert case.closed_at is None and case.outcome is None
    assert case.reopenings[0]["previous_outcome"] == "graduated"
    # Once reopened, work goes on.
    assert give_aid(service, wati, case_id).version == reopened.version + 1


def test_reopen_only_a_closed_case(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    with rejected(service, rule="reopen_only_closed"):
        service.reopen_case(wati, case_id, reason="?")
    service.close_case(wati, case_id, outcome="lost_contact", note="")
    service.reopen_case(wati, case_id, reason="found again")
    with rejected(service, rule="reopen_only_closed"):
        service.reopen_case(wati, case_id, reason="twice")


def test_a_follow_up_completes_once(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    follow_up_id = schedule(service, wati, case_id).extra["follow_up_id"]
    service.complete_follow_up(wati, case_id, follow_up_id, outcome="improved", notes="ok")
    with rejected(service, rule="follow_up_completes_once"):
        service.complete_follow_up(wati, case_id, follow_up_id, outcome="worse", notes="again")
    follow_up = case_of(service, wati, case_id).follow_ups[0]
    assert follow_up["outcome"] == "improved" and follow_up["completed_by"] == "wati"


def test_unknown_follow_up_and_referral_are_not_found(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    case_id = open_case(service, wati).id
    with rejected(service, NotFound):
        service.complete_follow_up(wati, case_id, "no-such-follow-up", outcome="stable", notes="")
    with rejected(service, NotFound):
        service.accept_referral(wati, case_id, "no-such-referral")
    service.send_referral(wati, case_id, to_pillar="tksk", reason="x")
    with rejected(service, NotFound):
        service.decline_referral(joko, case_id, "no-such-referral", reason="x")


def test_only_the_receiving_pillar_accepts_or_declines(service, staff):
    wati, sri, joko = staff["wati"], staff["sri"], staff["joko"]
    case_id = open_case(service, wati).id
    referral_id = service.send_referral(wati, case_id, to_pillar="tksk", reason="needs a TKSK").extra["referral_id"]
    # pkh still holds the case, but a pkh worker or pkh supervisor acts for pkh, not tksk.
    for actor in (wati, sri):
        with rejected(service, rule="only_receiving_pillar"):
            service.accept_referral(actor, case_id, referral_id)
        with rejected(service, rule="only_receiving_pillar"):
            service.decline_referral(actor, case_id, referral_id, reason="no")
    assert case_of(service, wati, case_id).pending_referral["id"] == referral_id
    service.accept_referral(joko, case_id, referral_id)
    assert case_of(service, joko, case_id).pillar == "tksk"


def test_a_referral_is_answered_once(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    accepted_case = open_case(service, wati).id
    rid = service.send_referral(wati, accepted_case, to_pillar="tksk", reason="x").extra["referral_id"]
    service.accept_referral(joko, accepted_case, rid)
    with rejected(service, rule="referral_answered_once"):
        service.accept_referral(joko, accepted_case, rid)
    with rejected(service, rule="referral_answered_once"):
        service.decline_referral(joko, accepted_case, rid, reason="changed my mind")

    declined_case = open_case(service, wati).id
    rid = service.send_referral(wati, declined_case, to_pillar="tksk", reason="x").extra["referral_id"]
    service.decline_referral(joko, declined_case, rid, reason="not ours")
    # The receiving pillar answering again is told the rule, not that the case is outside its pillar.
    with rejected(service, rule="referral_answered_once"):
        service.decline_referral(joko, declined_case, rid, reason="again")
    with rejected(service, rule="referral_answered_once"):
        service.accept_referral(joko, declined_case, rid)


def test_a_supervisor_of_every_pillar_may_answer_a_referral(service, staff):
    wati, dinsos = staff["wati"], staff["dinsos"]
    case_id = open_case(service, wati).id
    rid = service.send_referral(wati, case_id, to_pillar="tksk", reason="x").extra["referral_id"]
    service.decline_referral(dinsos, case_id, rid, reason="not needed")
    case = case_of(service, wati, case_id)
    assert case.pillar == "pkh" and case.pending_referral is None
    assert case.referrals[0]["status"] == "declined" and case.referrals[0]["decline_reason"] == "not needed"


def test_one_pending_referral_at_a_time(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    case_id = open_case(service, wati).id
    rid = service.send_referral(wati, case_id, to_pillar="tksk", reason="x").extra["referral_id"]
    with rejected(service, rule="one_pending_referral"):
        service.send_referral(wati, case_id, to_pillar="psm", reason="y")
    with rejected(service, rule="one_pending_referral"):
        service.send_referral(wati, case_id, to_pillar="tksk", reason="again")
    service.decline_referral(joko, case_id, rid, reason="no")
    # Once answered, another referral may be sent.
    second = service.send_referral(wati, case_id, to_pillar="psm", reason="y").extra["referral_id"]
    assert case_of(service, wati, case_id).pending_referral["id"] == second


def test_a_referral_goes_to_another_pillar(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    with rejected(service, rule="referral_to_other_pillar"):
        service.send_referral(wati, case_id, to_pillar="pkh", reason="x")
    with rejected(service, InvalidInput) as info:
        service.send_referral(wati, case_id, to_pillar="dinas", reason="x")
    assert "to_pillar" in info.value.errors


# ================================================================ derived state
def test_status_referred_assessed_aided_closed_and_back(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    statuses = [case_of(service, wati, case_id).status]
    assess(service, wati, case_id)
    statuses.append(case_of(service, wati, case_id).status)
    give_aid(service, wati, case_id)
    statuses.append(case_of(service, wati, case_id).status)
    service.close_case(wati, case_id, outcome="graduated", note="")
    statuses.append(case_of(service, wati, case_id).status)
    service.reopen_case(wati, case_id, reason="back")
    statuses.append(case_of(service, wati, case_id).status)
    assert statuses == ["referred", "assessed", "aided", "closed", "aided"]

    # A case closed before any assessment reopens as referred; one closed after it, as assessed.
    other = open_case(service, wati).id
    service.close_case(wati, other, outcome="duplicate", note="")
    service.reopen_case(wati, other, reason="not a duplicate")
    assert case_of(service, wati, other).status == "referred"
    assess(service, wati, other)
    service.close_case(wati, other, outcome="moved_away", note="")
    service.reopen_case(wati, other, reason="came back")
    assert case_of(service, wati, other).status == "assessed"


def test_next_follow_up_due_is_the_earliest_uncompleted(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    case = case_of(service, wati, case_id)
    assert case.next_follow_up_due is None and not case.overdue(TODAY + timedelta(days=365))

    later = schedule(service, wati, case_id, days=20).extra["follow_up_id"]
    sooner = schedule(service, wati, case_id, days=10).extra["follow_up_id"]
    schedule(service, wati, case_id, days=30)
    assert case_of(service, wati, case_id).next_follow_up_due == TODAY + timedelta(days=10)

    service.complete_follow_up(wati, case_id, sooner, outcome="stable", notes="")
    case = case_of(service, wati, case_id)
    assert case.next_follow_up_due == TODAY + timedelta(days=20)
    service.complete_follow_up(wati, case_id, later, outcome="improved", notes="")
    assert case_of(service, wati, case_id).next_follow_up_due == TODAY + timedelta(days=30)


def test_overdue_when_the_next_follow_up_is_past(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    fid = schedule(service, wati, case_id, days=10).extra["follow_up_id"]
    case = case_of(service, wati, case_id)
    assert not case.overdue(TODAY)
    assert not case.overdue(TODAY + timedelta(days=10))  # due today is not yet overdue
    assert case.overdue(TODAY + timedelta(days=11))

    # Completing the due follow-up clears it.
    service.complete_follow_up(wati, case_id, fid, outcome="stable", notes="")
    assert not case_of(service, wati, case_id).overdue(TODAY + timedelta(days=11))

    # A closed case is never overdue, even with an uncompleted follow-up.
    schedule(service, wati, case_id, days=1)
    assert case_of(service, wati, case_id).overdue(TODAY + timedelta(days=2))
    service.close_case(wati, case_id, outcome="graduated", note="")
    assert not case_of(service, wati, case_id).overdue(TODAY + timedelta(days=2))


def test_accepted_referral_moves_the_case_and_clears_the_worker(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    case_id = open_case(service, wati).id
    service.assign_case(wati, case_id, worker="wati")
    assert case_of(service, wati, case_id).worker == "wati"

    rid = service.send_referral(wati, case_id, to_pillar="tksk", reason="needs a TKSK").extra["referral_id"]
    pending = case_of(service, wati, case_id).pending_referral
    assert pending["id"] == rid and pending["to_pillar"] == "tksk" and pending["from_pillar"] == "pkh"
    assert pending["status"] == "pending"
    # Still the sending pillar's case while pending.
    assert case_of(service, wati, case_id).pillar == "pkh"

    service.accept_referral(joko, case_id, rid)
    case = case_of(service, joko, case_id)
    assert case.pillar == "tksk"
    assert case.worker is None
    assert case.pending_referral is None
    assert case.referrals[0]["status"] == "accepted" and case.referrals[0]["answered_by"] == "joko"
    # The new pillar works the case; the old one no longer may.
    service.assign_case(joko, case_id, worker="joko")
    with rejected(service, NotAllowed):
        assess(service, wati, case_id)
    with rejected(service, NotAllowed):
        service.get_case(wati, case_id)


def test_declined_referral_leaves_the_case_where_it_was(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    case_id = open_case(service, wati).id
    service.assign_case(wati, case_id, worker="wati")
    rid = service.send_referral(wati, case_id, to_pillar="tksk", reason="x").extra["referral_id"]
    service.decline_referral(joko, case_id, rid, reason="outside our field")
    case = case_of(service, wati, case_id)
    assert case.pillar == "pkh" and case.worker == "wati" and case.pending_referral is None


# ================================================================ access
def test_a_worker_of_another_pillar_cannot_write_the_case(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    case_id = open_case(service, wati).id
    follow_up_id = schedule(service, wati, case_id).extra["follow_up_id"]
    writes = [
        lambda: service.assign_case(joko, case_id, worker="joko"),
        lambda: assess(service, joko, case_id),
        lambda: give_aid(service, joko, case_id),
        lambda: schedule(service, joko, case_id),
        lambda: service.complete_follow_up(joko, case_id, follow_up_id, outcome="stable", notes=""),
        lambda: service.send_referral(joko, case_id, to_pillar="psm", reason="x"),
        lambda: service.close_case(joko, case_id, outcome="graduated", note=""),
    ]
    for write in writes:
        with rejected(service, NotAllowed):
            write()
    with rejected(service, NotAllowed):
        service.get_case(joko, case_id)
    with rejected(service, NotAllowed):
        open_case(service, joko, case_of(service, wati, case_id).beneficiary_id, pillar="pkh")


def test_a_pillar_supervisor_and_a_dinsos_supervisor_write_within_scope(service, staff):
    wati, sri, dinsos = staff["wati"], staff["sri"], staff["dinsos"]
    case_id = open_case(service, wati).id
    assess(service, sri, case_id)
    give_aid(service, dinsos, case_id)
    assert case_of(service, dinsos, case_id).status == "aided"
    tksk_case = open_case(service, dinsos, pillar="tksk").id
    with rejected(service, NotAllowed):
        assess(service, sri, tksk_case)


def test_the_auditor_reads_everything_and_writes_nothing(service, staff):
    wati, auditor = staff["wati"], staff["inspektur"]
    person_id = register(service, wati).id
    case_id = open_case(service, wati, person_id).id
    assert service.get_case(auditor, case_id).id == case_id
    assert service.get_beneficiary(auditor, person_id).id == person_id
    writes = [
        lambda: register(service, auditor),
        lambda: open_case(service, auditor, person_id, pillar="pkh"),
        lambda: service.assign_case(auditor, case_id, worker="wati"),
        lambda: assess(service, auditor, case_id),
        lambda: give_aid(service, auditor, case_id),
        lambda: schedule(service, auditor, case_id),
        lambda: service.send_referral(auditor, case_id, to_pillar="tksk", reason="x"),
        lambda: service.close_case(auditor, case_id, outcome="graduated", note=""),
        lambda: service.reopen_case(auditor, case_id, reason="x"),
        lambda: service.record_consent(auditor, person_id, given_by="x", method="written", purpose="x"),
        lambda: service.correct_beneficiary(auditor, person_id, changes={"name": "X"}, reason="x"),
        lambda: service.erase_personal_data(auditor, person_id, reason="x"),
    ]
    for write in writes:
        with rejected(service, NotAllowed):
            write()


def test_the_admin_reads_no_case_and_no_beneficiary(service, staff):
    wati, root = staff["wati"], staff["root"]
    person_id = register(service, wati).id
    case_id = open_case(service, wati, person_id).id
    nik = service.get_beneficiary(wati, person_id).nik
    with rejected(service, NotAllowed):
        service.get_case(root, case_id)
    with rejected(service, NotAllowed):
        service.get_beneficiary(root, person_id)
    with rejected(service, NotAllowed):
        service.find_beneficiary_by_nik(root, nik)
    with rejected(service, NotAllowed):
        assess(service, root, case_id)


def test_a_worker_assigns_only_to_themselves(service, staff):
    wati = staff["wati"]
    case_id = open_case(service, wati).id
    with rejected(service, NotAllowed):
        service.assign_case(wati, case_id, worker="agus")
    service.assign_case(wati, case_id, worker="wati")
    assert case_of(service, wati, case_id).worker == "wati"


def test_a_supervisor_assigns_a_worker_of_the_pillar(service, staff):
    wati, sri, dinsos = staff["wati"], staff["sri"], staff["dinsos"]
    case_id = open_case(service, wati).id
    service.assign_case(sri, case_id, worker="agus")
    assert case_of(service, wati, case_id).worker == "agus"
    service.assign_case(dinsos, case_id, worker="wati")
    assert case_of(service, wati, case_id).worker == "wati"
    for not_a_worker_of_pkh in ("joko", "sri", "dinsos", "inspektur", "root", "nobody"):
        for supervisor in (sri, dinsos):
            with rejected(service, InvalidInput) as info:
                service.assign_case(supervisor, case_id, worker=not_a_worker_of_pkh)
            assert list(info.value.errors) == ["worker"]


# ================================================================ input checks in the service
def test_rejected_registrations_name_the_field(service, staff):
    wati = staff["wati"]
    with rejected(service, InvalidInput) as info:
        register(service, wati, desa_code="35.01.04")  # a kecamatan, not a desa
    assert "desa_code" in info.value.errors
    with rejected(service, InvalidInput) as info:
        register(service, wati, nik=factories.nik_for(date(1950, 3, 15), "P"))  # birth_date is 14 March
    assert "nik" in info.value.errors
    with rejected(service, InvalidInput) as info:
        register(service, wati, nik=factories.nik_for(date(1950, 3, 14), "L"))  # sex is P
    assert "nik" in info.value.errors
    future = TODAY + timedelta(days=400)
    with rejected(service, InvalidInput) as info:
        register(service, wati, birth_date=future.isoformat())
    assert "birth_date" in info.value.errors


def test_the_same_nik_is_registered_once(service, staff):
    from pilar.cases.errors import DuplicateNik

    wati = staff["wati"]
    body = factories.person()
    first = register(service, wati, nik=body["nik"])
    with rejected(service, DuplicateNik) as info:
        register(service, staff["joko"], nik=body["nik"], name="Someone Else")
    assert info.value.existing_id == first.id


def test_an_unknown_case_is_not_found(service, staff):
    import uuid

    with rejected(service, NotFound):
        assess(service, staff["wati"], uuid.uuid4())
    with rejected(service, NotFound):
        service.get_case(staff["wati"], uuid.uuid4())


# ================================================================ beneficiary rules
def test_an_erased_person_is_never_corrected_nor_given_consent(service, staff):
    wati, sri = staff["wati"], staff["sri"]
    person_id = register(service, wati).id
    service.erase_personal_data(sri, person_id, reason="asked for erasure")
    with rejected(service, rule="erased_is_final"):
        service.correct_beneficiary(wati, person_id, changes={"name": "Someone"}, reason="typo")
    with rejected(service, rule="erased_is_final"):
        service.correct_beneficiary(wati, person_id, changes={"address": "RT 03"}, reason="moved")
    with rejected(service, rule="erased_is_final"):
        service.record_consent(wati, person_id, given_by="x", method="written", purpose="x")
    with rejected(service, rule="erased_is_final"):
        service.erase_personal_data(sri, person_id, reason="again")
    with rejected(service, rule="erased_is_final"):
        open_case(service, wati, person_id)


def test_only_a_supervisor_erases(service, staff):
    person_id = register(service, staff["wati"]).id
    for who in ("wati", "inspektur", "root"):
        with rejected(service, NotAllowed):
            service.erase_personal_data(staff[who], person_id, reason="x")


def test_consent_is_withdrawn_only_after_it_was_given(service, staff):
    wati = staff["wati"]
    person_id = register(service, wati).id
    with rejected(service, rule="consent_withdrawn_after_given"):
        service.withdraw_consent(wati, person_id, reason="x")
    service.record_consent(wati, person_id, given_by="herself", method="thumbprint", purpose="case work")
    service.withdraw_consent(wati, person_id, reason="changed her mind")
    with rejected(service, rule="consent_withdrawn_after_given"):
        service.withdraw_consent(wati, person_id, reason="twice")


def test_a_correction_changes_something(service, staff):
    wati = staff["wati"]
    person_id = register(service, wati, name="Mbah Sainem").id
    with rejected(service, rule="correction_changes_something"):
        service.correct_beneficiary(wati, person_id, changes={"name": "Mbah Sainem"}, reason="x")
    with rejected(service, InvalidInput) as info:
        service.correct_beneficiary(wati, person_id, changes={"kecamatan_code": "35.01.01"}, reason="x")
    assert "kecamatan_code" in info.value.errors


def test_erased_personal_data_is_not_readable_from_the_store(service, staff):
    wati, sri = staff["wati"], staff["sri"]
    body = factories.person(name="Mbah Sainem Erased")
    person_id = register(service, wati, nik=body["nik"], name=body["name"]).id
    service.erase_personal_data(sri, person_id, reason="asked for erasure")
    stored = b"".join(event.state for event in service.recorder.select_events(person_id))
    assert body["nik"].encode() not in stored
    assert body["name"].encode() not in stored


# ================================================================ lawful basis and consent (UU PDP)
CONSENT = dict(given_by="herself", method="thumbprint", purpose="case work by the pillars")


def open_on(service, actor, beneficiary_id, basis):
    body = factories.case(str(beneficiary_id), pillar=actor.pillar or "pkh")
    return service.open_case(actor, beneficiary_id=beneficiary_id, pillar=body["pillar"], referral=body["referral"],
                             categories=body["categories"], priority=body["priority"], lawful_basis=basis)


def consent_case(service, staff):
    """A consent-basis case with an assessment, a follow-up and consent on record."""
    wati = staff["wati"]
    person_id = register(service, wati).id
    service.record_consent(wati, person_id, **CONSENT)
    case_id = open_on(service, wati, person_id, "consent").id
    assess(service, wati, case_id)
    follow_up_id = schedule(service, wati, case_id).extra["follow_up_id"]
    return person_id, case_id, follow_up_id


def test_a_case_records_its_basis_and_public_task_is_the_default(service, staff):
    wati = staff["wati"]
    assert case_of(service, wati, open_case(service, wati).id).lawful_basis == "public_task"
    person_id = register(service, wati).id
    assert case_of(service, wati, open_on(service, wati, person_id, "vital_interest").id).lawful_basis == "vital_interest"
    with rejected(service, InvalidInput) as info:
        open_on(service, wati, person_id, "whim")
    assert "lawful_basis" in info.value.errors


def test_opening_a_consent_case_needs_consent_on_record(service, staff):
    wati = staff["wati"]
    person_id = register(service, wati).id
    with rejected(service, rule="consent_required"):
        open_on(service, wati, person_id, "consent")
    service.record_consent(wati, person_id, **CONSENT)
    assert case_of(service, wati, open_on(service, wati, person_id, "consent").id).lawful_basis == "consent"
    service.withdraw_consent(wati, person_id, reason="changed her mind")
    with rejected(service, rule="consent_withdrawn"):
        open_on(service, wati, person_id, "consent")
    open_on(service, wati, person_id, "public_task")  # her mandate-based cases are not consent's to stop


STEPS = {
    "assignment": lambda s, st, c, f: s.assign_case(st["wati"], c, worker="wati"),
    "assessment": lambda s, st, c, f: assess(s, st["wati"], c, summary="again"),
    "aid": lambda s, st, c, f: give_aid(s, st["wati"], c),
    "follow-up": lambda s, st, c, f: schedule(s, st["wati"], c),
    "follow-up completion": lambda s, st, c, f: s.complete_follow_up(st["wati"], c, f, outcome="stable", notes="ok"),
    "referral": lambda s, st, c, f: s.send_referral(st["wati"], c, to_pillar="tksk", reason="needs a TKSK"),
}


@pytest.mark.parametrize("step", STEPS)
def test_on_a_consent_case_each_step_needs_consent_in_force(service, staff, step):
    person_id, case_id, follow_up_id = consent_case(service, staff)
    STEPS[step](service, staff, case_id, follow_up_id)  # allowed while consent is in force
    service.withdraw_consent(staff["wati"], person_id, reason="changed her mind")
    with rejected(service, rule="consent_withdrawn") as info:
        STEPS[step](service, staff, case_id, follow_up_id)
    assert step in info.value.message


def test_after_a_withdrawal_a_consent_case_can_still_be_closed_but_not_reopened(service, staff):
    wati = staff["wati"]
    person_id, case_id, _ = consent_case(service, staff)
    service.withdraw_consent(wati, person_id, reason="changed her mind")
    service.close_case(wati, case_id, outcome="declined_service", note="")
    with rejected(service, rule="consent_withdrawn"):
        service.reopen_case(wati, case_id, reason="she came back")
    service.record_consent(wati, person_id, **CONSENT)  # consent given again: the work may go on
    service.reopen_case(wati, case_id, reason="she came back")
    assess(service, wati, case_id)


def test_after_a_withdrawal_a_pending_referral_can_be_declined_not_accepted(service, staff):
    wati, joko = staff["wati"], staff["joko"]
    person_id, case_id, _ = consent_case(service, staff)
    referral_id = service.send_referral(wati, case_id, to_pillar="tksk", reason="x").extra["referral_id"]
    service.withdraw_consent(wati, person_id, reason="changed her mind")
    with rejected(service, rule="consent_withdrawn"):
        service.accept_referral(joko, case_id, referral_id)
    service.decline_referral(joko, case_id, referral_id, reason="consent withdrawn")


def test_a_withdrawal_does_not_stop_a_case_on_another_basis(service, staff):
    wati = staff["wati"]
    person_id = register(service, wati).id
    service.record_consent(wati, person_id, **CONSENT)
    case_id = open_on(service, wati, person_id, "public_task").id
    service.withdraw_consent(wati, person_id, reason="changed her mind")
    assess(service, wati, case_id)
    give_aid(service, wati, case_id)
    schedule(service, wati, case_id)


def test_a_coordinator_changes_the_basis_moving_to_consent_only_with_consent(service, staff):
    wati, sri = staff["wati"], staff["sri"]
    case_id = open_case(service, wati).id
    person_id = case_of(service, wati, case_id).beneficiary_id
    with rejected(service, NotAllowed):
        service.change_lawful_basis(wati, case_id, lawful_basis="consent", reason="x")
    with rejected(service, rule="lawful_basis_changes_something"):
        service.change_lawful_basis(sri, case_id, lawful_basis="public_task", reason="x")
    with rejected(service, rule="consent_required"):
        service.change_lawful_basis(sri, case_id, lawful_basis="consent", reason="she prefers to consent")
    service.record_consent(wati, person_id, **CONSENT)
    service.change_lawful_basis(sri, case_id, lawful_basis="consent", reason="she prefers to consent")
    service.withdraw_consent(wati, person_id, reason="changed her mind")
    with rejected(service, rule="consent_withdrawn"):
        assess(service, wati, case_id)
    # A coordinator may find that another ground applies (e.g. a child in danger): recorded, with the reason.
    service.change_lawful_basis(sri, case_id, lawful_basis="vital_interest", reason="child in danger")
    assess(service, wati, case_id)
    assert case_of(service, wati, case_id).lawful_basis == "vital_interest"


def test_an_erasure_request_is_recorded_once(service, staff):
    wati, sri = staff["wati"], staff["sri"]
    person_id = register(service, wati).id
    service.request_erasure(wati, person_id, reason="asked at the desa office")
    with rejected(service, rule="erasure_requested_once"):
        service.request_erasure(wati, person_id, reason="again")
    service.erase_personal_data(sri, person_id, reason="request of 1 May")
    with rejected(service, rule="erased_is_final"):
        service.request_erasure(wati, person_id, reason="again")
