"""The pages (pilar/web/) in Flask's test client, on SQLite and PostgreSQL: signing in and out with a
session, CSRF, the case worker's journey, validation next to the field in the reader's language,
stale forms and double submits, lists with names and wilayah names, and errors as pages."""

import re
from datetime import date
from uuid import UUID

import pytest

from pilar.cases.access import SYSTEM
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.pages import Forms, Pages
from testkit.pages import pages, wati  # noqa: F401 (fixtures)




def _text(response) -> str:
    return response.get_data(as_text=True)


def _register(pages, **overrides) -> str:
    body = factories.person(**overrides)
    answer = pages.submit("/people/new", "/people/new", body)
    assert answer.status_code == 303, _text(answer)
    return answer.headers["Location"].rsplit("/", 1)[1]


def _open(pages, person_id: str) -> str:
    page = f"/people/{person_id}/cases/new"
    answer = pages.submit(page, page, {"pillar": "pkh", "priority": "high", "categories": ["lansia_terlantar"],
                                       "referral-source": "musdes", "referral-referred_by": "Kepala Desa",
                                       "referral-reason": "tinggal sendiri"})
    assert answer.status_code == 303, _text(answer)
    return answer.headers["Location"].rsplit("/", 1)[1]


ASSESSMENT = {"needs": ["basic_needs", "care"], "risk": "high", "summary": "butuh makan dan perawatan",
              "desil-value": "1", "desil-period": "2026Q3"}
AID = {"component": "basic_needs", "item": "paket sembako", "quantity": "2", "unit": "paket", "value_idr": "1500000",
       "funding_source": "apbd", "given_on": date.today().isoformat()}


def _events(service, case_id: str) -> list[str]:
    return [type(e).__name__ for e in service.events.get(UUID(case_id))]


# ---------------------------------------------------------------- signing in and out
def test_without_a_session_every_page_sends_to_sign_in_and_back(client, pages):
    answer = client.get("/cases/pillar?status=assessed")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/sign-in?next=/cases/pillar?status%3Dassessed"
    signed = client.post("/sign-in", data={"username": "wati", "password": PASSWORD,
                                           "csrf_token": pages.hidden("/sign-in", "/sign-in")["csrf_token"],
                                           "next": "/cases/pillar?status=assessed"})
    assert signed.headers["Location"] == "/cases/pillar?status=assessed"


def test_sign_in_refuses_a_wrong_password_in_indonesian_and_keeps_the_username(client, pages):
    answer = pages.sign_in("wati", "not-the-password")
    assert answer.status_code == 401
    assert "Nama pengguna tidak dikenal atau kata sandi salah." in _text(answer)
    assert 'value="wati"' in _text(answer) and "not-the-password" not in _text(answer)
    assert client.get("/cases").status_code == 303


def test_the_session_cookie_is_httponly_lax_and_secure_over_tls(app, staff):
    plain = Pages(app.test_client()).sign_in("wati", PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    tls_client = app.test_client()
    https = "https://localhost"
    csrf = Forms(tls_client.get("/sign-in", base_url=https).get_data(as_text=True)).forms["/sign-in"]["csrf_token"]
    # Over TLS Flask-WTF also checks that a form came from this server's own pages (Referer).
    tls = tls_client.post("/sign-in", base_url=https, headers={"Referer": f"{https}/sign-in"},
                          data={"username": "wati", "password": PASSWORD, "csrf_token": csrf}).headers["Set-Cookie"]
    assert "Secure" in tls and "HttpOnly" in tls


def test_a_form_without_its_csrf_token_is_refused(client, staff):
    answer = client.post("/sign-in", data={"username": "wati", "password": PASSWORD})
    assert answer.status_code == 400
    assert "Formulir ini sudah kedaluwarsa" in _text(answer)


def test_an_open_redirect_is_not_followed_after_sign_in(client, pages):
    csrf = pages.hidden("/sign-in", "/sign-in")["csrf_token"]
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = client.post("/sign-in", data={"username": "wati", "password": PASSWORD, "csrf_token": csrf,
                                               "next": target})
        assert answer.headers["Location"] == "/cases"
        csrf = pages.hidden("/sign-in", "/sign-in")["csrf_token"]


def test_sign_out_ends_the_token_behind_the_session_everywhere(app, staff):
    browser = app.test_client()
    pages = Pages(browser)
    pages.sign_in("wati", PASSWORD)
    cookie = browser.get_cookie("session").value
    out = pages.submit("/cases", "/sign-out", {})
    assert out.status_code == 303 and out.headers["Location"] == "/sign-in"
    assert browser.get("/cases").status_code == 303
    # The old cookie, replayed (say from a copy), is refused too: its token was signed out.
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/cases").status_code == 303


@pytest.mark.parametrize("change", ["revoke_sessions", "deactivate_user"])
def test_a_revoked_or_deactivated_user_is_signed_out_of_the_pages(wati, client, service, change):
    assert client.get("/cases").status_code == 200
    getattr(service, change)(SYSTEM, "wati")  # in this process the change is seen at once (pilar/cases/users.py)
    answer = client.get("/cases")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sign-in")


# ---------------------------------------------------------------- language
def test_indonesian_by_default_english_when_chosen(wati, client):
    assert "Kasus saya" in _text(client.get("/cases"))
    chosen = wati.submit("/cases", "/language", {"lang": "en", "next": "/cases"})
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/cases"
    page = _text(client.get("/cases"))
    assert "My cases" in page and "Kasus saya" not in page and '<html lang="en">' in page
    wati.submit("/cases", "/language", {"lang": "id"})
    assert '<html lang="id">' in _text(client.get("/cases"))


# ---------------------------------------------------------------- the worker's journey
def test_register_open_assess_aid_and_see_the_timeline(wati, client, service):
    person_id = _register(wati, name="Mbah Sainem")
    person = _text(client.get(f"/people/{person_id}"))
    assert "Mbah Sainem" in person and "Pacitan" in person and "Perempuan" in person
    case_id = _open(wati, person_id)
    page = f"/cases/{case_id}"
    assert wati.submit(page, f"{page}/assessments", ASSESSMENT).status_code == 303
    done = wati.submit(page, f"{page}/aid", AID)
    assert done.status_code == 303 and done.headers["Location"].endswith("#timeline")
    shown = _text(client.get(page))
    assert "Bantuan telah dicatat." in shown
    for expected in ("Kebutuhan diases", "Bantuan diberikan", "Kasus dibuka", "Rp1.500.000 (1 kali)", "Lanjut usia terlantar",
                     "paket sembako, 2 paket", "Dukungan pemenuhan kebutuhan hidup layak", "WIB"):
        assert expected in shown, expected
    assert _events(service, case_id) == ["CaseOpened", "NeedsAssessed", "AidGiven"]
    wati.submit(page, "/language", {"lang": "en"})
    english = _text(client.get(page))
    for expected in ("Needs assessed", "Aid given", "Neglected older person", "Support for basic living needs", "Rp1.500.000",
                     "Record the assessment"):
        assert expected in english, expected


def test_invalid_fields_are_named_next_to_the_field_keeping_what_was_typed(wati, client, service):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    bad = wati.submit(page, f"{page}/assessments", {**ASSESSMENT, "summary": "", "desil-value": "11",
                                                    "desil-period": "kemarin"})
    assert bad.status_code == 422
    html = _text(bad)
    assert re.search(r'id="assessment-summary-error">Wajib diisi\.', html)
    assert re.search(r'id="assessment-desil-value-error">Bilangan bulat dari 1 sampai 10\.', html)
    assert re.search(r'id="assessment-desil-period-error">Triwulan, misalnya 2026Q3\.', html)
    assert 'value="kemarin"' in html and 'value="11"' in html and 'aria-invalid="true"' in html
    assert _events(service, case_id) == ["CaseOpened"]


def test_a_type_problem_is_named_at_its_field(wati, service):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    wati.submit(page, f"{page}/assessments", ASSESSMENT)
    bad = wati.submit(page, f"{page}/aid", {**AID, "quantity": "dua", "given_on": "kemarin"})
    assert bad.status_code == 422
    assert 'id="aid-quantity-error">Isi dengan bilangan bulat' in _text(bad)
    assert 'id="aid-given_on-error">Isi dengan tanggal' in _text(bad)
    assert _events(service, case_id) == ["CaseOpened", "NeedsAssessed"]


def test_rupiah_may_be_typed_with_thousands_dots_but_never_a_decimal(wati, service):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    wati.submit(page, f"{page}/assessments", ASSESSMENT)
    assert wati.submit(page, f"{page}/aid", {**AID, "quantity": "1.5"}).status_code == 422
    assert wati.submit(page, f"{page}/aid", {**AID, "value_idr": "1.500.000"}).status_code == 303
    assert service.repository.get(UUID(case_id)).aid[0]["value_idr"] == 1_500_000


def test_a_long_case_shows_its_latest_steps_and_counts_all_its_aid(wati, client, service, staff, monkeypatch):
    from pilar.web import case_pages

    monkeypatch.setattr(case_pages, "TIMELINE", 3)
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    wati.submit(page, f"{page}/assessments", ASSESSMENT)
    for n in range(3):
        wati.submit(page, f"{page}/aid", {**AID, "item": f"bantuan ke-{n}", "value_idr": "100000"})
    html = _text(client.get(page))
    assert "bantuan ke-2" in html and "bantuan ke-0" in html and "Kebutuhan diases" not in html
    assert "dan 2 langkah sebelumnya" in html and "Rp300.000 (3 kali)" in html


def test_a_broken_rule_is_said_on_the_form(wati, client, service):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    hidden = wati.hidden(page, f"{page}/follow-ups")
    answer = client.post(f"{page}/aid", data={**hidden, **AID})  # aid before an assessment
    assert answer.status_code == 409
    assert "Bantuan hanya dapat dicatat setelah kebutuhan diases." in _text(answer)


def test_a_stale_form_says_so_and_overwrites_nothing(wati, client, service):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    loaded = wati.hidden(page, f"{page}/assessments")  # the form as loaded, at version 1
    wati.submit(page, f"{page}/follow-ups", factories.follow_up())  # someone writes meanwhile
    stale = client.post(f"{page}/assessments", data={**loaded, **ASSESSMENT})
    assert stale.status_code == 409
    html = _text(stale)
    assert "Orang lain telah mengubah kasus ini" in html
    assert "butuh makan dan perawatan" in html  # what was typed is kept
    assert _events(service, case_id) == ["CaseOpened", "FollowUpScheduled"]
    # The form shown again carries the current version: sent again, it is saved.
    again = Forms(html).forms[f"{page}/assessments"]
    assert again["version"] == "2"
    assert client.post(f"{page}/assessments", data={**again, **ASSESSMENT}).status_code == 303


def test_a_form_submitted_twice_appends_once(wati, client, service):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    wati.submit(page, f"{page}/assessments", ASSESSMENT)
    hidden = wati.hidden(page, f"{page}/aid")
    first = client.post(f"{page}/aid", data={**hidden, **AID})
    second = client.post(f"{page}/aid", data={**hidden, **AID})
    assert first.status_code == second.status_code == 303
    assert _events(service, case_id).count("AidGiven") == 1
    other = client.post(f"{page}/aid", data={**hidden, **AID, "item": "beras"})
    assert other.status_code == 409 and "Formulir ini sudah terkirim dengan isian lain" in _text(other)


def test_follow_up_referral_closure_and_reopening(wati, client, service, app):
    case_id = _open(wati, _register(wati))
    page = f"/cases/{case_id}"
    assert wati.submit(page, f"{page}/follow-ups", factories.follow_up()).status_code == 303
    follow_up = service.repository.get(UUID(case_id)).follow_ups[0]["id"]
    done = wati.submit(page, f"{page}/follow-ups/{follow_up}/completion", {"outcome": "improved", "notes": ""})
    assert done.status_code == 303
    assert wati.submit(page, f"{page}/referrals", {"to_pillar": "tksk", "reason": "butuh TKSK"}).status_code == 303
    referral = service.repository.get(UUID(case_id)).pending_referral["id"]
    # The receiving pillar's worker sees the answer forms and accepts.
    joko = Pages(app.test_client())
    joko.sign_in("joko", PASSWORD)
    assert f"{page}/referrals/{referral}/acceptance" in _text(joko.client.get(page))
    assert joko.submit(page, f"{page}/referrals/{referral}/acceptance", {}).status_code == 303
    assert joko.submit(page, f"{page}/closure", {"outcome": "graduated", "note": ""}).status_code == 303  # optional
    assert joko.submit(page, f"{page}/reopening", {"reason": "kambuh"}).status_code == 303
    assert _events(service, case_id) == ["CaseOpened", "FollowUpScheduled", "FollowUpCompleted", "ReferralSent",
                                         "ReferralAccepted", "CaseClosed", "CaseReopened"]
    assert "Rujukan diterima" in _text(joko.client.get(page))


# ---------------------------------------------------------------- people
def test_search_by_nik_is_a_post_and_a_miss_offers_registration(wati, client):
    body = factories.person()
    missed = wati.submit("/people/search", "/people/search", {"nik": body["nik"]})
    assert missed.status_code == 200
    html = _text(missed)
    assert "Tidak ada yang terdaftar dengan NIK ini." in html
    assert f'value="{body["nik"]}"' in html  # typed into the registration form, never into a URL
    person_id = _register(wati, **{k: v for k, v in body.items() if k != "nik"}, nik=body["nik"])
    found = wati.submit("/people/search", "/people/search", {"nik": body["nik"]})
    assert f"/people/{person_id}" in _text(found)
    assert client.get(f"/people/search?nik={body['nik']}").status_code == 200  # a GET never looks anyone up
    assert "Ditemukan" not in _text(client.get(f"/people/search?nik={body['nik']}"))


def test_a_registered_nik_shows_the_existing_person(wati, client, service):
    body = factories.person(name="Pak Karto")
    person_id = _register(wati, **{k: v for k, v in body.items() if k != "birth_date"}, birth_date=body["birth_date"])
    again = wati.submit("/people/new", "/people/new", {**body, "name": "Orang Lain"})
    assert again.status_code == 409
    html = _text(again)
    assert "NIK ini sudah terdaftar" in html and f"/people/{person_id}" in html and "Pak Karto" in html


def test_the_nik_of_a_person_out_of_scope_is_masked(wati, app, service, staff):
    service.add_user(SYSTEM, "budi", "worker", "pkh", PASSWORD, kecamatan=("35.01.01",))
    body = factories.person()
    person_id = _register(wati, **body)
    budi = Pages(app.test_client())
    budi.sign_in("budi", PASSWORD)
    html = _text(budi.client.get(f"/people/{person_id}"))
    assert body["nik"] not in html and body["nik"][:4] + "*" * 10 + body["nik"][-2:] in html
    assert body["phone"] not in html and body["address"] not in html


# ---------------------------------------------------------------- lists
def test_my_cases_and_my_pillars_cases_with_names_and_wilayah(wati, client, catch_up, app):
    mine = _open(wati, _register(wati, name="Mbah Sainem", desa_code="35.01.04.1001"))
    agus = Pages(app.test_client())
    agus.sign_in("agus", PASSWORD)
    theirs = _open(agus, _register(agus, name="Pak Slamet", desa_code="35.01.01.2001"))
    wati.submit(f"/cases/{mine}", f"/cases/{mine}/follow-ups",
                factories.follow_up(due_on=date.today().replace(day=1).isoformat()))
    catch_up()
    assert f"/cases/{mine}" not in _text(client.get("/cases"))  # nobody assigned: not "mine" yet
    assert wati.submit(f"/cases/{mine}", f"/cases/{mine}/assignment", {}).status_code == 303
    catch_up()
    assert f"/cases/{mine}" in _text(client.get("/cases")) and f"/cases/{theirs}" not in _text(client.get("/cases"))
    everyone = _text(client.get("/cases/pillar"))
    assert f"/cases/{mine}" in everyone and f"/cases/{theirs}" in everyone
    assert "Mbah Sainem" in everyone and "Pak Slamet" in everyone
    assert "Kec. Donorojo" in everyone and "Kec. Pacitan" in everyone
    donorojo = _text(client.get("/cases/pillar?kecamatan=35.01.01"))
    assert f"/cases/{theirs}" in donorojo and f"/cases/{mine}" not in donorojo
    assert client.get("/cases/pillar?status=lost").status_code == 400
    assert "Saringan status" in _text(client.get("/cases/pillar?status=lost"))
    assert client.get("/cases/pillar?page=0").status_code == 400


def test_an_auditor_without_pii_sees_no_names_on_lists(client, pages, wati, catch_up, app):
    _open(wati, _register(wati, name="Mbah Sainem"))
    catch_up()
    auditor = Pages(app.test_client())
    auditor.sign_in("inspektur", PASSWORD)
    html = _text(auditor.client.get("/cases/pillar"))
    assert "Mbah Sainem" not in html and "(nama tidak ditampilkan)" in html


# ---------------------------------------------------------------- errors
def test_errors_are_pages_for_browsers_and_json_for_the_api(wati, client, app, staff):
    other = Pages(app.test_client())
    other.sign_in("joko", PASSWORD)
    case_id = _open(wati, _register(wati))
    forbidden = other.client.get(f"/cases/{case_id}")
    assert forbidden.status_code == 403 and forbidden.mimetype == "text/html"
    assert "Tidak diizinkan" in _text(forbidden)
    missing = client.get("/cases/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "Tidak ditemukan" in _text(missing)
    unknown = client.get("/no-such-page")
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    assert client.get("/no-such-page", headers={"Accept": "application/json"}).get_json()["code"] == 404
    assert client.get("/api/v1/no-such").get_json()["code"] == 404
    assert client.put("/cases").status_code == 405


def test_pages_get_a_policy_that_allows_their_stylesheet_and_nothing_else(client, staff):
    answer = client.get("/sign-in")
    policy = answer.headers["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "script-src" not in policy and "form-action 'self'" in policy
    with client.get("/assets/pilar.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/api/v1/healthz").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_failed_sign_ins_on_the_page_and_the_api_count_together(client, pages):
    """The same limits and the same counters as the API's (pilar/api/limits.py): 5 failures per username."""
    for _ in range(3):
        assert client.post("/api/v1/auth/token", json={"username": "wati", "password": "wrong"}).status_code == 401
    for _ in range(2):
        assert pages.sign_in("wati", "wrong").status_code == 401
    limited = pages.sign_in("wati", PASSWORD)  # even the right password, until the window ends
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert int(limited.headers["Retry-After"]) > 0
    assert "Terlalu banyak percobaan" in _text(limited)
    assert client.post("/api/v1/auth/token", json={"username": "wati", "password": PASSWORD}).status_code == 429


def test_an_idle_session_is_ended_like_an_idle_token(app, services, staff, monkeypatch):
    services.signin.sessions.idle_timeout = 300  # PILAR_IDLE_TIMEOUT=5m
    services.signin.sessions.touch_every = 60.0
    browser = Pages(app.test_client())
    browser.sign_in("wati", PASSWORD)
    assert browser.client.get("/cases").status_code == 200
    later = __import__("time").time() + 301
    monkeypatch.setattr("pilar.cases.sessions.time.time", lambda: later)
    answer = browser.client.get("/cases")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sign-in")


def test_the_store_unreachable_is_a_503_page(wati, client, services, monkeypatch):
    import sqlite3

    def down(*_args, **_kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(services.views, "cases", down)
    answer = client.get("/cases/pillar")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert "Server belum dapat menjangkau datanya" in _text(answer)


def test_list_filters_offer_only_the_readers_kecamatan_and_names_are_logged(app, service, staff, catch_up):
    service.add_user(SYSTEM, "budi", "worker", "pkh", PASSWORD, kecamatan=("35.01.01",))
    budi = Pages(app.test_client())
    budi.sign_in("budi", PASSWORD)
    _open(budi, _register(budi, name="Pak Slamet", desa_code="35.01.01.2001"))
    catch_up()
    html = _text(budi.client.get("/cases/pillar"))
    assert 'value="35.01.01"' in html and 'value="35.01.04"' not in html
    assert "Pak Slamet" in html
    assert budi.client.get("/cases/pillar?kecamatan=35.01.04").status_code == 403
    rows, _total = service.access_log.search(username="budi")
    assert "list_cases" in {row["action"] for row in rows}


def test_an_auditor_is_not_offered_forms_it_could_not_send(wati, app, client):
    person_id = _register(wati)
    case_id = _open(wati, person_id)
    auditor = Pages(app.test_client())
    auditor.sign_in("inspektur", PASSWORD)
    assert "/cases/new" not in _text(auditor.client.get(f"/people/{person_id}"))
    case = _text(auditor.client.get(f"/cases/{case_id}"))
    assert "Kasus dibuka" in case and "<form method=\"post\" action=\"/cases/" not in case
    assert auditor.client.get(f"/people/{person_id}/cases/new").status_code == 403


def test_behind_a_trusted_tls_proxy_cookies_are_secure_and_forms_must_come_from_this_host(settings, staff):
    import dataclasses

    from pilar.bootstrap import bootstrap
    from pilar.wsgi import create_app

    proxied = bootstrap(dataclasses.replace(settings, trusted_proxies=1))
    try:
        client = create_app(proxied).test_client()
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7"}
        html = client.get("/sign-in", headers=forwarded).get_data(as_text=True)
        csrf = Forms(html).forms["/sign-in"]["csrf_token"]
        body = {"username": "wati", "password": PASSWORD, "csrf_token": csrf}
        elsewhere = client.post("/sign-in", data=body, headers={**forwarded, "Referer": "https://evil.example/"})
        assert elsewhere.status_code == 400
        signed = client.post("/sign-in", data=body, headers={**forwarded, "Referer": "https://localhost/sign-in"})
        assert signed.status_code == 303 and "Secure" in signed.headers["Set-Cookie"]
        assert signed.headers["Strict-Transport-Security"]
    finally:
        proxied.close()


def test_nik_look_ups_on_the_page_and_the_api_count_together(settings, staff):
    import dataclasses

    from pilar.bootstrap import bootstrap
    from pilar.wsgi import create_app

    limited = bootstrap(dataclasses.replace(settings, lookup_limit="2 per minute"))
    try:
        client = create_app(limited).test_client()
        pages = Pages(client)
        pages.sign_in("wati", PASSWORD)
        token = client.post("/api/v1/auth/token", json={"username": "wati", "password": PASSWORD}).json["token"]
        nik = {"nik": factories.person()["nik"]}
        api = client.post("/api/v1/beneficiaries/search", json=nik, headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200
        assert pages.submit("/people/search", "/people/search", nik).status_code == 200
        refused = pages.submit("/people/search", "/people/search", nik)
        assert refused.status_code == 429 and refused.mimetype == "text/html" and "Retry-After" in refused.headers
    finally:
        limited.close()


def test_an_unexpected_error_is_a_500_page_logged_without_its_message(wati, client, services, monkeypatch, caplog):
    nik = factories.person()["nik"]

    def broken(*_args, **_kwargs):
        raise ValueError(f"Mbah Sainem {nik}")  # a message may quote personal data (the source line is logged)

    monkeypatch.setattr(services.views, "cases", broken)
    answer = client.get("/cases/pillar")
    assert answer.status_code == 500 and "Terjadi kesalahan" in _text(answer)
    assert "builtins.ValueError (message not logged)" in caplog.text
    assert nik not in caplog.text and nik not in _text(answer)
