"""Long cases load from their newest snapshot (the only one kept); the state and every past version
stay exactly the same."""

from datetime import date, timedelta

from eventsourcing.application import project_aggregate

from cases.application import SNAPSHOT_INTERVAL
from testkit import factories


def test_a_long_case_is_snapshotted_and_loads_the_same(service, staff):
    wati = staff["wati"]
    body = factories.person()
    person = service.register_beneficiary(wati, nik=body["nik"], name=body["name"],
                                          birth_date=date.fromisoformat(body["birth_date"]), sex=body["sex"],
                                          desa_code=body["desa_code"])
    case_id = service.open_case(wati, beneficiary_id=person.id, pillar="pkh", priority="normal",
                                referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                                categories=["odgj"]).id
    service.assess_case(wati, case_id, needs=["care"], risk="low", summary="s")
    for n in range(2 * SNAPSHOT_INTERVAL + 5):
        service.give_aid(wati, case_id, component="care", item=f"item {n}", quantity=1, unit="x", value_idr=n,
                         funding_source="apbd", given_on=date.today() - timedelta(days=n % 30))
    # Only the newest snapshot is kept: each holds the whole case, so keeping all grew without bound.
    snapshots = list(service.snapshots.get(case_id))
    assert [s.originator_version for s in snapshots] == [2 * SNAPSHOT_INTERVAL]

    loaded = service.get_case(wati, case_id)
    from_events = project_aggregate(None, service.events.get(case_id))
    assert loaded.__dict__ == from_events.__dict__
    assert loaded.version == 2 * SNAPSHOT_INTERVAL + 7 and len(loaded.aid) == 2 * SNAPSHOT_INTERVAL + 5
    for version in (1, 2, SNAPSHOT_INTERVAL - 1, SNAPSHOT_INTERVAL, SNAPSHOT_INTERVAL + 1, 2 * SNAPSHOT_INTERVAL + 3):
        at = service.get_case(wati, case_id, version=version)
        expected = project_aggregate(None, service.events.get(case_id, lte=version))
        assert at.__dict__ == expected.__dict__, version
