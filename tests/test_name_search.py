"""Search a person by name (pilar/cases/name_search.py, pilar/store/name_index.py) on SQLite and PostgreSQL:
found by one word or several, in any order, accents and case aside; limited and masked as a NIK
search is; access-logged and rate-limited with NIK look-ups; an erased person is not found; and a
copy of the database files holds neither the name, its words, nor an unkeyed hash of them."""

import hashlib
from datetime import date
from uuid import UUID

import pytest

from pilar.cases.lookup import name_words
from pilar.cases.name_search import NAME_RESULTS
from testkit import factories
from tests.test_erasure_files import live_files

API = "/api/v1"


def _person(service, actor, name: str, **overrides) -> UUID:
    body = factories.person(name=name, **overrides)
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    return service.register_beneficiary(actor, **body).id


def _names(found) -> list[str]:
    return [p.name for p in found[0]]


def test_names_are_normalised_to_words():
    assert name_words("  Sitì  NUR'AINI, S.Pd ") == ["siti", "nur", "aini", "s", "pd"]
    assert name_words("Ñoño ÇAKIR-Ängström") == ["nono", "cakir", "angstrom"]


def test_found_by_one_word_or_several_in_any_order(service, staff):
    wati = staff["wati"]
    _person(service, wati, "Siti Aminah")
    _person(service, wati, "Siti Nur'aini", birth_date="1960-02-02")
    _person(service, wati, "Mbah Sainem", birth_date="1945-01-01")
    assert _names(service.find_beneficiaries_by_name(wati, "siti")) == ["Siti Aminah", "Siti Nur'aini"]
    assert _names(service.find_beneficiaries_by_name(wati, "NUR AINI sitì")) == ["Siti Nur'aini"]
    assert _names(service.find_beneficiaries_by_name(wati, "siti sainem")) == []
    assert _names(service.find_beneficiaries_by_name(wati, "sit")) == []  # whole words, not prefixes


def test_a_corrected_name_is_found_by_the_new_words_only_and_an_erased_person_not_at_all(service, staff):
    person = _person(service, staff["wati"], "Mbah Sainem")
    service.correct_beneficiary(staff["wati"], person, changes={"name": "Mbah Painem"}, reason="salah ketik")
    assert _names(service.find_beneficiaries_by_name(staff["wati"], "painem")) == ["Mbah Painem"]
    assert _names(service.find_beneficiaries_by_name(staff["wati"], "sainem")) == []
    service.erase_personal_data(staff["sri"], person, reason="permintaan")
    assert service.find_beneficiaries_by_name(staff["wati"], "mbah painem") == ([], False)
    with service.name_index.readers.connection() as conn:
        assert conn.all("SELECT * FROM name_tokens WHERE beneficiary_id = ?", (str(person),)) == []


def test_a_token_left_behind_never_answers_wrongly(service, staff):
    """A registration indexed but never written, or a correction that died after indexing: the
    candidate is loaded and its name checked, so the answer stays right."""
    person = _person(service, staff["wati"], "Mbah Sainem")
    service.name_index.add(person, service.name_tokens("Mbah Tukiyem"), 2)
    service.name_index.add(UUID(int=7), service.name_tokens("Mbah Sainem"), 1)
    assert service.find_beneficiaries_by_name(staff["wati"], "tukiyem") == ([], False)
    assert _names(service.find_beneficiaries_by_name(staff["wati"], "sainem")) == ["Mbah Sainem"]


def test_two_corrections_racing_never_drop_the_newer_names_tokens(service, staff):
    """A correction prunes, after its write, the tokens of older names only: one that finishes
    late (its pruning after a newer correction's) leaves the newer name found."""
    person = _person(service, staff["wati"], "Mbah Sainem")
    service.correct_beneficiary(staff["wati"], person, changes={"name": "Mbah Painem"}, reason="KTP")  # version 2
    service.correct_beneficiary(staff["wati"], person, changes={"name": "Sainem Lestari"}, reason="KK")  # version 3
    service.name_index.prune(person, service.name_tokens("Mbah Painem"), 2)  # the first one's pruning, late
    assert _names(service.find_beneficiaries_by_name(staff["wati"], "sainem lestari")) == ["Sainem Lestari"]
    with service.name_index.readers.connection() as conn:
        tokens = {row[0] for row in conn.all("SELECT token FROM name_tokens WHERE beneficiary_id = ?", (str(person),))}
    assert tokens == set(service.name_tokens("Sainem Lestari"))


def test_at_most_twenty_and_more_is_said(service, staff, monkeypatch):
    from pilar.cases import name_search

    monkeypatch.setattr(name_search, "NAME_RESULTS", 2)
    for day in range(1, 4):
        _person(service, staff["wati"], f"Siti {day}", birth_date=f"1950-01-0{day}")
    found, more = service.find_beneficiaries_by_name(staff["wati"], "siti")
    assert len(found) == 2 and more
    assert NAME_RESULTS == 20


@pytest.mark.parametrize("name", ["", "  ,. ", "x" * 201, "a b c d e f g"])
def test_a_name_of_no_word_or_too_long_is_a_422_naming_the_field(client, auth, staff, name):
    answer = client.post(f"{API}/beneficiaries/search", json={"name": name}, headers=auth("wati"))
    assert answer.status_code == 422 and "name" in answer.json["errors"]["json"]


def test_nik_or_name_but_not_both(client, auth, staff):
    body = factories.person()
    for sent in ({}, {"nik": body["nik"], "name": "siti"}):
        assert client.post(f"{API}/beneficiaries/search", json=sent, headers=auth("wati")).status_code == 422


def test_the_api_masks_and_limits_as_a_nik_search_does(client, auth, service, staff):
    body = factories.person(name="Mbah Sainem", desa_code="35.01.04.1001")
    person = client.post(f"{API}/beneficiaries", json=body, headers=auth("wati")).json["id"]
    client.post(f"{API}/cases", json=factories.case(person), headers=auth("wati"))
    mine = client.post(f"{API}/beneficiaries/search", json={"name": "sainem"}, headers=auth("wati")).json
    by_nik = client.post(f"{API}/beneficiaries/search", json={"nik": body["nik"]}, headers=auth("joko")).json
    theirs = client.post(f"{API}/beneficiaries/search", json={"name": "sainem"}, headers=auth("joko")).json
    assert mine["items"][0]["nik"] == body["nik"] and mine["items"][0]["phone"] == body["phone"]
    assert theirs["items"] == by_nik["items"]  # another pillar's worker: exactly what a NIK search shows
    assert theirs["items"][0]["nik"] != body["nik"] and theirs["items"][0]["phone"] is None
    assert "id" not in theirs["items"][0]["cases"][0]  # PKH's case: pillar, status and dates only
    assert client.post(f"{API}/beneficiaries/search", json={"name": "sainem"}, headers=auth("root")).status_code == 403


def test_each_person_found_is_logged_and_a_miss_without_the_name(client, auth, service, staff):
    person = _person(service, staff["wati"], "Mbah Sainem")
    client.post(f"{API}/beneficiaries/search", json={"name": "sainem"}, headers=auth("agus"))
    client.post(f"{API}/beneficiaries/search", json={"name": "Tukiyem Rahasia"}, headers=auth("agus"))
    log = client.get(f"{API}/audit/access-log?user=agus", headers=auth("inspektur")).json["items"]
    found = [i for i in log if i["action"] == "find_beneficiary_by_name"]
    assert {(i["beneficiary_id"], i["detail"]) for i in found} == {
        (str(person), "found"), (None, "not found; 2 word(s)")}
    assert "Tukiyem" not in str(log) and "tukiyem" not in str(log)


def test_name_look_ups_count_with_nik_look_ups(settings, staff):
    from testkit.fixtures import PASSWORD
    from pilar.wsgi import create_app
    from pilar.bootstrap import bootstrap

    settings = settings.__class__(**{**settings.__dict__, "lookup_limit": "2 per minute"})
    built = bootstrap(settings)
    try:
        client = create_app(built).test_client()
        token = client.post(f"{API}/auth/token", json={"username": "wati", "password": PASSWORD}).json["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        statuses = [client.post(f"{API}/beneficiaries/search", json=body, headers=bearer).status_code
                    for body in ({"name": "siti"}, {"nik": factories.person()["nik"]}, {"name": "siti"})]
        assert statuses == [200, 200, 429]
    finally:
        built.close()


def test_a_copy_of_the_database_holds_no_name_word_nor_an_unkeyed_hash_of_one(service, staff, settings, catch_up):
    name = "Sukarti Wonodadi Rejosari"
    person = _person(service, staff["wati"], name)
    service.correct_beneficiary(staff["wati"], person, changes={"name": "Sukarti Wonodadi Ngadirejo"}, reason="KTP")
    catch_up()
    files = live_files(settings)
    with service.name_index.readers.connection() as conn:
        tokens = [row[0] for row in conn.all("SELECT token FROM name_tokens WHERE beneficiary_id = ?", (str(person),))]
    assert sorted(tokens) == sorted(service.name_tokens("Sukarti Wonodadi Ngadirejo"))
    words = name_words(name) + ["ngadirejo"]
    plain = [name, *words, *(w.capitalize() for w in words), *(w.upper() for w in words)]
    unkeyed = [hashlib.sha256(w.encode()).hexdigest() for w in words] + [hashlib.md5(w.encode()).hexdigest()
                                                                         for w in words]
    assert [p for p in plain + unkeyed if p.encode() in files] == []
    # Without the lookup key a guessed word's token cannot be made: another key makes other tokens.
    from pilar.cases.lookup import LookupKey

    assert LookupKey(b"a guess of the key, 32 bytes ok!").name_token("sukarti") not in tokens


def test_db_init_indexes_the_people_of_a_store_made_before_the_index(services, staff, settings):
    from pilar.bootstrap import init_store

    service = services.cases
    person = _person(service, staff["wati"], "Mbah Sainem")
    with service.name_index.readers.connection() as conn, conn.transaction():
        conn.execute("DELETE FROM name_tokens")
        conn.execute("DELETE FROM pilar_key_checks WHERE name = 'name_index'")
    assert service.find_beneficiaries_by_name(staff["wati"], "sainem") == ([], False)
    init_store(settings)
    assert [p.id for p in service.find_beneficiaries_by_name(staff["wati"], "sainem")[0]] == [person]


def test_an_interrupted_erasure_or_a_restored_backup_keeps_no_tokens(service, staff, settings, catch_up):
    from pilar.store.connection import ViewDB

    person = _person(service, staff["wati"], "Mbah Sainem")
    loaded = service.repository.get(person)
    loaded.erase_personal_data(actor="sri", reason="asked", keys=[person])
    service.save(loaded)  # as if the server died before destroying keys and tokens
    catch_up()
    other = _person(service, staff["wati"], "Mbah Tukiyem", birth_date="1944-04-04")
    service.personal_keys.ledger.record([other])  # as if erased after the backup this store was restored from
    conn = ViewDB(settings.store).connect()
    try:
        service.personal_keys.ledger.reapply(conn)
        assert conn.all("SELECT beneficiary_id FROM name_tokens") == []
    finally:
        conn.close()
