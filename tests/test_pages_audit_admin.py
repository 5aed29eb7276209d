"""The auditors' and admins' pages (pilar/web/audit_pages.py, pilar/web/admin_pages.py) in Flask's test client on
SQLite and PostgreSQL: each role's start page and menu, a case's and a person's history with who,
when and what (masked as the policy says), a case and the views as of a moment, the integrity check,
the access log's filters and pages; every account change the admin API offers, its rules' errors
next to the field in the reader's language, stale forms; and other roles refused with nothing written."""

from datetime import date
from uuid import UUID

import pytest

from pilar.cases.access import SYSTEM
from pilar.cases.clock import JAKARTA, today_in_jakarta
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.pages import Forms, Pages



def _signed_in(app, username: str, language: str | None = "en") -> Pages:
    pages = Pages(app.test_client())
    assert pages.sign_in(username, PASSWORD).status_code == 303
    if language:
        token = Forms(pages.client.get("/sign-in").get_data(as_text=True)).forms["/language"]["csrf_token"]
        pages.client.post("/language", data={"lang": language, "csrf_token": token})
    return pages


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def wati(app, staff):
    return _signed_in(app, "wati")


@pytest.fixture
def auditor(app, staff):
    return _signed_in(app, "inspektur")


@pytest.fixture
def admin(app, staff):
    return _signed_in(app, "root")


@pytest.fixture
def story(wati):
    """A person registered by wati, a case opened, assessed and given aid: (person id, case id, NIK)."""
    person = factories.person(name="Mbah Sainem")
    answer = wati.submit("/people/new", "/people/new", person)
    person_id = answer.headers["Location"].rsplit("/", 1)[1]
    opened = wati.submit(f"/people/{person_id}/cases/new", f"/people/{person_id}/cases/new", {
        "pillar": "pkh", "priority": "high", "categories": ["lansia_terlantar"], "referral-source": "musdes",
        "referral-referred_by": "Kepala Desa", "referral-reason": "tinggal sendiri"})
    case_id = opened.headers["Location"].rsplit("/", 1)[1]
    page = f"/cases/{case_id}"
    assert wati.submit(page, f"{page}/assessments", {"needs": ["basic_needs"], "risk": "high",
                                                     "summary": "butuh makan"}).status_code == 303
    assert wati.submit(page, f"{page}/aid", {"component": "basic_needs", "item": "paket sembako", "quantity": "1",
                                             "unit": "paket", "value_idr": "1500000", "funding_source": "apbd",
                                             "given_on": date.today().isoformat()}).status_code == 303
    return person_id, case_id, person["nik"]


# ---------------------------------------------------------------- start pages and menus
@pytest.mark.parametrize("username, start, offered, hidden", [
    ("wati", "/cases", ["/cases/pillar", "/people/search"], ["/audit", "/admin/users"]),
    ("inspektur", "/audit", ["/audit/verify", "/audit/access-log", "/audit/views", "/cases/pillar"], ["/admin/users"]),
    ("root", "/admin/users", ["/admin/users"], ["/audit", "/cases", "/people/search"]),
])
def test_each_role_starts_on_its_own_page_with_only_its_links(app, staff, username, start, offered, hidden):
    pages = Pages(app.test_client())
    assert pages.sign_in(username, PASSWORD).headers["Location"] == start
    assert pages.client.get("/").headers["Location"] == start
    html = _text(pages.client.get(start))
    nav = html.split('<nav aria-label="Utama">', 1)[1].split("</nav>", 1)[0]
    assert all(f'href="{link}"' in nav for link in offered), nav
    assert not any(f'href="{link}"' in nav for link in hidden), nav


@pytest.mark.parametrize("username, paths", [
    ("wati", ["/audit", "/audit/verify", "/audit/access-log", "/audit/views", "/admin/users", "/admin/users/new",
              "/admin/users/root"]),
    ("sri", ["/audit", "/audit/access-log", "/admin/users"]),
    ("inspektur", ["/admin/users", "/admin/users/new", "/admin/users/wati"]),
    ("root", ["/audit", "/audit/verify", "/audit/access-log", "/audit/views", "/cases"]),
])
def test_other_roles_get_a_403_page(app, staff, username, paths):
    pages = _signed_in(app, username)
    for path in paths:
        answer = pages.client.get(path)
        assert answer.status_code == 403, path
        assert "Not allowed" in _text(answer)


def test_a_worker_posting_admin_forms_with_their_own_csrf_token_is_refused_and_nothing_is_written(
        wati, auditor, service, staff):
    before = service.get_user(SYSTEM, "root").version
    for pages in (wati, auditor):
        csrf = Forms(pages.client.get("/sign-in").get_data(as_text=True)).forms["/language"]["csrf_token"]
        new = pages.client.post("/admin/users/new", data={"csrf_token": csrf, "username": "mallory", "role": "admin",
                                                          "password": "sawah-di-ngadirojo-9", "pii": "yes"})
        assert new.status_code == 403
        for action in ("role", "deactivation", "password", "sessions/revocation"):
            answer = pages.client.post(f"/admin/users/root/{action}", data={
                "csrf_token": csrf, "version": str(before), "role": "worker", "pillars": "pkh",
                "password": "sawah-di-ngadirojo-9"})
            assert answer.status_code == 403, action
        assert pages.client.post("/audit/verify", data={"csrf_token": csrf}).status_code == (
            403 if pages is wati else 200)
    assert "mallory" not in {u.username for u in service.list_users(SYSTEM)}
    assert service.get_user(SYSTEM, "root").version == before


# ---------------------------------------------------------------- auditors: histories
def test_a_case_history_shows_who_when_and_what_with_identifiers_masked(story, auditor, service):
    person_id, case_id, nik = story
    html = _text(auditor.client.get(f"/audit/cases/{case_id}"))
    for shown in ("Case opened", "Needs assessed", "Aid given", "wati", "WIB", "Rp1.500.000", "paket sembako",
                  "Kepala Desa", "Mbah Sainem"):
        assert shown in html, shown
    assert "The case now" in html and f"/audit/people/{person_id}" in html
    person = _text(auditor.client.get(f"/audit/people/{person_id}"))
    assert "Person registered" in person and "Case opened for this person" in person
    assert nik not in person and nik[:4] + "*" * 10 + nik[-2:] in person
    rows, _total = service.access_log.search(username="inspektur")
    assert {"read_case_history", "read_beneficiary_history"} <= {row["action"] for row in rows}


def test_an_auditor_with_pii_reads_identifiers_in_clear(story, app, service):
    service.add_user(SYSTEM, "periksa", "auditor", None, PASSWORD, pii=True)
    person_id, _case_id, nik = story
    assert nik in _text(_signed_in(app, "periksa").client.get(f"/audit/people/{person_id}"))


def test_a_case_as_of_a_moment_before_its_aid(story, auditor, service):
    _person_id, case_id, _nik = story
    events = list(service.events.get(UUID(case_id)))
    assessed = events[-2].timestamp.astimezone(JAKARTA)
    moment = assessed.strftime("%Y-%m-%dT%H:%M:%S.%f")
    html = _text(auditor.client.get(f"/audit/cases/{case_id}", query_string={"as_of": moment}))
    assert "The case as of" in html and "Assessed" in html and "after the chosen moment" in html
    assert 'id="v3" class="later"' in html and 'id="v2" class' not in html
    early = auditor.client.get(f"/audit/cases/{case_id}", query_string={"as_of": "2001-01-01T00:00"})
    assert early.status_code == 400 and "did not exist yet at that moment" in _text(early)
    assert 'value="2001-01-01T00:00"' in _text(early)
    for nonsense in ("yesterday", "0001-01-01T00:00", "9999-12-31T23:59-12:00"):
        answer = auditor.client.get(f"/audit/cases/{case_id}", query_string={"as_of": nonsense})
        assert answer.status_code == 400 and "Enter a date and time" in _text(answer), nonsense
        answer = auditor.client.get("/audit/views", query_string={"as_of": nonsense})
        assert answer.status_code == 400 and "Enter a date and time" in _text(answer), nonsense
    assert auditor.client.get(f"/audit/cases/{UUID(int=1)}").status_code == 404


def test_an_auditor_reaches_the_histories_from_the_case_and_person_pages(story, auditor, wati):
    person_id, case_id, _nik = story
    assert f'href="/audit/cases/{case_id}"' in _text(auditor.client.get(f"/cases/{case_id}"))
    assert f'href="/audit/people/{person_id}"' in _text(auditor.client.get(f"/people/{person_id}"))
    assert "/audit/" not in _text(wati.client.get(f"/cases/{case_id}"))
    assert "/audit/" not in _text(wati.client.get(f"/people/{person_id}"))


def test_the_start_page_opens_a_history_by_id_and_names_a_bad_id(story, auditor):
    _person_id, case_id, _nik = story
    assert auditor.client.get("/audit", query_string={"case_id": case_id}).headers["Location"] == f"/audit/cases/{case_id}"
    bad = auditor.client.get("/audit", query_string={"case_id": "not-an-id"})
    assert bad.status_code == 400 and "This is not an id" in _text(bad) and 'value="not-an-id"' in _text(bad)


def test_a_long_history_is_paged(story, auditor, monkeypatch):
    from pilar.web import audit_pages
    monkeypatch.setattr(audit_pages, "HISTORY_PAGE", 2)
    _person_id, case_id, _nik = story
    first = _text(auditor.client.get(f"/audit/cases/{case_id}"))
    assert "Case opened" in first and "Aid given" not in first and f"?after=2" in first
    second = _text(auditor.client.get(f"/audit/cases/{case_id}?after=2"))
    assert "Aid given" in second and "Case opened" not in second


def test_the_views_as_of_now_and_before_anything(story, auditor):
    html = _text(auditor.client.get("/audit/views"))
    assert "Show" in html and "events replayed" not in html
    later = "2099-01-01T00:00"
    now = _text(auditor.client.get("/audit/views", query_string={"as_of": later}))
    row = now.split("<th scope=\"row\">PKH", 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>" in row and "Rp1.500.000" in row
    before = _text(auditor.client.get("/audit/views", query_string={"as_of": "2001-01-01T00:00"}))
    assert "0 events replayed" in before
    assert auditor.client.get("/audit/views", query_string={"as_of": "soon"}).status_code == 400


# ---------------------------------------------------------------- auditors: integrity
def test_verify_runs_only_on_its_button_and_names_a_break(story, auditor, settings, service):
    page = _text(auditor.client.get("/audit/verify"))
    assert "Check now" in page and 'id="verdict"' not in page
    intact = _text(auditor.submit("/audit/verify", "/audit/verify", {}))
    assert "Intact: no break found." in intact
    _person_id, case_id, _nik = story
    conn = ViewDB(settings.store).connect()
    try:
        table, pos = ("stored_events", "rowid") if conn.kind == "sqlite" else ("pilar_events", "notification_id")
        key = UUID(case_id).hex if conn.kind == "sqlite" else UUID(case_id)
        position, state = conn.one(f"SELECT {pos}, state FROM {table} WHERE originator_id = ? "
                                   "ORDER BY originator_version DESC LIMIT 1", (key,))
        conn.execute(f"UPDATE {table} SET state = ? WHERE {pos} = ?",
                     (bytes(state).replace(b"1500000", b"9500000"), position))
    finally:
        conn.close()
    broken = _text(auditor.submit("/audit/verify", "/audit/verify", {}))
    assert "break found." in broken and "Intact" not in broken and f"Position</span>" not in broken
    assert f"Position {position}" in broken


def test_verify_without_its_csrf_token_is_refused(auditor):
    assert auditor.client.post("/audit/verify", data={}).status_code == 400


# ---------------------------------------------------------------- auditors: access log
def test_the_access_log_filters_by_user_action_subject_and_dates_and_pages(story, auditor, monkeypatch):
    from pilar.web import audit_pages
    person_id, case_id, _nik = story
    auditor.client.get(f"/audit/cases/{case_id}")
    everything = _text(auditor.client.get("/audit/access-log"))
    assert "inspektur" in everything and "wati" in everything and "a case's history" in everything
    only = _text(auditor.client.get("/audit/access-log", query_string={"user": "wati"}))
    assert "inspektur" not in only.split("<tbody>", 1)[1]
    kind = _text(auditor.client.get("/audit/access-log", query_string={"action": "read_case_history"}))
    body = kind.split("<tbody>", 1)[1]
    assert "a case's history" in body and "a person<" not in body
    about = _text(auditor.client.get("/audit/access-log", query_string={"case_id": case_id}))
    assert f"/audit/cases/{case_id}" in about
    today = today_in_jakarta().isoformat()  # the filter's days are WIB days
    assert "0 entries" in _text(auditor.client.get("/audit/access-log", query_string={"until": "2001-01-01"}))
    assert "0 entries" not in _text(auditor.client.get("/audit/access-log",
                                                        query_string={"since": today, "until": today}))
    for edge in ("0001-01-01", "9999-12-31"):
        assert auditor.client.get("/audit/access-log", query_string={"since": edge, "until": edge}).status_code == 400
    wrong = auditor.client.get("/audit/access-log", query_string={"since": "2026-13-01", "beneficiary_id": "x"})
    assert wrong.status_code == 400 and "Enter a date" in _text(wrong) and "This is not an id" in _text(wrong)
    backwards = auditor.client.get("/audit/access-log", query_string={"since": today, "until": "2001-01-01"})
    assert backwards.status_code == 400 and "The end date is before the start date." in _text(backwards)
    monkeypatch.setattr(audit_pages, "ACCESS_PAGE", 1)
    first = _text(auditor.client.get("/audit/access-log", query_string={"user": "wati"}))
    assert 'href="/audit/access-log?page=2&amp;user=wati">Older</a>' in first  # the next page keeps the filters
    second = _text(auditor.client.get("/audit/access-log", query_string={"user": "wati", "page": 2}))
    assert "Newer" in second and "inspektur" not in second.split("<tbody>", 1)[1]


def test_the_api_access_log_takes_the_same_date_range_and_action(story, client, auditor):
    token = client.post("/api/v1/auth/token", json={"username": "inspektur", "password": PASSWORD}).json["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    future = client.get("/api/v1/audit/access-log", query_string={"since": "2099-01-01T00:00:00+07:00"},
                        headers=bearer).json
    assert future["total"] == 0
    read = client.get("/api/v1/audit/access-log", query_string={"action": "read_case"}, headers=bearer).json
    assert read["total"] > 0 and {item["action"] for item in read["items"]} == {"read_case"}
    backwards = client.get("/api/v1/audit/access-log", headers=bearer, query_string={
        "since": "2026-01-02T00:00:00+07:00", "until": "2026-01-01T00:00:00+07:00"})
    assert backwards.status_code == 422 and "until" in backwards.json["errors"]["json"]


# ---------------------------------------------------------------- admins: users
NEW = {"username": "tksk.arjosari", "role": "worker", "pillars": ["tksk"], "kecamatan": ["35.01.05"], "pii": "role",
       "password": "sawah-di-ngadirojo-9"}


def _add(admin, **changes):
    return admin.submit("/admin/users/new", "/admin/users/new", {**NEW, **changes})


def _change(admin, username: str, action: str, data: dict, version: int | None = None):
    hidden = admin.hidden(f"/admin/users/{username}", f"/admin/users/{username}/{action}")
    if version is not None:
        hidden["version"] = str(version)
    return admin.client.post(f"/admin/users/{username}/{action}", data={**hidden, **data})


def test_the_user_list_shows_every_account_with_its_scope(admin, service):
    html = _text(admin.client.get("/admin/users"))
    for username in ("wati", "sri", "dinsos", "inspektur", "root"):
        assert f'href="/admin/users/{username}"' in html
    assert "password_hash" not in html and "$argon2" not in html
    assert "every pillar" in html and "Auditor" in html


def test_adding_a_user_with_mistakes_names_each_field_and_keeps_what_was_typed(admin, service):
    answer = _add(admin, username="bad name!", pillars=["pkh", "tksk"], password="short")
    html = _text(answer)
    assert answer.status_code == 422
    assert "Use 1–64 letters, digits" in html and "A worker belongs to exactly one pillar." in html
    assert "At least 12 characters." in html
    assert 'value="bad name!"' in html and 'value="tksk" id="pillars-tksk" checked' in html
    assert 'value="sawah' not in html and 'value="short"' not in html  # a password is never sent back
    assert "bad name!" not in {u.username for u in service.list_users(SYSTEM)}
    common = _text(_add(admin, password="password1234"))
    assert "common password" in common
    auditor = _text(_add(admin, role="auditor"))
    assert "Auditors and admins belong to no pillar." in auditor


def test_adding_a_user_in_indonesian(app, staff):
    admin = _signed_in(app, "root", language=None)
    html = _text(_add(admin, pillars=[]))
    assert "Pendamping hanya milik tepat satu pilar." in html


def test_a_new_user_then_every_change_the_admin_api_offers(admin, app, service):
    assert _add(admin).headers["Location"] == "/admin/users/tksk.arjosari"
    user = service.get_user(SYSTEM, "tksk.arjosari")
    assert (user.role, user.pillars, user.kecamatan, user.pii) == ("worker", ("tksk",), ("35.01.05",), None)
    assert "tksk.arjosari" in _text(admin.client.get("/admin/users"))
    assert _add(admin).status_code == 422  # the same username again
    assert "There is already a user with this username." in _text(_add(admin))

    assert _change(admin, "tksk.arjosari", "role", {"role": "supervisor", "pillars": ["tksk", "psm"]}).status_code == 303
    assert _change(admin, "tksk.arjosari", "scope", {"kecamatan": ["35.01.05", "35.01.04"]}).status_code == 303
    assert _change(admin, "tksk.arjosari", "pii", {"pii": "no"}).status_code == 303
    user = service.get_user(SYSTEM, "tksk.arjosari")
    assert (user.role, user.pillars, user.kecamatan, user.pii) == (
        "supervisor", ("tksk", "psm"), ("35.01.05", "35.01.04"), False)
    page = _text(admin.client.get("/admin/users/tksk.arjosari"))
    assert "Access to personal data was changed." in page and "Masked" in page

    assert _change(admin, "tksk.arjosari", "password", {"password": "kebun-jati-di-punung-4"}).status_code == 303
    assert Pages(app.test_client()).sign_in("tksk.arjosari", "kebun-jati-di-punung-4").status_code == 303
    assert _change(admin, "tksk.arjosari", "deactivation", {}).status_code == 303
    assert Pages(app.test_client()).sign_in("tksk.arjosari", "kebun-jati-di-punung-4").status_code == 401
    assert "Reactivate" in _text(admin.client.get("/admin/users/tksk.arjosari"))
    assert _change(admin, "tksk.arjosari", "reactivation", {}).status_code == 303
    assert Pages(app.test_client()).sign_in("tksk.arjosari", "kebun-jati-di-punung-4").status_code == 303
    assert _change(admin, "tksk.arjosari", "sessions/revocation", {}).status_code == 303
    events = [type(e).__name__ for e in service.events.get(user.id)]
    assert events == ["UserAdded", "RoleChanged", "ScopeChanged", "PiiAccessChanged", "PasswordChanged",
                      "UserDeactivated", "UserReactivated", "SessionsRevoked"]
    assert all(e.actor == "root" for e in service.events.get(user.id))


def test_an_admin_change_that_breaks_a_rule_says_so_and_keeps_the_fields(admin, service):
    answer = _change(admin, "wati", "role", {"role": "worker", "pillars": []})
    assert answer.status_code == 422 and "A worker belongs to exactly one pillar." in _text(answer)
    short = _change(admin, "wati", "password", {"password": "wati12345678"})
    assert short.status_code == 422 and "must not contain the username" in _text(short)
    yourself = _change(admin, "root", "deactivation", {})
    assert yourself.status_code == 409 and "You cannot do this to your own account" in _text(yourself)
    assert service.get_user(SYSTEM, "root").active


def test_an_admin_removes_another_admin_but_never_themselves(admin, app, service):
    """The last active admin is kept by the same rule as the API's (pilar/cases/users.py); through a page it
    shows as "not yourself", since the admin sending the form is an active admin too."""
    service.add_user(SYSTEM, "root2", "admin", None, PASSWORD)
    assert _change(admin, "root2", "role", {"role": "auditor"}).status_code == 303
    assert service.get_user(SYSTEM, "root2").role == "auditor"
    demoted = _change(admin, "root", "role", {"role": "auditor"})
    assert demoted.status_code == 409 and "You cannot do this to your own account" in _text(demoted)
    assert service.get_user(SYSTEM, "root").role == "admin"


def test_a_stale_account_form_says_so_and_changes_nothing(admin, service):
    version = service.get_user(SYSTEM, "wati").version
    hidden = admin.hidden("/admin/users/wati", "/admin/users/wati/pii")
    assert _change(admin, "wati", "scope", {"kecamatan": ["35.01.04"]}).status_code == 303  # someone else, meanwhile
    stale = admin.client.post("/admin/users/wati/pii", data={**hidden, "pii": "no"})
    assert stale.status_code == 409 and "Someone changed this account" in _text(stale)
    assert service.get_user(SYSTEM, "wati").pii is None and service.get_user(SYSTEM, "wati").version == version + 1
    # A form sent twice: the second finds the account changed by the first, and appends nothing.
    hidden = admin.hidden("/admin/users/wati", "/admin/users/wati/deactivation")
    assert admin.client.post("/admin/users/wati/deactivation", data=hidden).status_code == 303
    again = admin.client.post("/admin/users/wati/deactivation", data=hidden)
    assert again.status_code == 409 and service.get_user(SYSTEM, "wati").version == version + 2
    assert admin.client.post("/admin/users/wati/reactivation", data={**hidden, "version": "x"}).status_code == 400


def test_an_unknown_user_is_a_404_page(admin):
    assert admin.client.get("/admin/users/nobody").status_code == 404
    hidden = admin.hidden("/admin/users/wati", "/admin/users/wati/deactivation")
    assert admin.client.post("/admin/users/nobody/deactivation", data=hidden).status_code == 404
