"""The PKH coordinator's journey in a real browser (Debian's chromium, JavaScript off) against a
real gunicorn on SQLite with its projection process: the dashboard with its charts and tables, a
CSV downloaded, the rakor report and its printed form, English on request; another pillar's
numbers refused by address. Screenshots of the dashboard and the rakor report at 360 px and
desktop width (make screenshots: docs/screenshots/)."""

import csv
import io
from pathlib import Path
import pytest
import requests
from playwright.sync_api import expect

from pilar.cases.clock import today_in_jakarta
from testkit import factories
from testkit.browser import browser, checked, server, shoot, shots, sign_in  # noqa: F401 (fixtures)
from testkit.fixtures import PASSWORD

pytestmark = pytest.mark.slow


def _seed(url: str) -> None:
    """Through the API, as Dinas Sosial: two people, PKH, TKSK and FK-LKSA cases, aid, referrals."""
    api = f"{url}/api/v1"
    today = today_in_jakarta().isoformat()  # the dashboard's period is this month in Jakarta
    token = requests.post(f"{api}/auth/token", json={"username": "dinas", "password": PASSWORD}, timeout=10).json()
    bearer = {"Authorization": f"Bearer {token['token']}"}

    def post(path: str, body: dict) -> dict:
        answer = requests.post(f"{api}{path}", json=body, headers=bearer, timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    sainem = post("/beneficiaries", factories.person(name="Mbah Sainem"))["id"]
    painem = post("/beneficiaries", factories.person(name="Mbah Painem", desa_code="35.01.01.2001"))["id"]
    first = post("/cases", factories.case(sainem))["id"]
    post(f"/cases/{first}/assessments", factories.assessment())
    post(f"/cases/{first}/aid", factories.aid(value_idr=1_500_000, given_on=today))
    post(f"/cases/{first}/aid", factories.aid(component="care", item="kursi roda", value_idr=2_250_000,
                                                   given_on=today))
    other = post("/cases", factories.case(sainem, pillar="fk_lksa", categories=["anak_terlantar"]))["id"]
    post(f"/cases/{other}/assessments", factories.assessment())
    post(f"/cases/{other}/aid", factories.aid(value_idr=4_000_000, given_on=today))
    second = post("/cases", factories.case(painem))["id"]
    last = post(f"/cases/{second}/referrals", {"to_pillar": "tksk", "reason": "butuh pendampingan kecamatan"})
    post("/cases", factories.case(painem, pillar="tksk"))
    fresh = requests.get(f"{api}/workloads", params={"min_position": last["position"] + 1}, headers=bearer,
                         timeout=10)
    assert fresh.status_code == 200, fresh.text


def test_the_coordinators_journey(server, browser, shots):
    _seed(server.url)
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="id-ID", java_script_enabled=False,
                                  accept_downloads=True)
    page = context.new_page()
    sign_in(page, server.url, "sri", "Kasus saya · Pilar")

    page.get_by_role("link", name="Dasbor").click()
    expect(page).to_have_title("Dasbor beban kerja · Pilar")
    checked(page)
    expect(page.get_by_role("img", name="Kasus terbuka menurut status")).to_be_visible()
    aid = page.locator("#t-aid")
    expect(aid.locator("tfoot")).to_have_text("Jumlah2Rp3.750.000")  # PKH's aid only: never FK-LKSA's Rp4.000.000
    expect(page.locator("#t-kecamatan tbody")).to_contain_text("Donorojo")
    expect(page.locator("#t-referrals tbody")).to_contain_text("TKSK")
    shoot(page, shots, "dashboard")

    with page.expect_download() as download:
        aid.get_by_role("link", name="Unduh sebagai CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["Komponen", "Bantuan diberikan", "Nilai"] and rows[-1] == ["Jumlah", "2", "3750000"]

    # Another pillar's numbers by address: refused.
    page.goto(f"{server.url}/dashboard?pillar=fk_lksa")
    expect(page).to_have_title("Tidak diizinkan · Pilar")
    page.go_back()

    page.get_by_role("link", name="Laporan rakor untuk periode ini").click()
    expect(page).to_have_title("Laporan rakor · Pilar")
    checked(page)
    expect(page.locator("#t-served tfoot")).to_have_text("Jumlah2")  # Sainem (PKH, FK-LKSA) and Painem (PKH, TKSK)
    expect(page.locator("#t-people tbody")).to_contain_text("Mbah Sainem")
    expect(page.locator("#t-aid tbody")).to_contain_text("Rp3.750.000")
    shoot(page, shots, "rakor")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.get_by_role("link", name="Unduh sebagai CSV").first).to_be_hidden()
    expect(page.locator("#t-served table")).to_be_visible()
    page.emulate_media(media="screen")

    page.get_by_role("button", name="English").click()
    expect(page).to_have_title("Rakor report · Pilar")
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_title("Workload dashboard · Pilar")
    expect(page.get_by_role("heading", name="Open cases by status")).to_be_visible()
    context.close()
