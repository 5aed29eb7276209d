"""The person page's forms (pilar/web/person_writes.py) in Flask's test client, on SQLite and
PostgreSQL: corrections, consent and its withdrawal, the request for erasure and the erasure with
its confirmation step, each over the API's commands: problems next to their field, stale forms,
double submits, and only for the roles and pillars the policy allows."""

import re
from uuid import UUID

import pytest

from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.pages import Forms, Pages
from testkit.pages import pages, wati  # noqa: F401 (fixtures)




def _text(response) -> str:
    return response.get_data(as_text=True)


def _register(pages, body: dict | None = None, **overrides) -> str:
    answer = pages.submit("/people/new", "/people/new", body or factories.person(**overrides))
    assert answer.status_code == 303, _text(answer)
    return answer.headers["Location"].rsplit("/", 1)[1]


def _events(service, person_id: str) -> list[str]:
    return [type(e).__name__ for e in service.events.get(UUID(person_id))]


def _signed_in(app, username: str) -> Pages:
    pages = Pages(app.test_client())
    assert pages.sign_in(username, PASSWORD).status_code == 303
    return pages


def test_a_correction_is_prefilled_and_records_only_what_changed(wati, client, service):
    body = factories.person(name="Mbah Sainem", phone="081234567890")
    person_id = _register(wati, body)
    page = f"/people/{person_id}"
    form = _text(client.get(page))
    assert re.search(r'name="changes-name"[^>]*value="Mbah Sainem"', form)
    hidden = wati.hidden(page, f"{page}/corrections")
    typed = {f"changes-{k}": v for k, v in body.items()}  # every field as shown, the name changed
    answer = client.post(f"{page}/corrections", data={**hidden, **typed, "changes-name": "Mbah Sainem Rahayu",
                                                       "reason": "salah ketik di KTP"})
    assert answer.status_code == 303, _text(answer)
    assert "Koreksi telah dicatat." in _text(client.get(page))
    person = service.repository.get(UUID(person_id))
    assert person.name == "Mbah Sainem Rahayu"
    corrected = list(service.events.get(UUID(person_id)))[-1]
    assert type(corrected).__name__ == "BeneficiaryDetailsCorrected" and set(corrected.changes) == {"name"}


def test_a_correction_names_each_problem_at_its_field_and_keeps_what_was_typed(wati, client, service):
    person_id = _register(wati)
    page = f"/people/{person_id}"
    bad = wati.submit(page, f"{page}/corrections", {"changes-nik": "12345", "changes-phone": "telepon",
                                                    "changes-birth_date": "kemarin", "reason": ""})
    assert bad.status_code == 422
    html = _text(bad)
    assert re.search(r'id="correction-changes-birth_date-error">Isi dengan tanggal', html)
    again = wati.submit(page, f"{page}/corrections", {"changes-nik": "12345", "changes-phone": "telepon", "reason": ""})
    html = _text(again)
    assert again.status_code == 422
    assert re.search(r'id="correction-changes-nik-error">Harus tepat 16 angka\.', html)
    assert re.search(r'id="correction-changes-phone-error">Bukan nomor telepon\.', html)
    assert 'value="telepon"' in html and '<details class="card form" open id="form-correction">' in html
    no_reason = wati.submit(page, f"{page}/corrections", {"changes-name": "Sainem", "reason": ""})
    assert re.search(r'id="correction-reason-error">Wajib diisi\.', _text(no_reason))
    # A NIK that does not match the birth date is checked as the person will stand, and named at the NIK.
    other_birth = wati.submit(page, f"{page}/corrections", {"changes-birth_date": "1960-01-01", "reason": "KTP"})
    assert re.search(r'id="correction-changes-nik-error">NIK ini tidak cocok dengan tanggal lahir', _text(other_birth))
    assert _events(service, person_id) == ["BeneficiaryRegistered"]


def test_a_nik_already_registered_is_said_at_the_nik(wati, client, service):
    first = factories.person(birth_date="1950-03-14")
    _register(wati, first)
    second = _register(wati, birth_date="1950-03-15")
    page = f"/people/{second}"
    answer = wati.submit(page, f"{page}/corrections", {"changes-nik": first["nik"], "changes-birth_date": "1950-03-14",
                                                       "reason": "NIK tertukar"})
    assert answer.status_code == 422
    assert re.search(r'id="correction-changes-nik-error">NIK ini sudah terdaftar', _text(answer))


def test_a_stale_person_form_says_so_and_a_double_submit_appends_once(wati, client, service):
    person_id = _register(wati)
    page = f"/people/{person_id}"
    loaded = wati.hidden(page, f"{page}/consent")
    consent = {"given_by": "anaknya, Sutrisno", "method": "written", "purpose": "layanan PKH"}
    assert client.post(f"{page}/consent", data={**loaded, **consent}).status_code == 303
    assert client.post(f"{page}/consent", data={**loaded, **consent}).status_code == 303  # the same form again
    assert _events(service, person_id) == ["BeneficiaryRegistered", "ConsentRecorded"]
    # A form loaded before that write, sent now, is stale.
    stale = client.post(f"{page}/erasure-request", data={**loaded, "idempotency_key": "another-key-123",
                                                         "reason": "minta dihapus"})
    assert stale.status_code == 409 and "Orang lain telah mengubah data orang ini" in _text(stale)
    assert _events(service, person_id) == ["BeneficiaryRegistered", "ConsentRecorded"]


def test_consent_withdrawal_and_erasure_request(wati, client, service):
    person_id = _register(wati)
    page = f"/people/{person_id}"
    assert f"{page}/consent/withdrawal" not in Forms(_text(client.get(page))).forms  # nothing to withdraw yet
    assert wati.submit(page, f"{page}/consent", {"given_by": "sendiri", "method": "oral_witnessed", "purpose": "layanan"}).status_code == 303
    forms = Forms(_text(client.get(page))).forms
    assert f"{page}/consent" not in forms and f"{page}/consent/withdrawal" in forms
    assert wati.submit(page, f"{page}/consent/withdrawal", {"reason": "tidak mau lagi"}).status_code == 303
    assert wati.submit(page, f"{page}/erasure-request", {"reason": "minta dihapus"}).status_code == 303
    shown = _text(client.get(page))
    assert f"{page}/erasure-request" not in Forms(shown).forms and "3×24 jam" in shown
    assert _events(service, person_id) == ["BeneficiaryRegistered", "ConsentRecorded", "ConsentWithdrawn",
                                           "ErasureRequested"]


def test_a_worker_is_not_offered_erasure_and_cannot_post_it(wati, client, service):
    person_id = _register(wati)
    page = f"/people/{person_id}"
    assert f"{page}/erasure" not in Forms(_text(client.get(page))).forms
    hidden = wati.hidden(page, f"{page}/corrections")
    for confirmed in ("", "yes"):
        answer = client.post(f"{page}/erasure", data={**hidden, "reason": "hapus", "confirmed": confirmed})
        assert answer.status_code == 403
    assert _events(service, person_id) == ["BeneficiaryRegistered"]


def test_another_pillars_worker_gets_no_forms_and_a_403(app, wati, service):
    person_id = _register(wati)
    case = factories.case(person_id)
    wati.submit(f"/people/{person_id}/cases/new", f"/people/{person_id}/cases/new",
                {"pillar": "pkh", "priority": "high", "categories": case["categories"],
                 "referral-source": "musdes", "referral-referred_by": "Kades", "referral-reason": "sendiri"})
    joko = _signed_in(app, "joko")  # TKSK: not involved with this PKH person
    page = f"/people/{person_id}"
    forms = Forms(_text(joko.client.get(page))).forms
    assert not any(action.startswith(page + "/") for action in forms)
    hidden = wati.hidden(page, f"{page}/corrections")
    csrf = Forms(_text(joko.client.get("/sign-in"))).forms["/sign-in"]["csrf_token"]
    answer = joko.client.post(f"{page}/corrections", data={**hidden, "csrf_token": csrf, "changes-name": "X",
                                                           "reason": "iseng"})
    assert answer.status_code == 403
    assert "BeneficiaryDetailsCorrected" not in _events(service, person_id)


def test_erasure_asks_for_confirmation_then_erases(app, wati, service):
    person_id = _register(wati, name="Mbah Sainem")
    sri = _signed_in(app, "sri")
    page = f"/people/{person_id}"
    assert f"{page}/erasure" in Forms(_text(sri.client.get(page))).forms
    empty = sri.submit(page, f"{page}/erasure", {"reason": ""})
    assert empty.status_code == 422 and re.search(r'id="erasure-reason-error">Wajib diisi\.', _text(empty))
    asked = sri.submit(page, f"{page}/erasure", {"reason": "permintaan yang bersangkutan"})
    assert asked.status_code == 200 and "tidak dapat dibatalkan" in _text(asked)
    assert _events(service, person_id) == ["BeneficiaryRegistered"]  # nothing yet
    confirm = Forms(_text(asked)).forms[f"{page}/erasure"]
    assert confirm["confirmed"] == "yes" and confirm["reason"] == "permintaan yang bersangkutan"
    done = sri.client.post(f"{page}/erasure", data=confirm)
    assert done.status_code == 303
    again = sri.client.post(f"{page}/erasure", data=confirm)  # a double tap on the confirmation
    assert again.status_code == 303
    assert _events(service, person_id) == ["BeneficiaryRegistered", "PersonalDataErased"]
    shown = _text(sri.client.get(page))
    assert "Mbah Sainem" not in shown and "telah dihapus" in shown
    assert not any(a.startswith(page + "/") for a in Forms(shown).forms)


def test_search_by_name_on_the_page_is_a_post_and_lists_whom_it_finds(wati, client, service):
    person_id = _register(wati, name="Siti Nur'aini")
    _register(wati, name="Mbah Sainem", birth_date="1944-04-04")
    found = wati.submit("/people/search", "/people/search/name", {"name": "NUR aini"})
    assert found.status_code == 200
    html = _text(found)
    assert "1 orang ditemukan" in html and f'href="/people/{person_id}"' in html and "Mbah Sainem" not in html
    assert 'value="NUR aini"' in html  # kept in the page, never in a URL
    none = wati.submit("/people/search", "/people/search/name", {"name": "Tukiyem"})
    assert none.status_code == 200 and "0 orang ditemukan" in _text(none)
    empty = wati.submit("/people/search", "/people/search/name", {"name": " .. "})
    assert empty.status_code == 422 and 'id="search-name-error">Wajib diisi.' in _text(empty)
