"""The supervisor's pages (pilar/web/reports.py) in Flask's test client, on SQLite and PostgreSQL: the
dashboard's and rakor report's numbers against data made here, each CSV with exactly its table's
columns and rows, scope tried as an attacker would (another pillar or kecamatan named in the
address), workers and admins refused, names only for readers of personal data, CSV formulas
defused, and the new views equal to a rebuild."""

import csv
import io
from datetime import date, timedelta
from html.parser import HTMLParser
from uuid import UUID

import pytest

from pilar.cases.access import SYSTEM
from pilar.cases.clock import today_in_jakarta
from pilar.projections.maintenance import check
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.pages import Pages
from pilar.web.tables import Column, Table

PACITAN, DONOROJO = "35.01.04", "35.01.01"
TODAY = today_in_jakarta()  # what the pages call today



class Tables(HTMLParser):
    """Each report section's table: key → (header cells, body rows, footer rows), as shown."""

    def __init__(self, html: str):
        super().__init__()
        self.found: dict[str, tuple[list[str], list[list[str]], list[list[str]]]] = {}
        self.key = self.part = None
        self.cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "section" and (found.get("id") or "").startswith("t-"):
            self.key = found["id"][2:]
            self.found[self.key] = ([], [], [])
        elif self.key and tag in ("thead", "tbody", "tfoot"):
            self.part = tag
        elif self.key and tag == "tr" and self.part in ("tbody", "tfoot"):
            self.found[self.key][1 if self.part == "tbody" else 2].append([])
        elif self.key and tag in ("td", "th"):
            self.cell = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell).strip()
            head, body, foot = self.found[self.key]
            (head if self.part == "thead" else (body if self.part == "tbody" else foot)[-1]).append(text)
            self.cell = None
        elif tag == "section":
            self.key = None


def _seed(service, staff):
    """Cases of PKH, TKSK and FK-LKSA in Pacitan and Donorojo; see each test for what they add up to."""
    d = staff["dinsos"]

    def person(name, desa):
        body = factories.person(name=name, desa_code=desa)
        return service.register_beneficiary(d, nik=body["nik"], name=name, birth_date=date(1950, 3, 14), sex="P",
                                            desa_code=desa).id

    def case(who, pillar):
        return service.open_case(d, beneficiary_id=who, pillar=pillar, priority="normal", categories=["fakir_miskin"],
                                 referral={"source": "musdes", "referred_by": "Kades", "reason": "x"}).id

    def aid(case_id, component, value):
        service.give_aid(d, case_id, component=component, item="barang", quantity=1, unit="paket", value_idr=value,
                         funding_source="apbd", given_on=TODAY)

    p1, p2 = person("Sainem", f"{PACITAN}.1001"), person("Painem", f"{DONOROJO}.2001")
    p3, p4 = person("=HYPERLINK(1)", f"{PACITAN}.1001"), person("Tukinem", f"{PACITAN}.1001")
    c1 = case(p1, "pkh")
    service.assess_case(d, c1, needs=["basic_needs"], risk="high", summary="s")
    aid(c1, "basic_needs", 1_500_000)
    aid(c1, "care", 250_000)
    service.give_aid(d, c1, component="care", item="x", quantity=1, unit="x", value_idr=7_000_000,
                     funding_source="apbd", given_on=TODAY - timedelta(days=400))  # outside every period asked
    service.schedule_follow_up(d, c1, due_on=TODAY - timedelta(days=3), purpose="visit")
    c2 = case(p1, "fk_lksa")
    service.assess_case(d, c2, needs=["care"], risk="high", summary="s")
    aid(c2, "care", 9_999_000)
    c3 = case(p2, "pkh")
    service.send_referral(d, c3, to_pillar="tksk", reason="r")
    c4 = case(p3, "pkh")
    service.send_referral(d, c4, to_pillar="tksk", reason="r")
    service.accept_referral(d, c4, service.get_case(d, c4).pending_referral["id"])
    c5 = case(p4, "tksk")
    service.send_referral(d, c5, to_pillar="pkh", reason="r")
    service.decline_referral(d, c5, service.get_case(d, c5).pending_referral["id"], reason="no")
    c6 = case(p4, "pkh")
    service.close_case(d, c6, outcome="graduated", note="")


@pytest.fixture
def world(service, staff, catch_up, client):
    service.add_user(SYSTEM, "kiki", "supervisor", "pkh", PASSWORD, kecamatan=(PACITAN,))
    _seed(service, staff)
    catch_up()
    return Pages(client)


def _as(client, username):
    pages = Pages(client.application.test_client())
    assert pages.sign_in(username, PASSWORD).status_code == 303
    return pages.client


def _tables(answer):
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return Tables(answer.get_data(as_text=True)).found


def _csv(answer):
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data().decode("utf-8"))))


def test_dashboard_numbers_for_a_pillar_coordinator(world, client):
    sri = _as(client, "sri")
    shown = _tables(sri.get("/dashboard"))
    assert shown["summary"][1] == [["Kasus terbuka", "2"], ["Tindak lanjut terlambat", "1"],
                                   ["Median hari dari rujukan sampai asesmen pertama", "0"]]
    assert dict(map(tuple, shown["status"][1])) == {"Dirujuk": "1", "Sudah diasesmen": "0", "Sudah dibantu": "1"}
    assert sorted(map(tuple, shown["kecamatan"][1])) == [("Donorojo", "1"), ("Pacitan", "1")]
    assert shown["aid"][1] == [["Dukungan pemenuhan kebutuhan hidup layak", "1", "Rp1.500.000"],
                               ["Perawatan sosial dan/atau pengasuhan anak", "1", "Rp250.000"]]
    assert shown["aid"][2] == [["Jumlah", "2", "Rp1.750.000"]]
    assert shown["referrals"][1] == [["SDM Pendamping PKH", "TKSK", "1", "0"]]
    months = shown["months"][1]
    assert len(months) == 12 and months[-1][1:] == ["4", "1"]  # C1, C3, C4, C6 opened by PKH; C6 closed
    assert all(row[1:] == ["0", "0"] for row in months[:-1])
    assert shown["waits"][1][0][1] == "1"
    page = sri.get("/dashboard").get_data(as_text=True)
    assert "9.999.000" not in page and "Rp7.000.000" not in page  # FK-LKSA's aid; aid outside the period
    assert page.count("<svg") == 5 and "<title id=" in page and "<desc id=" in page and "<script" not in page


def test_every_pillar_for_dinas_sosial_and_a_chosen_period(world, client):
    dinsos = _as(client, "dinsos")
    every = _tables(dinsos.get("/dashboard"))
    assert every["summary"][1][0] == ["Kasus terbuka", "5"]  # C1 C2 C3 C4 C5
    assert every["aid"][2] == [["Jumlah", "3", "Rp11.749.000"]]
    one = _tables(dinsos.get("/dashboard?pillar=fk_lksa"))
    assert one["aid"][1] == [["Perawatan sosial dan/atau pengasuhan anak", "1", "Rp9.999.000"]]
    earlier = (TODAY - timedelta(days=400)).isoformat()
    past = _tables(dinsos.get(f"/dashboard?from={earlier}&to={earlier}"))
    assert past["aid"][2] == [["Jumlah", "1", "Rp7.000.000"]]


def test_every_csv_has_its_tables_columns_and_rows(world, client):
    sri = _as(client, "sri")
    for page, query in (("dashboard", "?kecamatan=35.01.04"), ("rakor", "")):
        shown = _tables(sri.get(f"/{page}{query}"))
        assert shown
        for key, (head, body, foot) in shown.items():
            rows = _csv(sri.get(f"/{page}/{key}.csv{query}"))
            assert rows[0] == head, key
            assert len(rows) == 1 + len(body) + len(foot), key
            for got, want in zip(rows[1:], body + foot):
                assert got[0].lstrip("'") == want[0], key
                assert [_digits(c) for c in got[1:]] == [_digits(c) for c in want[1:]], key
    assert sri.get("/dashboard/nothing.csv").status_code == 404


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit()) or text


def test_rakor_counts_referrals_aid_and_names(world, client, service):
    sri = _as(client, "sri")
    page = sri.get("/rakor")
    shown = _tables(page)
    text = page.get_data(as_text=True)
    pkh, tksk, fk = "SDM Pendamping PKH", "TKSK", "FK-LKSA"  # short names, for a chart on a phone
    assert sorted(map(tuple, shown["served"][1])) == [(f"{pkh} + {fk}", "1"), (f"{pkh} + {tksk}", "2")]
    assert shown["served"][2] == [["Jumlah", "3"]]  # Tukinem's PKH case was closed today: it served her today
    assert sorted(row[0] for row in shown["people"][1]) == ["=HYPERLINK(1)", "Sainem", "Tukinem"]
    assert sorted(map(tuple, shown["referrals"][1])) == [(pkh, tksk, "1", "0", "1", "2"), (tksk, pkh, "0", "1", "0", "1")]
    assert shown["aid"][1] == [[pkh, "2", "Rp1.750.000"]]
    assert "9.999.000" not in text
    with client.get("/assets/pilar.css") as stylesheet:  # the report prints without menus and filters
        assert "@media print{.top,.no-print{display:none}" in stylesheet.get_data(as_text=True)
    people = _csv(sri.get("/rakor/people.csv"))
    assert ["'=HYPERLINK(1)", f"{pkh} + {tksk}"] in people  # a formula stays text in a spreadsheet
    # In Donorojo nobody is served by two pillars; only C3's pending referral was sent there.
    donorojo = _tables(sri.get("/rakor?kecamatan=35.01.01"))
    assert donorojo["served"][1] == [] and donorojo["referrals"][1] == [[pkh, tksk, "0", "0", "1", "1"]]
    rows, _total = service.access_log.search(username="sri")
    assert sum(row["action"] == "rakor_report" for row in rows) >= 3  # each name read is logged
    # An auditor without pii reads the counts, never the names.
    auditor = _tables(_as(client, "inspektur").get("/rakor"))
    assert "people" not in auditor and auditor["served"][2] == [["Jumlah", "3"]]
    assert "Sainem" not in _as(client, "inspektur").get("/rakor").get_data(as_text=True)


def test_an_erased_person_is_counted_but_not_named(world, client, services, staff, catch_up):
    sri, service = _as(client, "sri"), services.cases
    served = [UUID(b) for b in services.reports.queries.served(None, None, TODAY, TODAY)]
    sainem = next(b for b, name in service.names_of(staff["dinsos"], served, "test").items() if name == "Sainem")
    service.erase_personal_data(staff["dinsos"], sainem, reason="permintaan")
    catch_up()
    shown = _tables(sri.get("/rakor"))
    assert shown["served"][2] == [["Jumlah", "3"]]
    assert sorted(row[0] for row in shown["people"][1]) == ["(dihapus)", "=HYPERLINK(1)", "Tukinem"]


def test_scope_as_an_attacker(world, client):
    sri = _as(client, "sri")
    for path in ("/dashboard?pillar=fk_lksa", "/dashboard/aid.csv?pillar=fk_lksa", "/dashboard?pillar=tksk"):
        answer = sri.get(path)
        assert answer.status_code == 403, path
        assert "9.999.000" not in answer.get_data(as_text=True) and "9999000" not in answer.get_data(as_text=True)
    assert sri.get("/dashboard?pillar=bogus").status_code == 400
    assert sri.get("/rakor?from=2026-13-01").status_code == 400
    assert sri.get("/rakor?from=2026-11-02&to=2026-11-01").status_code == 400
    for name in ("/rakor/aid.csv", "/dashboard/aid.csv"):
        assert "9999000" not in sri.get(name).get_data(as_text=True)
    kiki = _as(client, "kiki")  # PKH, Pacitan only
    assert kiki.get("/dashboard?kecamatan=35.01.01").status_code == 403
    assert kiki.get("/rakor/referrals.csv?kecamatan=35.01.01").status_code == 403
    own = _tables(kiki.get("/dashboard"))
    assert own["kecamatan"][1] == [["Pacitan", "1"]] and own["referrals"][1] == []
    for username in ("wati", "root"):
        refused = _as(client, username)
        for path in ("/dashboard", "/rakor", "/dashboard/status.csv", "/rakor/served.csv", "/dashboard?pillar=bogus"):
            assert refused.get(path).status_code == 403, (username, path)
    assert _as(client, "inspektur").get("/dashboard?pillar=fk_lksa").status_code == 200


def test_english_on_request(world, client):
    sri = _as(client, "sri")
    token = Pages(sri).hidden("/dashboard", "/language")
    sri.post("/language", data={**token, "lang": "en"})
    page = sri.get("/dashboard").get_data(as_text=True)
    assert "Workload dashboard" in page and "Open cases by status" in page and "Rp1.750.000" in page


def test_the_new_views_equal_a_rebuild(world, settings, service):
    position, differences = check(settings)
    assert position == service.recorder.max_notification_id() and differences == []


def test_csv_defuses_formulas():
    table = Table("t", "T", [Column("Name"), Column("N", "count")],
                  [["=1+1", 1], ["+62", 2], ["-x", 3], ["@SUM(A1)", 4], ["Budi", -5]])
    rows = list(csv.reader(io.StringIO(table.csv())))
    assert rows == [["Name", "N"], ["'=1+1", "1"], ["'+62", "2"], ["'-x", "3"], ["'@SUM(A1)", "4"], ["Budi", "-5"]]


def test_views_from_before_these_pages_are_rebuilt_by_db_init(world, settings, service, catch_up, client):
    """A store projected before the dashboards has no aid_days or referrals view: `pilar db init`
    drops its views and the projection process builds them again from event zero."""
    from pilar.bootstrap import init_store
    from pilar.store.connection import ViewDB

    head = service.recorder.max_notification_id()
    conn = ViewDB(settings.store).connect()
    try:
        with conn.transaction():
            conn.execute("DROP TABLE view_aid_days")
            conn.execute("DROP TABLE view_referrals")
    finally:
        conn.close()
    init_store(settings)
    assert catch_up() == head
    assert check(settings) == (head, [])
    shown = _tables(_as(client, "sri").get("/dashboard"))
    assert shown["aid"][2] == [["Jumlah", "2", "Rp1.750.000"]] and shown["referrals"][1][0][2] == "1"
