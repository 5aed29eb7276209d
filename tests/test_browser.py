"""The case worker's journey in a real browser (Debian's chromium driven by Playwright) against a
real gunicorn on SQLite with its projection process: sign in, register a person, open a case,
record an assessment and aid, see them in the timeline, a stale form and a double submit, one form
done with the keyboard alone, labels on every input and a title on every page, sign out.
Screenshots of each main page at 360 px and desktop width go to PILAR_SCREENSHOTS (make
screenshots: docs/screenshots/), else to a temporary directory."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from testkit import factories
from testkit.browser import DESKTOP, PHONE, browser, checked, server, shoot, shots, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def test_the_case_workers_journey(server, browser, shots):
    # No JavaScript: every page and form works without it (the pages ship none, and their CSP runs none).
    context = browser.new_context(viewport=PHONE, locale="id-ID", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.url}/")
    shoot(page, shots, "sign-in")
    sign_in(page, server.url)

    # Register a person.
    page.get_by_role("link", name="Cari penerima manfaat").click()
    checked(page)
    page.get_by_role("link", name="Daftarkan penerima manfaat baru").click()
    person = factories.person(name="Mbah Sainem")
    page.get_by_label("NIK").fill(person["nik"])
    page.get_by_label("Nama lengkap").fill(person["name"])
    page.get_by_label("Tanggal lahir").fill(person["birth_date"])
    page.get_by_label("Jenis kelamin").select_option("P")
    page.get_by_label("Desa atau kelurahan").select_option(person["desa_code"])
    page.get_by_label("Telepon (tidak wajib)").fill(person["phone"])
    checked(page)
    shoot(page, shots, "register")
    page.get_by_role("button", name="Daftarkan").click()
    expect(page.get_by_role("status")).to_have_text("Penerima manfaat telah didaftarkan.")
    checked(page)

    # Open a case.
    page.get_by_role("link", name="Buka kasus").click()
    checked(page)
    page.get_by_label("Prioritas").select_option("high")
    page.get_by_label("Lanjut usia terlantar").check()
    page.get_by_label("Sumber rujukan").select_option("musdes")
    page.get_by_label("Dirujuk oleh (siapa)").fill("Kepala Desa")
    page.get_by_label("Alasan rujukan").fill("tinggal sendiri, tidak ada penghasilan")
    page.get_by_role("button", name="Buka kasus").click()
    expect(page.get_by_role("status")).to_have_text("Kasus telah dibuka.")
    case_url = page.url

    # An assessment with a mistake first: the error sits by the field, what was typed stays.
    page.get_by_text("Asesmen kebutuhan dan risiko").click()
    page.get_by_label("Dukungan pemenuhan kebutuhan hidup layak").check()
    page.get_by_label("Risiko").select_option("high")
    page.get_by_label("Ringkasan asesmen").fill("butuh makan setiap hari")
    page.get_by_label("Desil kesejahteraan (1–10) (tidak wajib)").fill("12")
    page.get_by_role("button", name="Catat asesmen").click()
    expect(page.locator("#assessment-desil-value-error")).to_have_text("Bilangan bulat dari 1 sampai 10.")
    expect(page.get_by_label("Ringkasan asesmen")).to_have_value("butuh makan setiap hari")
    page.get_by_label("Desil kesejahteraan (1–10) (tidak wajib)").fill("1")
    page.get_by_label("Periode desil (tidak wajib)").fill("2026Q3")
    page.get_by_role("button", name="Catat asesmen").click()
    expect(page.get_by_role("status")).to_have_text("Asesmen telah dicatat.")

    # Aid, then both in the timeline.
    page.get_by_text("Bantuan diberikan", exact=True).first.click()
    aid = page.locator("#form-aid")
    aid.get_by_label("Komponen ATENSI").select_option("basic_needs")
    aid.get_by_label("Barang").fill("paket sembako")
    aid.get_by_label("Jumlah").fill("1")
    aid.get_by_label("Satuan").fill("paket")
    aid.get_by_label("Nilai (rupiah)").fill("300000")
    aid.get_by_label("Sumber dana").select_option("apbd")
    aid.get_by_label("Tanggal diberikan").fill(date.today().isoformat())
    checked(page)
    aid.get_by_role("button", name="Catat bantuan").click()
    expect(page.get_by_role("status")).to_have_text("Bantuan telah dicatat.")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Kebutuhan diases")
    expect(timeline).to_contain_text("Bantuan diberikan")
    expect(timeline).to_contain_text("Rp300.000")
    checked(page)
    shoot(page, shots, "case")

    # A stale form: loaded here, the case changed in another tab, then sent.
    other = context.new_page()
    other.goto(case_url)
    page.get_by_text("Tutup kasus", exact=True).click()
    page.locator("#form-closure").get_by_label("Hasil").select_option("graduated")
    other.get_by_text("Jadwalkan tindak lanjut", exact=True).click()
    other.locator("#form-follow_up").get_by_label("Tanggal kunjungan").fill(date.today().isoformat())
    other.locator("#form-follow_up").get_by_label("Tujuan kunjungan").fill("cek paket dipakai")
    other.locator("#form-follow_up").get_by_role("button", name="Jadwalkan").click()
    expect(other.get_by_role("status")).to_have_text("Tindak lanjut telah dijadwalkan.")
    page.locator("#form-closure").get_by_role("button", name="Tutup").click()
    expect(page.locator("#form-problem")).to_contain_text("Orang lain telah mengubah kasus ini")
    expect(page.locator(".badge").first).not_to_have_text("Ditutup")

    # A double submit: the same rendered aid form sent twice appends one aid.
    page.goto(case_url)
    form = page.locator("#form-aid form")
    fields = {name: form.locator(f"input[name={name}]").get_attribute("value")
              for name in ("csrf_token", "version", "idempotency_key")}
    body = {**fields, "component": "care", "item": "kursi roda", "quantity": "1", "unit": "unit",
            "value_idr": "1750000", "funding_source": "csr", "given_on": date.today().isoformat()}
    action = f"{server.url}{form.get_attribute('action')}"
    for _ in range(2):
        assert context.request.post(action, form=body, max_redirects=0).status == 303
    page.goto(case_url)
    assert page.locator(".timeline li", has_text="kursi roda").count() == 1

    # One form with the keyboard alone: refer the case to PSM.
    page.locator("#form-referral summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#form-referral select")).to_be_focused()
    page.keyboard.type("PSM")
    page.keyboard.press("Tab")
    expect(page.locator("#form-referral textarea")).to_be_focused()
    page.keyboard.type("butuh pendampingan PSM")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Kasus telah dirujuk.")
    expect(page.locator(".timeline")).to_contain_text("Dirujuk ke pilar lain")

    # The lists show the person's name and the desa's name.
    page.get_by_role("link", name="Kasus pilar saya").click()
    expect(page.locator(".cases")).to_contain_text("Mbah Sainem", timeout=10_000)
    expect(page.locator(".cases")).to_contain_text("Kec. Pacitan")
    checked(page)
    shoot(page, shots, "pillar-cases")

    # Sign out: the session is over, here and for the cookie it held.
    page.get_by_role("button", name=re.compile("Keluar")).click()
    expect(page).to_have_title("Masuk · Pilar")
    page.goto(case_url)
    expect(page).to_have_title("Masuk · Pilar")
    context.close()
