"""Every endpoint × role × scope (issue 13): own pillar, other pillar, other kecamatan, the
referred-to pillar, auditors with and without pii, admin, a deactivated user, no token. Each cell
asserts the status, and every answer is searched for what must not leave the server to that user:
a person's NIK, KK, phone or address in clear outside their scope or without pii, and anything of a
case they may not read (its id, categories, worker, free text, aid). The endpoints are read from
the app's URL map: a new endpoint without a row here fails.

Columns (tests/scope_world.py): W PKH worker · K PKH worker of Pacitan only · O PKH worker of
Donorojo only · T TKSK worker · S PKH coordinator · D Dinas Sosial · A auditor · P auditor with
pii · X admin · M coordinator of TKSK and FK-LKSA (two pillars, neither PKH); then G deactivated and U no token (401 wherever a token is needed).
Cells: + the row's success status, - 403, b 400, n 404.

Pages (pilar/web/) are rows too, called in each column's browser session (signed in through the sign-in
page) with form bodies and a CSRF token: a column that may not is shown a 403 page, and a
deactivated user or no session is sent to the sign-in page (303). A page write is sent with a
stale case version, so an allowed one is answered 409 (the form again, saying so) and appends
nothing."""

import json
import uuid

import pytest

from pilar.api import is_api_request
from pilar.cases import vocab
from pilar.cases.vocabularies import CODES as VOCABULARIES
from testkit.pages import Forms
from testkit import factories
from testkit.fixtures import PASSWORD
from tests.scope_world import USERS, world  # noqa: F401 (the fixture)

API = "/api/v1"
COLUMNS = "WKOTSDAPXM"
STALE = {"If-Match": '"999999"'}  # an allowed write then stops at 412: nothing is appended, nothing changes
EVERY_CODE = {code for codes in VOCABULARIES.values() for code in codes}
CODES = {"-": 403, "b": 400, "n": 404}

# Whose identifiers each column may read in clear, and which cases' details it may see.
IN_CLEAR = {"P1": "WKSDPM", "P2": "WKTSDPM", "P3": "WOSDP"}
CASE_SECRETS = {  # case: (the columns that read it, what only they may see)
    "C1": ("WKSDAP", ['"tini"', "ringkasan rahasia C1", "paket sembako", "kunjungan rahasia", "alasan rahasia C1"]),
    "C2": ("DAPM", ['"ratna"', "anak_disabilitas", "alasan rahasia C2"]),
    "C3": ("WKTSDAPM", ["fakir_miskin", "alasan rujukan", "alasan rahasia C3"]),
    "C4": ("WOSDAP", ['"budi"', "korban_bencana_alam", "ringkasan rahasia C4", "kursi roda", "alasan rahasia C4"]),
}


def _register():
    return {**factories.person(desa_code="35.01.04.1001")}


def _open_case(w):
    return factories.case(w.people["P4"].id, categories=["lansia_terlantar"])


C1_WRITE = "++--++----"  # the holding pillar in the case's kecamatan, and Dinas Sosial
PERSON_WRITE = "++--++---+"  # P1: PKH is involved (C1), in Pacitan
# (method, rule): [(target, path parameters, body or a function of the world, extra headers, success, cells)]
ROWS = {
    ("POST", "/api/v1/auth/token"): "sign-in",
    ("GET", "/api/v1/openapi.json"): "public 200",
    ("GET", "/api/v1/docs"): "public 200",
    ("GET", "/api/v1/docs/static/<path:filename>"): "public 200",
    ("GET", "/healthz"): "public 200",
    ("GET", "/readyz"): "public 200",
    ("GET", "/metrics"): "public 200",
    ("GET", "/static/<path:filename>"): "public 404",
    ("GET", "/api/v1/beneficiaries"): [("the removed ?nik= look-up", {}, None, {}, 400, "++++++++++")],
    ("POST", "/api/v1/beneficiaries"): [("a new person", {}, lambda w: _register(), {}, 201, "++++++---+")],
    ("POST", "/api/v1/beneficiaries/search"): [
        (f"{p}'s NIK", {}, lambda w, p=p: {"nik": w.people[p].body["nik"]}, {}, 200, "++++++++-+")
        for p in ("P1", "P2", "P3")],
    ("GET", "/api/v1/beneficiaries/<uuid:beneficiary_id>"): [
        (p, {"beneficiary_id": p}, None, {}, 200, "++++++++-+") for p in ("P1", "P2", "P3")],
    ("GET", "/api/v1/beneficiaries/<uuid:beneficiary_id>/history"): [
        ("P1", {"beneficiary_id": "P1"}, None, {}, 200, "++--++++-+"),
        ("P2", {"beneficiary_id": "P2"}, None, {}, 200, "++-+++++-+"),
        ("P3", {"beneficiary_id": "P3"}, None, {}, 200, "+-+-++++--")],
    ("POST", "/api/v1/beneficiaries/<uuid:beneficiary_id>/corrections"): [
        ("P1", {"beneficiary_id": "P1"}, {"changes": {"name": "Nama Baru"}, "reason": "salah ketik"}, STALE, 412,
         PERSON_WRITE)],
    ("POST", "/api/v1/beneficiaries/<uuid:beneficiary_id>/consent"): [
        ("P1", {"beneficiary_id": "P1"}, {"given_by": "wali", "method": "written", "purpose": "layanan"}, STALE, 412,
         PERSON_WRITE)],
    ("POST", "/api/v1/beneficiaries/<uuid:beneficiary_id>/consent/withdrawal"): [
        ("P1", {"beneficiary_id": "P1"}, {"reason": "menolak"}, STALE, 412, PERSON_WRITE)],
    ("POST", "/api/v1/beneficiaries/<uuid:beneficiary_id>/erasure"): [
        ("P1", {"beneficiary_id": "P1"}, {"reason": "permintaan"}, STALE, 412, "----++---+"),
        ("P3", {"beneficiary_id": "P3"}, {"reason": "permintaan"}, STALE, 412, "----++----")],
    ("GET", "/api/v1/cases"): [
        ("every case in scope", {}, None, {}, 200, "++++++++-+"),
        ("?kecamatan=Donorojo", {"?": {"kecamatan": "35.01.01"}}, None, {}, 200, "+-++++++-+"),
        ("?pillar=fk_lksa", {"?": {"pillar": "fk_lksa"}}, None, {}, 200, "-----+++-+")],
    ("POST", "/api/v1/cases"): [("P4 with PKH, in Pacitan", {}, _open_case, {}, 201, "++--++----")],
    ("GET", "/api/v1/cases/<uuid:case_id>"): [
        ("C1", {"case_id": "C1"}, None, {}, 200, "++--++++--"),
        ("C2, another pillar's", {"case_id": "C2"}, None, {}, 200, "-----+++-+"),
        ("C3, referred to TKSK", {"case_id": "C3"}, None, {}, 200, "++-+++++-+"),
        ("C4, in Donorojo", {"case_id": "C4"}, None, {}, 200, "+-+-++++--")],
    ("GET", "/api/v1/cases/<uuid:case_id>/history"): [
        ("C1", {"case_id": "C1"}, None, {}, 200, "++--++++--"),
        ("C2, another pillar's", {"case_id": "C2"}, None, {}, 200, "-----+++-+"),
        ("C3, referred to TKSK", {"case_id": "C3"}, None, {}, 200, "++-+++++-+"),
        ("C4, in Donorojo", {"case_id": "C4"}, None, {}, 200, "+-+-++++--")],
    ("POST", "/api/v1/cases/<uuid:case_id>/assignment"): [
        ("C1", {"case_id": "C1"}, {"worker": "tini"}, STALE, 412, C1_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/assessments"): [
        ("C1", {"case_id": "C1"}, factories.assessment(), STALE, 412, C1_WRITE),
        ("C2, another pillar's", {"case_id": "C2"}, factories.assessment(), STALE, 412, "-----+---+"),
        ("C3, referred to TKSK", {"case_id": "C3"}, factories.assessment(), STALE, 412, "++--++----"),
        ("C4, in Donorojo", {"case_id": "C4"}, factories.assessment(), STALE, 412, "+-+-++----")],
    ("POST", "/api/v1/cases/<uuid:case_id>/aid"): [("C1", {"case_id": "C1"}, factories.aid(), STALE, 412, C1_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/follow-ups"): [
        ("C1", {"case_id": "C1"}, factories.follow_up(), STALE, 412, C1_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/follow-ups/<string:follow_up_id>/completion"): [
        ("C1", {"case_id": "C1", "follow_up_id": "F1"}, {"outcome": "stable", "notes": "baik"}, STALE, 412, C1_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/referrals"): [
        ("C1", {"case_id": "C1"}, {"to_pillar": "psm", "reason": "butuh"}, STALE, 412, C1_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/referrals/<string:referral_id>/acceptance"): [
        ("C3's referral to TKSK", {"case_id": "C3", "referral_id": "R3"}, {}, STALE, 412, "++-+++---+")],
    ("POST", "/api/v1/cases/<uuid:case_id>/referrals/<string:referral_id>/decline"): [
        ("C3's referral to TKSK", {"case_id": "C3", "referral_id": "R3"}, {"reason": "bukan bidang kami"}, STALE, 412,
         "++-+++---+")],
    ("POST", "/api/v1/cases/<uuid:case_id>/closure"): [
        ("C1", {"case_id": "C1"}, {"outcome": "graduated", "note": "mandiri"}, STALE, 412, C1_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/reopening"): [
        ("C1", {"case_id": "C1"}, {"reason": "kambuh"}, STALE, 412, C1_WRITE)],
    ("GET", "/api/v1/workloads"): [("every pillar in scope", {}, None, {}, 200, "++++++++-+")],
    ("GET", "/api/v1/workloads/<string:pillar>"): [
        ("pkh", {"pillar": "pkh"}, None, {}, 200, "+++-++++--"),
        ("fk_lksa", {"pillar": "fk_lksa"}, None, {}, 200, "-----+++-+")],
    ("GET", "/api/v1/follow-ups"): [("the queue", {"?": {"days_ahead": 30}}, None, {}, 200, "++++++++-+")],
    ("GET", "/api/v1/events"): [("the feed", {"?": {"limit": 1000}}, None, {}, 200, "------++--")],
    ("GET", "/api/v1/audit/verify"): [("", {}, None, {}, 200, "------++--")],
    ("GET", "/api/v1/audit/access-log"): [("", {}, None, {}, 200, "------++--")],
    ("GET", "/api/v1/audit/views"): [("", {"?": {"as_of": "2099-01-01T00:00:00+07:00"}}, None, {}, 200, "------++--")],
    ("POST", "/api/v1/beneficiaries/<uuid:beneficiary_id>/erasure-request"): [
        ("P1", {"beneficiary_id": "P1"}, {"reason": "permintaan"}, STALE, 412, PERSON_WRITE)],
    ("POST", "/api/v1/cases/<uuid:case_id>/lawful-basis"): [
        ("C1", {"case_id": "C1"}, {"lawful_basis": "vital_interest", "reason": "darurat"}, STALE, 412, "----++----")],
    ("GET", "/api/v1/privacy/requests"): [("every request in scope", {}, None, {}, 200, "----++++-+")],
    # Reference data: nothing personal, so every signed-in user (the admin setting scopes too).
    ("GET", "/api/v1/wilayah"): [("every kecamatan and desa", {}, None, {}, 200, "++++++++++")],
    ("GET", "/api/v1/vocabularies"): [("every code list", {}, None, {}, 200, "++++++++++")],
    # Each user's own session: tested per user in test_each_user_signs_out_their_own_session.
    ("POST", "/api/v1/auth/sign-out"): "own session",
    ("DELETE", "/api/v1/auth/token"): "own session",
    ("POST", "/api/v1/auth/password"): "own session",
    # Users: only admins; a user who does not exist shows that the admin got past the policy (404).
    ("GET", "/api/v1/users"): [("every user", {}, None, {}, 200, "--------+-")],
    ("POST", "/api/v1/users"): [
        ("an invalid new user", {}, {"username": "matrix.new", "role": "worker", "pillar": "pkh", "password": "short"},
         {}, 422, "--------+-")],
    ("GET", "/api/v1/users/<string:username>"): [("nobody", {"username": "nobody"}, None, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/role"): [
        ("nobody", {"username": "nobody"}, {"role": "worker", "pillar": "pkh"}, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/scope"): [
        ("nobody", {"username": "nobody"}, {"kecamatan": []}, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/pii"): [("nobody", {"username": "nobody"}, {"pii": True}, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/password"): [
        ("nobody", {"username": "nobody"}, {"password": "sawah-di-ngadirojo-9"}, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/deactivation"): [("nobody", {"username": "nobody"}, {}, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/reactivation"): [("nobody", {"username": "nobody"}, {}, {}, 200, "--------n-")],
    ("POST", "/api/v1/users/<string:username>/sessions/revocation"): [
        ("nobody", {"username": "nobody"}, {}, {}, 200, "--------n-")],
}
PAGE_STALE = {"version": "999999"}  # the form of a case page rendered at a version long gone
PAGE_ASSESSMENT = {"needs": ["basic_needs"], "risk": "high", "summary": "ringkasan"}


def _page_case(w):
    return {"pillar": "pkh", "priority": "high", "categories": ["lansia_terlantar"], "referral-source": "musdes",
            "referral-referred_by": "Kepala Desa", "referral-reason": "tinggal sendiri"}


ROWS.update({
    ("GET", "/"): "public 303",  # to the sign-in page without a session (test_public_endpoints has none)
    ("GET", "/sign-in"): "public 200",
    ("GET", "/assets/<path:filename>"): "public 200",
    ("POST", "/sign-in"): "sign-in",
    # Each user's own session and language: tested in tests/test_pages.py.
    ("POST", "/sign-out"): "own session",
    ("POST", "/language"): "own session",
    ("GET", "/cases"): [("my cases", {}, None, {}, 200, "++++++++-+")],
    ("GET", "/cases/pillar"): [
        ("my pillar's cases", {}, None, {}, 200, "++++++++-+"),
        ("?kecamatan=Donorojo", {"?": {"kecamatan": "35.01.01"}}, None, {}, 200, "+-++++++-+")],
    ("GET", "/cases/<uuid:case_id>"): [
        ("C1", {"case_id": "C1"}, None, {}, 200, "++--++++--"),
        ("C2, another pillar's", {"case_id": "C2"}, None, {}, 200, "-----+++-+"),
        ("C3, referred to TKSK", {"case_id": "C3"}, None, {}, 200, "++-+++++-+"),
        ("C4, in Donorojo", {"case_id": "C4"}, None, {}, 200, "+-+-++++--")],
    ("POST", "/cases/<uuid:case_id>/assessments"): [
        ("C1", {"case_id": "C1"}, PAGE_ASSESSMENT, PAGE_STALE, 409, C1_WRITE),
        ("C2, another pillar's", {"case_id": "C2"}, PAGE_ASSESSMENT, PAGE_STALE, 409, "-----+---+"),
        ("C4, in Donorojo", {"case_id": "C4"}, PAGE_ASSESSMENT, PAGE_STALE, 409, "+-+-++----")],
    ("POST", "/cases/<uuid:case_id>/aid"): [("C1", {"case_id": "C1"}, factories.aid(), PAGE_STALE, 409, C1_WRITE)],
    ("POST", "/cases/<uuid:case_id>/assignment"): [("C1, to me", {"case_id": "C1"}, {}, PAGE_STALE, 409, C1_WRITE)],
    ("POST", "/cases/<uuid:case_id>/follow-ups"): [
        ("C1", {"case_id": "C1"}, factories.follow_up(), PAGE_STALE, 409, C1_WRITE)],
    ("POST", "/cases/<uuid:case_id>/follow-ups/<string:follow_up_id>/completion"): [
        ("C1", {"case_id": "C1", "follow_up_id": "F1"}, {"outcome": "stable", "notes": "baik"}, PAGE_STALE, 409,
         C1_WRITE)],
    ("POST", "/cases/<uuid:case_id>/referrals"): [
        ("C1", {"case_id": "C1"}, {"to_pillar": "psm", "reason": "butuh"}, PAGE_STALE, 409, C1_WRITE)],
    ("POST", "/cases/<uuid:case_id>/referrals/<string:referral_id>/acceptance"): [
        ("C3's referral to TKSK", {"case_id": "C3", "referral_id": "R3"}, {}, PAGE_STALE, 409, "++-+++---+")],
    ("POST", "/cases/<uuid:case_id>/referrals/<string:referral_id>/decline"): [
        ("C3's referral to TKSK", {"case_id": "C3", "referral_id": "R3"}, {"reason": "bukan bidang kami"}, PAGE_STALE,
         409, "++-+++---+")],
    ("POST", "/cases/<uuid:case_id>/closure"): [
        ("C1", {"case_id": "C1"}, {"outcome": "graduated", "note": "mandiri"}, PAGE_STALE, 409, C1_WRITE)],
    ("POST", "/cases/<uuid:case_id>/reopening"): [
        ("C1", {"case_id": "C1"}, {"reason": "kambuh"}, PAGE_STALE, 409, C1_WRITE)],
    ("GET", "/people/search"): [("the search form", {}, None, {}, 200, "++++++++-+")],
    ("POST", "/people/search"): [
        (f"{p}'s NIK", {}, lambda w, p=p: {"nik": w.people[p].body["nik"]}, {}, 200, "++++++++-+")
        for p in ("P1", "P2", "P3")],
    ("GET", "/people/new"): [("the registration form", {}, None, {}, 200, "++++++---+")],
    ("POST", "/people/new"): [("a new person", {}, lambda w: _register(), {}, 303, "++++++---+")],
    ("GET", "/people/<uuid:beneficiary_id>"): [
        (p, {"beneficiary_id": p}, None, {}, 200, "++++++++-+") for p in ("P1", "P2", "P3")],
    ("GET", "/people/<uuid:beneficiary_id>/cases/new"): [
        ("P4", {"beneficiary_id": "P4"}, None, {}, 200, "++++++---+")],
    ("POST", "/people/<uuid:beneficiary_id>/cases/new"): [
        ("P4 with PKH, in Pacitan", {"beneficiary_id": "P4"}, _page_case, {}, 303, "++--++----")],
})
PUBLIC_PATHS = {"/assets/<path:filename>": "/assets/pilar.css","/api/v1/docs/static/<path:filename>": "/api/v1/docs/static/swagger-ui.css",
                "/static/<path:filename>": "/static/nothing.css"}


def _endpoints(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_endpoint_has_a_row(world):
    endpoints = _endpoints(world.client.application)
    assert endpoints - set(ROWS) == set(), "endpoints without a row in the matrix"
    assert set(ROWS) - endpoints == set(), "rows for endpoints that no longer exist"


# Pages whose forms offer every PPKS category as a choice: a code there is a choice, not a case's.
VOCABULARY_FORMS = {"/people/<uuid:beneficiary_id>/cases/new"}


def _forbidden(world, column: str, rule: str = "") -> dict[str, str]:
    """What must never appear in an answer to `column`. Workers' usernames are case details
    everywhere but in the admin's user list, which is about accounts and nothing else; a category
    is a case detail everywhere but in the vocabularies, which list every code to everyone."""
    found: dict[str, str] = {}
    choices = set(vocab.PPKS_CATEGORIES) if rule in VOCABULARY_FORMS else set()
    for person, readers in IN_CLEAR.items():
        if column not in readers:
            found.update(world.people[person].secrets())
    for case, (readers, details) in CASE_SECRETS.items():
        if column not in readers:
            found[f"{case}'s id"] = world.ids[case]
            found.update({f"{case}'s {detail}": detail for detail in details
                          if not (rule.startswith(f"{API}/users") and detail.startswith('"'))
                          and not (rule == f"{API}/vocabularies" and detail in EVERY_CODE) and detail not in choices})
    return found


def _path(world, rule: str, params: dict) -> tuple[str, dict]:
    path = rule
    for name, key in params.items():
        if name == "?":
            continue
        value = world.people[key].id if key in world.people else world.ids.get(key, key)
        path = path.replace(f"<{_converter(rule, name)}{name}>", value)
    return path, params.get("?", {})


def _converter(rule: str, name: str) -> str:
    for converter in ("uuid:", "string:", "path:", ""):
        if f"<{converter}{name}>" in rule:
            return converter
    raise AssertionError(f"{rule} has no parameter {name}")


def _is_page(path: str) -> bool:
    return not is_api_request(path)


def _call(world, method, path, query, body, headers, column):
    if _is_page(path):
        return _page_call(world, method, path, query, body, headers, column)
    if method == "GET":
        return world.client.get(path, query_string=query, headers=headers)
    return world.client.post(path, json=body, headers=headers)


def _page_call(world, method, path, query, body, form, column):
    """A page in the column's browser session; a form posted with its CSRF token and a fresh
    Idempotency-Key (and `form`'s other hidden fields, e.g. a stale case version)."""
    browser = world.browser(column)
    if method == "GET":
        return browser.get(path, query_string=query)
    csrf = Forms(browser.get("/sign-in").get_data(as_text=True)).forms["/sign-in"]["csrf_token"]
    return browser.post(path, data={**(body or {}), **form, "csrf_token": csrf,
                                    "idempotency_key": f"matrix-{uuid.uuid4()}"})


CELLS = [(method, rule, n) for (method, rule), rows in ROWS.items() if isinstance(rows, list) for n in range(len(rows))]


@pytest.mark.parametrize("method, rule, n", CELLS, ids=[f"{m} {r} #{n}" for m, r, n in CELLS])
def test_the_matrix(world, method, rule, n):
    target, params, body, extra, success, cells = ROWS[(method, rule)][n]
    assert len(cells) == len(COLUMNS)
    path, query = _path(world, rule, params)
    failures = []
    signed_out = "303" if _is_page(path) else "401"  # pages send whoever has no live session to sign in
    for column, cell in [*zip(COLUMNS, cells), ("G", signed_out), ("U", signed_out)]:
        expected = success if cell == "+" else int(cell) if cell.isdigit() else CODES[cell]
        sent = body(world) if callable(body) else body
        headers = extra if _is_page(path) else world.headers(column, **extra)
        answer = _call(world, method, path, query, sent, headers, column)
        if answer.status_code != expected:
            failures.append(f"{column}: expected {expected}, got {answer.status_code} "
                            f"{answer.get_json(silent=True) or answer.headers.get('Location')}")
        if answer.status_code >= 500:
            continue
        text = answer.get_data(as_text=True)
        leaked = [what for what, value in _forbidden(world, column, rule).items() if value in text]
        if leaked:
            failures.append(f"{column} ({USERS[column][0] if column in USERS else 'no token'}) was shown "
                            f"{', '.join(leaked)}")
    assert not failures, f"{method} {rule} ({target}):\n" + "\n".join(failures)


@pytest.mark.parametrize("rule", [r for (m, r), rows in ROWS.items() if isinstance(rows, str) and "public" in rows])
def test_public_endpoints(world, rule):
    expected = int(ROWS[("GET", rule)].split()[1])
    for column in [*COLUMNS, "G", "U"]:
        with world.client.get(PUBLIC_PATHS.get(rule, rule), headers=world.headers(column)) as answer:
            assert answer.status_code == expected


def test_sign_in(world):
    for column, (username, *_rest) in USERS.items():
        answer = world.client.post(f"{API}/auth/token", json={"username": username, "password": PASSWORD})
        assert answer.status_code == (401 if column == "G" else 200), (column, answer.get_json())
    assert world.client.post(f"{API}/auth/token", json={}).status_code == 422


def test_each_user_signs_out_their_own_session(world):
    """Sign-out and a password change act on the caller's own account only, whatever their role:
    a fresh token per user signs out (either way), and then no longer works."""
    for n, (column, (username, *_rest)) in enumerate(USERS.items()):
        if column == "G":
            continue
        token = world.client.post(f"{API}/auth/token", json={"username": username, "password": PASSWORD}).json["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        wrong = world.client.post(f"{API}/auth/password", json={"current_password": "not-it", "password": "x" * 20},
                                  headers=bearer)
        assert wrong.status_code == 422, (column, wrong.get_json())
        out = (world.client.post(f"{API}/auth/sign-out", headers=bearer) if n % 2
               else world.client.delete(f"{API}/auth/token", headers=bearer))
        assert out.status_code == 204, (column, out.get_json())
        assert world.client.get(f"{API}/workloads", headers=bearer).status_code == 401
    for path in ("/auth/sign-out", "/auth/password"):
        assert world.client.post(f"{API}{path}", json={}).status_code == 401


def test_auditor_without_pii_sees_masked_identifiers_everywhere(world):
    """The masked form itself (3501**********21), in the person view, a search, the history and the feed."""
    person = world.people["P1"].body
    nik, kk = person["nik"], person["kk"]
    masked_nik, masked_kk = nik[:4] + "*" * 10 + nik[-2:], kk[:4] + "*" * 10 + kk[-2:]
    view = world.client.get(f"{API}/beneficiaries/{world.people['P1'].id}", headers=world.headers("A")).json
    assert (view["nik"], view["kk"], view["phone"], view["address"]) == (masked_nik, masked_kk, None, None)
    found = world.client.post(f"{API}/beneficiaries/search", json={"nik": nik}, headers=world.headers("A")).json
    assert found["items"][0]["nik"] == masked_nik
    history = world.client.get(f"{API}/beneficiaries/{world.people['P1'].id}/history", headers=world.headers("A")).json
    registered = history["items"][0]["data"]
    assert (registered["nik"], registered["kk"], registered["phone"], registered["address"]) == (
        masked_nik, masked_kk, None, None)
    feed = json.dumps(world.client.get(f"{API}/events", query_string={"limit": 1000}, headers=world.headers("A")).json)
    assert masked_nik in feed and nik not in feed
    # With pii, the same auditor role reads them in clear.
    clear = world.client.get(f"{API}/beneficiaries/{world.people['P1'].id}", headers=world.headers("P")).json
    assert (clear["nik"], clear["phone"], clear["address"]) == (nik, person["phone"], person["address"])


def test_another_pillars_case_shows_pillar_status_and_dates_only(world):
    view = world.client.get(f"{API}/beneficiaries/{world.people['P1'].id}", headers=world.headers("W")).json
    by_pillar = {case["pillar"]: case for case in view["cases"]}
    assert set(by_pillar["fk_lksa"]) == {"pillar", "status", "opened_at", "closed_at"}
    assert by_pillar["pkh"]["id"] == world.ids["C1"] and by_pillar["pkh"]["worker"] == "tini"
    # Wati serves P1 (PKH holds C1), so she reads P1's identifiers in clear; Donorojo's Budi does not.
    assert view["nik"] == world.people["P1"].body["nik"]
    away = world.client.get(f"{API}/beneficiaries/{world.people['P1'].id}", headers=world.headers("O")).json
    assert away["nik"] != world.people["P1"].body["nik"] and away["phone"] is None
    assert all(set(case) == {"pillar", "status", "opened_at", "closed_at"} for case in away["cases"])
