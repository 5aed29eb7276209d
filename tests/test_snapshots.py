"""Long cases load from their newest snapshot (the only one kept); the state and every past version
stay exactly the same. A case keeps the latest aid and completed follow-ups in full and counts of
everything (pilar/cases/case_record.py), so its state, snapshots and answer stay small; snapshots taken
when it kept everything load upcast."""

import dataclasses
import json
from datetime import date, timedelta

import pytest
from eventsourcing.application import project_aggregate

from pilar.cases import case_record
from pilar.cases.application import SNAPSHOT_INTERVAL
from pilar.cases.errors import NotFound, RuleBroken
from testkit import factories


def _assessed_case(service, wati):
    body = factories.person()
    person = service.register_beneficiary(wati, nik=body["nik"], name=body["name"],
                                          birth_date=date.fromisoformat(body["birth_date"]), sex=body["sex"],
                                          desa_code=body["desa_code"])
    case_id = service.open_case(wati, beneficiary_id=person.id, pillar="pkh", priority="normal",
                                referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                                categories=["odgj"]).id
    service.assess_case(wati, case_id, needs=["care"], risk="low", summary="s")
    return case_id


def _give_aid(service, wati, case_id, times):
    for n in range(times):
        service.give_aid(wati, case_id, component="care", item=f"item {n}", quantity=1, unit="x", value_idr=n,
                         funding_source="apbd", given_on=date.today() - timedelta(days=n % 30))


def test_a_long_case_is_snapshotted_and_loads_the_same(service, staff):
    wati = staff["wati"]
    case_id = _assessed_case(service, wati)
    _give_aid(service, wati, case_id, 2 * SNAPSHOT_INTERVAL + 5)
    # Only the newest snapshot is kept: each holds the whole case, so keeping all grew without bound.
    snapshots = list(service.snapshots.get(case_id))
    assert [s.originator_version for s in snapshots] == [2 * SNAPSHOT_INTERVAL]

    loaded = service.get_case(wati, case_id)
    from_events = project_aggregate(None, service.events.get(case_id))
    assert loaded.__dict__ == from_events.__dict__
    given = 2 * SNAPSHOT_INTERVAL + 5
    assert loaded.version == given + 2 and loaded.aid_count == given
    assert [entry["item"] for entry in loaded.aid] == [f"item {n}" for n in range(given - case_record.AID_KEPT, given)]
    assert loaded.aid_value_idr == sum(range(given)) and loaded.status == "aided"
    for version in (1, 2, SNAPSHOT_INTERVAL - 1, SNAPSHOT_INTERVAL, SNAPSHOT_INTERVAL + 1, 2 * SNAPSHOT_INTERVAL + 3):
        at = service.get_case(wati, case_id, version=version)
        expected = project_aggregate(None, service.events.get(case_id, lte=version))
        assert at.__dict__ == expected.__dict__, version


def test_completed_follow_ups_beyond_the_latest_are_counted_and_still_complete_once(service, staff):
    wati = staff["wati"]
    case_id = _assessed_case(service, wati)
    due = date.today() + timedelta(days=7)
    ids = [service.schedule_follow_up(wati, case_id, due_on=due, purpose=f"kunjungan {n}").extra["follow_up_id"]
           for n in range(case_record.FOLLOW_UPS_KEPT + 10)]
    for follow_up_id in ids[:-3]:  # three stay open
        service.complete_follow_up(wati, case_id, follow_up_id, outcome="stable", notes="baik")
    case = service.get_case(wati, case_id)
    assert [f["id"] for f in case.follow_ups] == ids[7:]  # the latest 20 completed, then the 3 open
    assert case_record.summary(case)["follow_ups"] == {"scheduled": 30, "completed": 27, "open": 3, "shown": 23}
    assert case.next_follow_up_due == due
    with pytest.raises(RuleBroken) as again:
        service.complete_follow_up(wati, case_id, ids[0], outcome="stable", notes="lagi")
    assert again.value.rule == "follow_up_completes_once"
    with pytest.raises(NotFound):
        service.complete_follow_up(wati, case_id, "no-such-follow-up", outcome="stable", notes="x")
    assert case.__dict__ == project_aggregate(None, service.events.get(case_id)).__dict__


def test_a_snapshot_of_a_case_that_kept_everything_loads_upcast(service, staff):
    """A snapshot as Pilar took them before (every aid entry and follow-up, no counts, no
    class_version) loads as a case that keeps the latest and counts the rest."""
    wati = staff["wati"]
    case_id = _assessed_case(service, wati)
    _give_aid(service, wati, case_id, SNAPSHOT_INTERVAL - 10)  # below the interval: no snapshot yet
    from_events = project_aggregate(None, service.events.get(case_id))
    everything = [{**entry, "item": f"item {n}"} for n, entry in enumerate(
        [dict(from_events.aid[0])] * (SNAPSHOT_INTERVAL - 10))]
    service.take_snapshot(case_id)
    taken = next(iter(service.snapshots.get(case_id)))
    old_state = {key: value for key, value in taken.state.items() if key not in (
        "class_version", "aid_count", "aid_value_idr", "follow_ups_scheduled", "follow_ups_completed",
        "earlier_follow_up_ids")} | {"aid": everything}
    service.streams.drop_snapshots(service.snapshots.recorder.events_table_name, case_id, taken.originator_version + 1)
    service.snapshots.put([dataclasses.replace(taken, state=old_state)])
    loaded = service.get_case(wati, case_id)
    assert loaded.aid_count == SNAPSHOT_INTERVAL - 10 and len(loaded.aid) == case_record.AID_KEPT
    assert loaded.aid_value_idr == sum(entry["value_idr"] for entry in everything)
    assert json.dumps(case_record.summary(loaded))


def test_a_long_case_answers_its_latest_and_its_counts(client, auth, service, staff):
    wati = staff["wati"]
    case_id = _assessed_case(service, wati)
    _give_aid(service, wati, case_id, 3 * SNAPSHOT_INTERVAL)
    answer = client.get(f"/api/v1/cases/{case_id}", headers=auth("wati"))
    assert answer.status_code == 200
    assert answer.json["record"] == {
        "aid": {"count": 150, "value_idr": sum(range(150)), "shown": case_record.AID_KEPT},
        "follow_ups": {"scheduled": 0, "completed": 0, "open": 0, "shown": 0}}
    assert len(answer.json["aid"]) == case_record.AID_KEPT and answer.json["aid"][-1]["item"] == "item 149"
