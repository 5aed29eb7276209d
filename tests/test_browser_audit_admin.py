"""The auditor's and the admin's journeys in a real browser (Debian's chromium driven by Playwright,
JavaScript off) against a real gunicorn on SQLite with its projection process: each lands on its own
start page with its own menu; the auditor reads a case's and a person's history (identifiers
masked), a case as of a moment, runs the integrity check, filters the access log and reads the views
as of a moment; the admin adds a user (a mistake shown next to its field first), resets a password
and deactivates the user, who can then no longer sign in. Labels, titles and contrast are checked on
every page; screenshots of the main pages at 360 px and desktop width (make screenshots)."""

import pytest
from playwright.sync_api import expect

from testkit import factories
from testkit.browser import DESKTOP, PHONE, browser, checked, server, shoot, shots, sign_in  # noqa: F401 (fixtures)
from testkit.fixtures import PASSWORD

pytestmark = pytest.mark.slow


def _a_case(context, url: str) -> tuple[str, str, str]:
    """wati's person and case, made through the API: (person id, case id, NIK)."""
    token = context.request.post(f"{url}/api/v1/auth/token", data={"username": "wati", "password": PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    person = factories.person(name="Mbah Sainem", desa_code="35.01.04.1001")
    person_id = context.request.post(f"{url}/api/v1/beneficiaries", data=person, headers=bearer).json()["id"]
    case = context.request.post(f"{url}/api/v1/cases", headers=bearer, data=factories.case(person_id)).json()["id"]
    assert context.request.post(f"{url}/api/v1/cases/{case}/assessments", headers=bearer,
                                data=factories.assessment()).ok
    assert context.request.post(f"{url}/api/v1/cases/{case}/aid", headers=bearer, data=factories.aid()).ok
    return person_id, case, person["nik"]


def test_the_auditors_journey(server, browser, shots):
    context = browser.new_context(viewport=PHONE, locale="id-ID", java_script_enabled=False)
    person_id, case_id, nik = _a_case(context, server.url)
    page = context.new_page()
    sign_in(page, server.url, "audi", "Audit · Pilar")
    menu = page.get_by_role("navigation", name="Utama")
    for link in ("Kasus", "Audit", "Integritas", "Log akses", "Rekap per waktu"):
        expect(menu.get_by_role("link", name=link, exact=True)).to_be_visible()
    expect(menu.get_by_role("link", name="Pengguna")).to_have_count(0)
    expect(menu.get_by_role("link", name="Kasus saya")).to_have_count(0)
    shoot(page, shots, "audit-start")

    # A case's history by its id: who, when (WIB), what.
    page.get_by_label("ID kasus").fill(case_id)
    page.get_by_role("button", name="Buka riwayat").click()
    expect(page).to_have_title("Riwayat kasus · Pilar")
    timeline = page.locator(".timeline")
    for text in ("Kasus dibuka", "Kebutuhan diases", "Bantuan diberikan", "wati", "WIB", "Musyawarah desa (musdes)"):
        expect(timeline).to_contain_text(text)
    checked(page)
    shoot(page, shots, "audit-case")

    # As of a moment: before the case, said next to the field; later, the case as it was.
    page.get_by_label("Per waktu (WIB)").fill("2001-01-01T00:00")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.locator("#as_of-error")).to_have_text("Kasus ini belum ada pada waktu itu.")
    page.get_by_label("Per waktu (WIB)").fill("2099-01-01T00:00")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_role("heading", name="Kasus per 1 Jan 2099 00.00 WIB")).to_be_visible()
    checked(page)

    # The person's history: the NIK masked for an auditor without the pii permission.
    page.get_by_role("link", name="Riwayat penerima manfaat").click()
    expect(page.locator(".timeline")).to_contain_text("Penerima manfaat didaftarkan")
    expect(page.locator("main")).to_contain_text(nik[:4] + "*" * 10 + nik[-2:])
    expect(page.locator("main")).not_to_contain_text(nik)
    checked(page)

    # The integrity check runs on its button.
    page.get_by_role("link", name="Integritas").click()
    expect(page.locator("#verdict")).to_have_count(0)
    page.get_by_role("button", name="Periksa sekarang").click()
    expect(page.locator("#verdict")).to_have_text("Utuh: tidak ada kerusakan.")
    checked(page)
    shoot(page, shots, "audit-verify")

    # The access log, filtered by user: wati's reads, and mine of her case.
    page.get_by_role("link", name="Log akses").click()
    page.get_by_label("Pengguna").fill("audi")
    page.get_by_label("Yang dibaca").select_option("read_case_history")
    page.get_by_role("button", name="Saring").click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("riwayat kasus")
    expect(page.locator("tbody")).not_to_contain_text("wati")
    checked(page)
    shoot(page, shots, "audit-access-log")

    # The views as of a moment.
    page.get_by_role("link", name="Rekap per waktu").click()
    page.get_by_label("Per waktu (WIB)").fill("2099-01-01T00:00")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.locator("table")).to_contain_text("SDM Pendamping PKH")
    checked(page)

    # A page of another role is refused.
    page.goto(f"{server.url}/admin/users")
    expect(page).to_have_title("Tidak diizinkan · Pilar")
    context.close()


def test_the_admins_journey(server, browser, shots):
    context = browser.new_context(viewport=PHONE, locale="id-ID", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url, "adi", "Pengguna · Pilar")
    menu = page.get_by_role("navigation", name="Utama")
    expect(menu.get_by_role("link")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("audi")
    checked(page)
    shoot(page, shots, "users")

    # A new user, with a mistake first: the error sits by its field, what was typed stays.
    page.get_by_role("link", name="Tambah pengguna").click()
    page.get_by_label("Nama pengguna").fill("tksk.arjosari")
    page.get_by_label("Peran").select_option("worker")
    page.get_by_label("Tenaga Kesejahteraan Sosial Kecamatan (TKSK)").check()
    page.get_by_label("Pekerja Sosial Masyarakat (PSM)").check()
    page.get_by_label("Arjosari").check()
    page.get_by_label("Kata sandi").fill("jati-di-arjosari-17")
    page.get_by_role("button", name="Tambahkan pengguna").click()
    expect(page.locator("#pillars-error")).to_have_text("Pendamping hanya milik tepat satu pilar.")
    expect(page.get_by_label("Nama pengguna")).to_have_value("tksk.arjosari")
    expect(page.get_by_label("Arjosari")).to_be_checked()
    checked(page)
    shoot(page, shots, "user-new")
    page.get_by_label("Pekerja Sosial Masyarakat (PSM)").uncheck()
    page.get_by_label("Kata sandi").fill("jati-di-arjosari-17")
    page.get_by_role("button", name="Tambahkan pengguna").click()
    expect(page.get_by_role("status")).to_have_text("Pengguna tksk.arjosari telah ditambahkan.")
    expect(page.locator("dl")).to_contain_text("Arjosari")
    checked(page)
    shoot(page, shots, "user")

    # Reset the password, then deactivate: the user can no longer sign in.
    page.get_by_text("Atur ulang kata sandi", exact=True).first.click()
    page.locator("#form-password").get_by_label("Kata sandi").fill("kebun-jati-di-punung-4")
    page.locator("#form-password").get_by_role("button", name="Atur ulang kata sandi").click()
    expect(page.get_by_role("status")).to_contain_text("Kata sandi telah diatur ulang")
    page.get_by_text("Nonaktifkan pengguna", exact=True).click()
    page.locator("#form-deactivation").get_by_role("button", name="Nonaktifkan").click()
    expect(page.get_by_role("status")).to_have_text("Pengguna telah dinonaktifkan.")
    expect(page.locator("dl")).to_contain_text("nonaktif")
    checked(page)
    other = browser.new_context(viewport=PHONE, java_script_enabled=False).new_page()
    other.goto(f"{server.url}/sign-in")
    other.get_by_label("Nama pengguna").fill("tksk.arjosari")
    other.get_by_label("Kata sandi").fill("kebun-jati-di-punung-4")
    other.get_by_role("button", name="Masuk").click()
    expect(other.locator("main")).to_contain_text("Nama pengguna tidak dikenal atau kata sandi salah.")

    # Myself: no deactivating my own account.
    page.goto(f"{server.url}/admin/users/adi")
    page.get_by_text("Nonaktifkan pengguna", exact=True).click()
    page.locator("#form-deactivation").get_by_role("button", name="Nonaktifkan").click()
    expect(page.locator("#form-problem")).to_contain_text("Anda tidak dapat melakukan ini pada akun sendiri")
    page.goto(f"{server.url}/audit")
    expect(page).to_have_title("Tidak diizinkan · Pilar")
    context.close()
