"""Households by KK (issue 17 item 2): every registered member, from registrations and corrections
of the KK, each exactly as the person view shows them to the reader; the KK kept only as its keyed
hash (never in a URL, a log line, the access log or the database files); erasure takes the person
out; the view equals a rebuild; look-ups counted with NIK look-ups."""

import json
import logging
from dataclasses import replace
from datetime import date
from uuid import UUID

from pilar.projections.maintenance import check
from testkit import factories
from testkit.pages import Pages
from testkit.fixtures import PASSWORD
from tests.test_erasure_files import live_files
from pilar.wsgi import create_app

API = "/api/v1"
KK = "3501041111220007"
OTHER_KK = "3501042222330008"


def _register(service, actor, kk: str | None, name: str) -> UUID:
    body = factories.person(kk=kk, name=name)
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    return service.register_beneficiary(actor, **body).id


def _open(service, actor, person: UUID, pillar: str, category: str = "fakir_miskin") -> UUID:
    return service.open_case(actor, beneficiary_id=person, pillar=pillar, priority="high", categories=[category],
                             referral={"source": "musdes", "referred_by": "Kades", "reason": "alasan rahasia"}).id


def _search(client, auth, user: str, kk: str):
    return client.post(f"{API}/households/search", json={"kk": kk}, headers=auth(user))


def _family(service, staff):
    """Ibu (a PKH case) and Anak (an FK-LKSA case) registered under KK; Bapak moved into it by a
    correction; Paman registered under it, then corrected out of it."""
    dinsos = staff["dinsos"]
    ibu = _register(service, dinsos, KK, "Ibu Rahayu")
    anak = _register(service, dinsos, KK, "Anak Rahayu")
    bapak = _register(service, dinsos, OTHER_KK, "Bapak Rahayu")
    paman = _register(service, dinsos, KK, "Paman Rahayu")
    service.correct_beneficiary(dinsos, bapak, changes={"kk": KK}, reason="pindah KK")
    service.correct_beneficiary(dinsos, paman, changes={"kk": OTHER_KK}, reason="KK sendiri")
    pkh_case = _open(service, dinsos, ibu, "pkh")
    lksa_case = _open(service, dinsos, anak, "fk_lksa", "anak_disabilitas")
    return {"ibu": ibu, "anak": anak, "bapak": bapak, "paman": paman, "pkh_case": pkh_case, "lksa_case": lksa_case}


def test_a_household_lists_every_member_registered_or_corrected_into_its_kk(service, staff, client, auth, catch_up):
    family = _family(service, staff)
    catch_up()
    found = _search(client, auth, "dinsos", KK)
    assert found.status_code == 200, found.json
    assert {item["id"] for item in found.json["items"]} == {str(family[k]) for k in ("ibu", "anak", "bapak")}
    other = _search(client, auth, "dinsos", OTHER_KK).json["items"]
    assert [item["id"] for item in other] == [str(family["paman"])]
    assert _search(client, auth, "dinsos", "3501049999990001").json == {"items": []}
    # A KK of the wrong shape is named, never a 500; a KK is never taken from a URL.
    assert _search(client, auth, "dinsos", "12345").status_code == 422
    assert client.get(f"{API}/households/search", query_string={"kk": KK}, headers=auth("dinsos")).status_code == 405


def test_another_pillars_worker_sees_each_member_exactly_as_the_person_view_shows_them(service, staff, client, auth,
                                                                                        catch_up):
    family = _family(service, staff)
    catch_up()
    for user in ("wati", "joko", "inspektur", "dinsos"):
        members = {item["id"]: item for item in _search(client, auth, user, KK).json["items"]}
        for key in ("ibu", "anak", "bapak"):
            person_view = client.get(f"{API}/beneficiaries/{family[key]}", headers=auth(user)).json
            assert members[str(family[key])] == person_view, (user, key)
    # The PKH worker: Anak's FK-LKSA case shows only its pillar, status and dates; Anak's identifiers masked.
    text = _search(client, auth, "wati", KK).get_data(as_text=True)
    assert str(family["lksa_case"]) not in text and "anak_disabilitas" not in text
    anak = next(i for i in json.loads(text)["items"] if i["id"] == str(family["anak"]))
    assert anak["cases"] == [{"pillar": "fk_lksa", "status": "referred", "opened_at": anak["cases"][0]["opened_at"],
                              "closed_at": None}]
    assert anak["kk"] != KK and anak["phone"] is None and anak["address"] is None
    # The TKSK worker, involved with no member's case, reads neither case's id nor Ibu's identifiers (PKH's);
    # Bapak, with no case yet, is any pillar's, as in the person view.
    items = _search(client, auth, "joko", KK).json["items"]
    ibu = next(i for i in items if i["id"] == str(family["ibu"]))
    assert ibu["kk"] != KK and ibu["phone"] is None and set(ibu["cases"][0]) == {"pillar", "status", "opened_at",
                                                                                "closed_at"}
    text = json.dumps(items)
    assert str(family["pkh_case"]) not in text and str(family["lksa_case"]) not in text
    # A role that reads no beneficiaries learns nothing, not even whether the KK is known.
    assert _search(client, auth, "root", KK).status_code == 403


def test_the_kk_is_kept_only_as_its_keyed_hash(service, staff, settings, client, auth, catch_up, caplog):
    family = _family(service, staff)
    catch_up()
    with caplog.at_level(logging.DEBUG):
        assert len(_search(client, auth, "wati", KK).json["items"]) == 3
    assert KK not in caplog.text
    key = service.lookup.household_key(KK)
    with service.personal_keys.readers.connection() as conn:
        rows = conn.all("SELECT beneficiary_id, household_key FROM view_households ORDER BY beneficiary_id")
        logged = conn.all("SELECT detail FROM audit_access_log WHERE action = 'find_household_by_kk'")
    assert {(r[0], r[1]) for r in rows} >= {(str(family[k]), key) for k in ("ibu", "anak", "bapak")}
    assert [d for (d,) in logged if KK in d] == [] and key[:32] in logged[0][0]
    # A copy of the database files: the KK is nowhere in clear (the events hold it encrypted).
    assert KK.encode() not in live_files(settings) and OTHER_KK.encode() not in live_files(settings)
    # Without the lookup key the hash is not the KK's under any other key.
    assert key != service.lookup.household_key(OTHER_KK)


def test_erasure_takes_the_person_out_of_the_household_and_the_view_equals_a_rebuild(service, staff, settings, client,
                                                                                    auth, catch_up):
    family = _family(service, staff)
    catch_up()
    service.erase_personal_data(staff["dinsos"], family["anak"], reason="permintaan")
    catch_up()
    ids = {item["id"] for item in _search(client, auth, "dinsos", KK).json["items"]}
    assert ids == {str(family["ibu"]), str(family["bapak"])}
    with service.personal_keys.readers.connection() as conn:
        assert conn.all("SELECT 1 FROM view_households WHERE beneficiary_id = ?", (str(family["anak"]),)) == []
    position, differences = check(settings)
    assert position > 0 and differences == []


def test_household_look_ups_count_with_nik_look_ups(services, staff):
    services.settings = replace(services.settings, lookup_limit="3 per minute")
    client = create_app(services).test_client()
    token = client.post(f"{API}/auth/token", json={"username": "wati", "password": PASSWORD}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(f"{API}/beneficiaries/search", json={"nik": factories.person()["nik"]},
                       headers=headers).status_code == 200
    for _ in range(2):
        assert client.post(f"{API}/households/search", json={"kk": KK}, headers=headers).status_code == 200
    refused = client.post(f"{API}/households/search", json={"kk": KK}, headers=headers)
    assert refused.status_code == 429 and refused.json["limit"] == "lookup"
    assert client.post(f"{API}/beneficiaries/search", json={"nik": factories.person()["nik"]},
                       headers=headers).status_code == 429


def test_the_person_page_links_to_their_household_page(service, staff, app, catch_up):
    family = _family(service, staff)
    catch_up()
    browser = app.test_client()
    pages = Pages(browser)
    assert pages.sign_in("wati", PASSWORD).status_code == 303
    person_page = browser.get(f"/people/{family['ibu']}").get_data(as_text=True)
    assert f"/people/{family['ibu']}/household" in person_page
    household = browser.get(f"/people/{family['ibu']}/household")
    assert household.status_code == 200
    text = household.get_data(as_text=True)
    for key in ("ibu", "anak", "bapak"):
        assert f"/people/{family[key]}\"" in text
    assert str(family["paman"]) not in text and str(family["lksa_case"]) not in text
    # The look-up by KK: a POST form, the KK typed not shown again.
    found = pages.submit("/households/search", "/households/search", {"kk": KK})
    assert found.status_code == 200 and f"/people/{family['anak']}\"" in found.get_data(as_text=True)
    assert KK not in found.get_data(as_text=True)
    wrong = pages.submit("/households/search", "/households/search", {"kk": "12"})
    assert wrong.status_code == 422
    assert browser.get(f"/people/{family['paman']}/household").status_code == 200


def test_the_search_and_the_import_are_documented(client):
    paths = client.get(f"{API}/openapi.json").json["paths"]
    search = paths["/api/v1/households/search"]["post"]
    assert {"200", "401", "403", "422", "429"} <= set(search["responses"]) and "parameters" not in search
    assert search["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/KkSearchIn")
    form = paths["/api/v1/desil/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "period"] and set(form["properties"]) == {"file", "period", "dry_run"}


def test_a_persons_household_page_lists_them_before_the_views_caught_up(service, staff, app):
    person = _register(service, staff["dinsos"], KK, "Baru Terdaftar")
    browser = app.test_client()
    assert Pages(browser).sign_in("wati", PASSWORD).status_code == 303
    assert f"/people/{person}\"" in browser.get(f"/people/{person}/household").get_data(as_text=True)
    without_kk = _register(service, staff["dinsos"], None, "Tanpa KK")
    page = browser.get(f"/people/{without_kk}").get_data(as_text=True)
    assert f"/people/{without_kk}/household" not in page
