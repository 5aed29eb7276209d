"""Free text in case events, NIK claims and request fingerprints hold nothing a copy of the
database can read or search (issue 12, item 2), and erasure reaches all of them."""

from dataclasses import replace
from datetime import date
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from pilar.audit import export
from pilar.bootstrap import bootstrap, init_store
from pilar.cases.beneficiary import NikClaim
from pilar.cases.domain import PILAR_NAMESPACE
from pilar.cases.lookup import LookupKey
from pilar.store.key_checks import KeyMismatch
from testkit import factories
from testkit.fixtures import own_database_store_url
from tests.test_erasure_files import live_files
from tests.test_kek import _database_bytes

API = "/api/v1"
SECRETS = {
    "referred_by": "Pak Sukirman Tetangga",
    "referral": "diusir anaknya Suparno",
    "summary": "depresi berat sejak 2019",
    "purpose": "cek obat dari Puskesmas Arjosari",
    "notes": "ditemani cucunya Lestari",
    "sent": "butuh pendampingan jiwa Bu Painem",
    "close": "pindah ke rumah adiknya Warsini",
    "reopen": "kembali karena Warsini sakit",
}


def _story(client, auth) -> tuple[dict, str, str]:
    """A person and a case carrying every kind of free text, written through the API."""
    person = factories.person(name="Mbah Rahasia Sekali", phone="+62 813 5555 7777")
    person_id = client.post(f"{API}/beneficiaries", json=person, headers=auth("wati")).json["id"]
    case = factories.case(person_id, referral={"source": "musdes", "referred_by": SECRETS["referred_by"],
                                               "reason": SECRETS["referral"]})
    case_id = client.post(f"{API}/cases", json=case, headers=auth("wati")).json["id"]
    w = auth("wati")
    assert client.post(f"{API}/cases/{case_id}/assessments",
                       json=factories.assessment(summary=SECRETS["summary"]), headers=w).status_code in (200, 201)
    fid = client.post(f"{API}/cases/{case_id}/follow-ups", json=factories.follow_up(purpose=SECRETS["purpose"]),
                      headers=w).json["follow_up_id"]
    assert client.post(f"{API}/cases/{case_id}/follow-ups/{fid}/completion",
                       json={"outcome": "stable", "notes": SECRETS["notes"]}, headers=w).status_code in (200, 201)
    assert client.post(f"{API}/cases/{case_id}/referrals", json={"to_pillar": "tksk", "reason": SECRETS["sent"]},
                       headers=w).status_code in (200, 201)
    assert client.post(f"{API}/cases/{case_id}/closure", json={"outcome": "moved_away", "note": SECRETS["close"]},
                       headers=auth("sri")).status_code in (200, 201)
    assert client.post(f"{API}/cases/{case_id}/reopening", json={"reason": SECRETS["reopen"]},
                       headers=auth("sri")).status_code in (200, 201)
    return person, person_id, case_id


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path: Path):
    # A database of its own: another session's open transaction would rightly keep an erasure's
    # shred owed (VACUUM cannot drop a row it still sees), and these tests grep the files at once.
    with own_database_store_url(request.param, tmp_path) as url:
        yield url


def test_case_free_text_is_encrypted_and_erased_with_the_person(client, auth, settings, service, catch_up,
                                                                 shreds_settled):
    person, person_id, case_id = _story(client, auth)
    catch_up()
    stolen = _database_bytes(settings)
    for text in (*SECRETS.values(), person["nik"], person["name"], "5555 7777"):
        assert text.encode() not in stolen, text
    case = client.get(f"{API}/cases/{case_id}", headers=auth("sri")).json
    assert case["assessment"]["summary"] == SECRETS["summary"]
    assert case["referral"]["referred_by"] == SECRETS["referred_by"]

    with service.personal_keys.readers.connection() as conn:
        wrapped = [row[0].encode() for row in conn.all("SELECT key FROM personal_keys")]
    assert len(wrapped) == 3  # the person's, the case's and the NIK holding's
    assert all(key in live_files(settings) for key in wrapped)

    assert client.post(f"{API}/beneficiaries/{person_id}/erasure", json={"reason": "she asked"},
                       headers=auth("sri")).status_code == 200
    assert shreds_settled() == []
    live = live_files(settings)
    assert [key for key in wrapped if key in live] == []
    assert not any(text.encode() in live for text in (*SECRETS.values(), person["nik"], person["name"]))
    case = client.get(f"{API}/cases/{case_id}", headers=auth("sri")).json
    assert case["assessment"]["summary"] is None and case["referral"]["referred_by"] is None
    assert case["reopenings"][0]["reason"] is None and case["follow_ups"][0]["notes"] is None
    assert case["referrals"][0]["reason"] is None and case["status"] == "assessed"  # the shape stays
    history = client.get(f"{API}/cases/{case_id}/history", headers=auth("inspektur")).json["items"]
    texts = repr([item["data"] for item in history])
    assert not any(text in texts for text in SECRETS.values())
    feed = repr(client.get(f"{API}/events?after=0&limit=500", headers=auth("inspektur")).json)
    assert not any(text in feed for text in (*SECRETS.values(), person["nik"], person["name"]))
    with service.personal_keys.readers.connection() as conn:
        exported = repr(list(export.entries(service, conn)))
    assert not any(text in exported for text in (*SECRETS.values(), person["nik"], person["name"]))
    assert client.get(f"{API}/audit/verify", headers=auth("inspektur")).json["ok"] is True
    # Writing to the case goes on (a new key for what is written after the erasure).
    assert client.post(f"{API}/cases/{case_id}/follow-ups", json=factories.follow_up(),
                       headers=auth("sri")).status_code in (200, 201)


def test_snapshots_of_a_long_case_hold_no_free_text(service, staff, client, auth):
    _, _, case_id = _story(client, auth)
    for n in range(60):
        client.post(f"{API}/cases/{case_id}/follow-ups", json=factories.follow_up(purpose=f"kunjungan ke-{n}"),
                    headers=auth("sri"))
    snapshots = list(service.snapshots.recorder.select_events(UUID(case_id)))
    assert snapshots
    assert not any(text.encode() in s.state for s in snapshots for text in SECRETS.values())
    assert not any(b"kunjungan ke-" in s.state for s in snapshots)
    assert service.repository.get(UUID(case_id)).assessment["summary"] == SECRETS["summary"]


def test_nik_claims_are_keyed_and_forget_whose_they_were(client, auth, service, settings, catch_up):
    person, person_id, _ = _story(client, auth)
    streams = {str(n.originator_id) for n in service.recorder.select_notifications(start=0, limit=1000)}
    # Neither the old unkeyed id nor any plain function of the NIK names a stream.
    assert str(NikClaim.legacy_id_for(person["nik"])) not in streams
    assert str(uuid5(PILAR_NAMESPACE, f"nik:{person['nik']}")) not in streams
    assert str(uuid5(NAMESPACE_URL, person["nik"])) not in streams
    claim_id = service.lookup.nik_claim_id(person["nik"])
    assert str(claim_id) in streams
    assert LookupKey(b"another key entirely!").nik_claim_id(person["nik"]) != claim_id
    claim_bytes = b"".join(e.state for e in service.recorder.select_events(claim_id))
    assert person_id.encode() not in claim_bytes  # the holder is encrypted too

    assert client.post(f"{API}/beneficiaries/{person_id}/erasure", json={"reason": "she asked"},
                       headers=auth("sri")).status_code == 200
    catch_up()
    # Even with every key, the claim no longer says whose the NIK was.
    claimed = next(iter(service.events.get(claim_id)))
    assert claimed.beneficiary_id is None
    assert service.repository.get(claim_id).beneficiary_id is None


def test_a_corrected_nik_moves_the_claim_and_the_old_holding_is_forgotten(client, auth, service):
    person = factories.person()
    person_id = client.post(f"{API}/beneficiaries", json=person, headers=auth("wati")).json["id"]
    new_nik = factories.nik_for(date.fromisoformat(person["birth_date"]), person["sex"])
    assert client.post(f"{API}/beneficiaries/{person_id}/corrections",
                       json={"changes": {"nik": new_nik}, "reason": "typo"}, headers=auth("wati")).status_code in (200, 201)
    old = service.lookup.nik_claim_id(person["nik"])
    assert next(iter(service.events.get(old))).beneficiary_id is None
    assert service.repository.get(service.lookup.nik_claim_id(new_nik)).beneficiary_id == UUID(person_id)
    again = client.post(f"{API}/beneficiaries", json=person, headers=auth("wati"))
    assert again.status_code == 201  # the old NIK is free for its real owner


def test_an_older_store_moves_its_nik_claims_and_servers_refuse_until_it_has(settings, service, staff):
    person = factories.person()
    body = dict(person, birth_date=date.fromisoformat(person["birth_date"]))
    person_id = service.register_beneficiary(staff["wati"], **body).id
    # As an older Pilar stored it: the claim under an unkeyed function of the NIK, no lookup key known.
    claim_id = service.lookup.nik_claim_id(person["nik"])
    claim = service.repository.get(claim_id)
    claim.release(actor="system")
    legacy = NikClaim.claim(actor="wati", claim_id=NikClaim.legacy_id_for(person["nik"]), beneficiary_id=person_id)
    service.save(claim, legacy)
    with service.personal_keys.readers.connection() as conn:
        conn.execute("DELETE FROM pilar_key_checks WHERE name = 'lookup'")
    (settings.instance_path / "lookup_key").unlink()

    fresh = bootstrap(settings)
    try:
        with pytest.raises(KeyMismatch):
            fresh.cases.lookup  # noqa: B018 - a server would answer 503 and refuse to start
    finally:
        fresh.close()
    init_store(settings)
    upgraded = bootstrap(settings)
    try:
        found = upgraded.cases.find_beneficiary_by_nik(staff["sri"], person["nik"])
        assert found is not None and found.id == person_id
        assert upgraded.cases.repository.get(NikClaim.legacy_id_for(person["nik"])).beneficiary_id is None
    finally:
        upgraded.close()
    with pytest.raises(KeyMismatch, match="lookup key"):
        init_store(replace(settings, lookup_secret="a different lookup key, foreign"))


# Text fields of case and person events that are vocabulary, codes or ids, kept in clear for the
# views. Aid items are counted by name in the views: what was given, never to whom.
CLEAR_TEXT = {"actor", "pillar", "desa_code", "kecamatan_code", "priority", "worker", "risk", "component", "item",
              "unit", "funding_source", "follow_up_id", "outcome", "referral_id", "from_pillar", "to_pillar",
              "method", "reason@PersonalDataErased", "acting_for", "originator_topic", "lawful_basis",
              "period@DesilRecorded", "source@DesilRecorded"}  # a DTSEN period code and which extract it came from


def test_every_free_text_field_of_an_event_is_listed_as_personal():
    from typing import get_type_hints

    from pilar.cases.beneficiary import Beneficiary
    from pilar.cases.case import Case
    from pilar.cases.personal_fields import PERSONAL_PATHS

    unlisted = []
    for aggregate in (Case, Beneficiary):
        for event_class in vars(aggregate).values():
            if not (isinstance(event_class, type) and issubclass(event_class, aggregate.Event)):
                continue
            listed = {path[0] for path in PERSONAL_PATHS.get(event_class, [])}
            for name, hint in get_type_hints(event_class).items():
                text = hint in (str, str | None)
                if text and name not in listed and name not in CLEAR_TEXT \
                        and f"{name}@{event_class.__name__}" not in CLEAR_TEXT:
                    unlisted.append(f"{event_class.__name__}.{name}")
    assert unlisted == []


def test_a_case_key_is_made_once_even_when_two_writers_make_it(service, staff, client, auth):
    _, _, case_id = _story(client, auth)
    case = UUID(case_id)
    first = service.personal_keys.get(case)
    service.personal_keys.create(case)  # a second writer making the same key at the same time
    assert service.personal_keys.get(case) == first
    service.personal_keys.destroy(case)  # as for a case opened before cases had keys of their own
    assert client.post(f"{API}/cases/{case_id}/follow-ups", json=factories.follow_up(purpose="baru"),
                       headers=auth("sri")).status_code == 200
    follow_ups = client.get(f"{API}/cases/{case_id}", headers=auth("sri")).json["follow_ups"]
    assert [f["purpose"] for f in follow_ups] == [None, "baru"]
