"""The person page's forms in a real browser (Debian's chromium driven by Playwright, JavaScript
off) against a real gunicorn on SQLite: the worker wati finds a person by name, corrects their
details (a mistake shown by its field first), records their consent and their request for erasure,
and is offered no erasure; the coordinator sri erases them after the confirmation step.
Screenshots of the person page and the confirmation at 360 px and desktop width."""

import re

import pytest
from playwright.sync_api import expect

from testkit import factories
from testkit.browser import PHONE, browser, checked, server, shoot, shots, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def test_the_person_forms(server, browser, shots):
    context = browser.new_context(viewport=PHONE, locale="id-ID", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url)

    # Register a person (from a NIK search that found nobody).
    person = factories.person(name="Siti Nur'aini", phone="081234567890")
    page.get_by_role("link", name="Cari penerima manfaat").click()
    page.get_by_label("NIK").fill(person["nik"])
    page.get_by_role("button", name="Cari", exact=True).click()
    register = page.locator("form", has=page.get_by_role("button", name="Daftarkan"))
    register.get_by_label("Nama lengkap").fill(person["name"])
    register.get_by_label("Tanggal lahir").fill(person["birth_date"])
    register.get_by_label("Jenis kelamin").select_option("P")
    register.get_by_label("Desa atau kelurahan").select_option(person["desa_code"])
    register.get_by_role("button", name="Daftarkan").click()
    expect(page.get_by_role("status")).to_have_text("Penerima manfaat telah didaftarkan.")

    # Find her by name: two words, another order, no apostrophe, other case.
    page.get_by_role("link", name="Cari penerima manfaat").click()
    page.get_by_label("Nama", exact=True).fill("aini SITI")
    page.get_by_role("button", name="Cari menurut nama").click()
    expect(page.locator("h2", has_text="ditemukan")).to_have_text("1 orang ditemukan")
    assert "aini" not in page.url.lower()
    checked(page)
    page.get_by_role("link", name="Siti Nur'aini").click()
    person_url = page.url

    # A correction with a mistake first: the error sits by its field, what was typed stays.
    correction = page.locator("#form-correction")
    correction.locator("summary").click()
    expect(correction.get_by_label("Nama lengkap (tidak wajib)")).to_have_value("Siti Nur'aini")
    correction.get_by_label("Telepon (tidak wajib)").fill("telepon rumah")
    correction.get_by_label("Alasan koreksi").fill("nomor HP baru")
    correction.get_by_role("button", name="Simpan koreksi").click()
    expect(page.locator("#correction-changes-phone-error")).to_have_text("Bukan nomor telepon.")
    expect(page.locator("#form-correction").get_by_label("Telepon (tidak wajib)")).to_have_value("telepon rumah")
    checked(page)
    page.locator("#form-correction").get_by_label("Telepon (tidak wajib)").fill("085712345678")
    page.locator("#form-correction").get_by_role("button", name="Simpan koreksi").click()
    expect(page.get_by_role("status")).to_have_text("Koreksi telah dicatat.")
    expect(page.locator("dl.person")).to_contain_text("085712345678")

    # Consent, given by her guardian.
    page.locator("#form-consent summary").click()
    consent = page.locator("#form-consent")
    consent.get_by_label("Diberikan oleh (yang bersangkutan, atau walinya)").fill("anaknya, Sutrisno")
    consent.get_by_label("Cara pemberian").select_option("written")
    consent.get_by_label("Untuk keperluan apa").fill("layanan PKH")
    consent.get_by_role("button", name="Catat persetujuan ini").click()
    expect(page.get_by_role("status")).to_have_text("Persetujuan telah dicatat.")
    expect(page.locator("main")).to_contain_text("anaknya, Sutrisno")

    # Her request for erasure; a worker is offered no erasure itself.
    page.locator("#form-erasure_request summary").click()
    page.locator("#form-erasure_request").get_by_label("Apa yang diminta yang bersangkutan").fill("minta datanya dihapus")
    page.locator("#form-erasure_request").get_by_role("button", name="Catat permintaan").click()
    expect(page.get_by_role("status")).to_have_text("Permintaan penghapusan telah dicatat.")
    expect(page.locator("main")).to_contain_text("3×24 jam")
    assert page.locator("#form-erasure").count() == 0
    checked(page)
    shoot(page, shots, "person")
    context.close()

    # The coordinator erases, after the confirmation step.
    context = browser.new_context(viewport=PHONE, locale="id-ID", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url, "sri")
    page.goto(person_url)
    page.locator("#form-erasure summary").click()
    page.locator("#form-erasure").get_by_label("Alasan penghapusan").fill("permintaan yang bersangkutan")
    page.locator("#form-erasure").get_by_role("button", name="Lanjut").click()
    expect(page).to_have_title("Hapus data pribadi? · Pilar")
    expect(page.locator("main")).to_contain_text("tidak dapat dibatalkan")
    checked(page)
    shoot(page, shots, "erase-confirm")
    page.get_by_role("button", name="Hapus untuk selamanya").click()
    expect(page.get_by_role("status")).to_have_text("Data pribadi orang ini telah dihapus.")
    expect(page.locator("main")).not_to_contain_text("Siti")
    assert page.locator("details.form").count() == 0
    page.get_by_role("button", name=re.compile("Keluar")).click()
    context.close()
