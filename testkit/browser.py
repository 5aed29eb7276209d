"""What every browser test of the pages shares: a real gunicorn on SQLite with its projection
process and one user of each role, Debian's chromium driven by Playwright (never a downloaded
browser), the checks every page must pass (a title, a label on every input, WCAG AA contrast),
signing in, and screenshots at 360 px and desktop width (to PILAR_SCREENSHOTS when set: `make
screenshots` writes docs/screenshots/)."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from pilar.bootstrap import bootstrap, init_store
from pilar.cases.access import SYSTEM
from testkit.fixtures import PASSWORD, new_store_url, settings_for
from testkit.servers import Gunicorn

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}

# Every visible input, select and textarea is named by a <label> (or sits inside one).
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => e.labels.length === 0).map(e => e.name || e.id)"""

# WCAG AA: text at least 4.5:1 against the background it is drawn on (the first opaque one above it).
LOW_CONTRAST = """() => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  return [...document.querySelectorAll('body *')].filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(e => { const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(background(e))];
      return [e.tagName + '.' + e.className + ': ' + e.textContent.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; })
    .filter(([, ratio]) => ratio < 4.5).map(([what, ratio]) => what + ' ' + ratio.toFixed(2));
}"""


# One user of each role: (username, role, pillar or None); every password is testkit's PASSWORD.
USERS = (("wati", "worker", "pkh"), ("sri", "supervisor", "pkh"), ("dinas", "supervisor", None),
         ("audi", "auditor", None), ("adi", "admin", None))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    settings = settings_for(new_store_url("sqlite", tmp), tmp)
    init_store(settings)
    services = bootstrap(settings)
    try:
        for username, role, pillar in USERS:
            services.cases.add_user(SYSTEM, username, role, pillar, PASSWORD)
    finally:
        services.close()
    with Gunicorn(settings, workers=2, projector=True, log=tmp / "gunicorn.log") as running:
        running.settings = settings
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    target = Path(os.environ.get("PILAR_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def checked(page: Page) -> None:
    """Every page: a title naming it, a label for every input, and text that can be read."""
    assert re.fullmatch(r".+ · Pilar", page.title()), page.title()
    assert page.evaluate(UNLABELLED) == [], page.url
    assert page.evaluate(LOW_CONTRAST) == [], page.url


def shoot(page: Page, shots: Path, name: str) -> None:
    for size, viewport in (("360", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=shots / f"{name}-{size}.png", full_page=True)
    page.set_viewport_size(PHONE)


def sign_in(page: Page, url: str, username: str = "wati", landing: str = "Kasus saya · Pilar") -> None:
    page.goto(f"{url}/")
    expect(page).to_have_title("Masuk · Pilar")
    checked(page)
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page).to_have_title(landing)
