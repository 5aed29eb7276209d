"""DTSEN desil (issue 17 item 3): a period's extract imported as DesilRecorded events (API and CLI),
bad rows reported without stopping the good ones, a re-run recording nothing; the latest desil on
the case answer and page; open cases counted by desil, equal to a rebuild; the stale flag against
an injected clock (pilar/cases/clock.py)."""

import io
import json
from datetime import date
from uuid import UUID

from pilar.cases import clock
from pilar.cases.beneficiary import Beneficiary
from pilar.projections.maintenance import check
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.pages import Pages
from tests.test_cli import run

API = "/api/v1"
KK = "3501043333440009"


def _register(service, actor, kk: str | None = None) -> tuple[UUID, str]:
    body = factories.person(kk=kk)
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    return service.register_beneficiary(actor, **body).id, body["nik"]


def _open(service, actor, person: UUID, pillar: str = "pkh") -> UUID:
    return service.open_case(actor, beneficiary_id=person, pillar=pillar, priority="high", categories=["fakir_miskin"],
                             referral={"source": "musdes", "referred_by": "Kades", "reason": "x"}).id


def _upload(client, auth, csv_text: str, period: str = "2026Q3", user: str = "dinsos", dry_run: bool = False):
    data = {"period": period, "file": (io.BytesIO(csv_text.encode()), "dtsen.csv")}
    if dry_run:
        data["dry_run"] = "true"
    return client.post(f"{API}/desil/imports", data=data, headers=auth(user), content_type="multipart/form-data")


def _desil_events(service, person: UUID) -> list:
    return [e for e in service.events.get(person) if isinstance(e, Beneficiary.DesilRecorded)]


def _world(service, staff):
    """Three people: one named by NIK, two by their shared KK; each with an open PKH case."""
    dinsos = staff["dinsos"]
    alone, alone_nik = _register(service, dinsos)
    ibu, _ = _register(service, dinsos, KK)
    anak, _ = _register(service, dinsos, KK)
    cases = {p: _open(service, dinsos, p) for p in (alone, ibu, anak)}
    return alone, alone_nik, ibu, anak, cases


def test_an_extract_records_good_rows_reports_bad_ones_and_a_rerun_changes_nothing(service, staff, client, auth,
                                                                                 catch_up):
    alone, alone_nik, ibu, anak, _ = _world(service, staff)
    catch_up()  # the household view names the KK's members
    nobody = factories.person()["nik"]
    extract = ("nik,kk,desil\n"
               f"{alone_nik},,2\n"          # row 2: by NIK
               f",{KK},1\n"                 # row 3: both members of the household
               f"{nobody},,5\n"             # row 4: nobody registered here: counted, not an error
               "12345,,3\n"                 # row 5: a NIK of the wrong shape
               f"{alone_nik},,11\n"         # row 6: desil out of range
               "\n"                         # row 7: blank, skipped (and still numbered)
               ",,4\n")                     # row 8: neither NIK nor KK
    dry = _upload(client, auth, extract, dry_run=True)
    assert dry.status_code == 200, dry.json
    assert _desil_events(service, alone) == []  # a dry run records nothing
    answer = _upload(client, auth, extract)
    assert answer.status_code == 200, answer.json
    report = answer.json
    assert {k: report[k] for k in ("period", "rows", "people", "recorded", "unchanged", "unmatched")} == {
        "period": "2026Q3", "rows": 6, "people": 3, "recorded": 3, "unchanged": 0, "unmatched": 1}
    assert {k: dry.json[k] for k in ("recorded", "unmatched", "problems")} == {
        k: report[k] for k in ("recorded", "unmatched", "problems")}
    assert [(p["row"], p["field"]) for p in report["problems"]] == [(5, "nik"), (6, "desil"), (8, "nik")]
    assert report["problems"][1]["message"] == "must be a whole number from 1 to 10"
    [event] = _desil_events(service, alone)
    assert (event.desil, event.period, event.actor) == (2, "2026Q3", "dinsos") and "dtsen.csv" in event.source
    assert [e.desil for e in _desil_events(service, ibu)] == [1] and [e.desil for e in _desil_events(service, anak)] == [1]

    again = _upload(client, auth, extract).json
    assert (again["recorded"], again["unchanged"]) == (0, 3)
    assert len(_desil_events(service, alone)) == 1 and len(_desil_events(service, ibu)) == 1
    # The same period with another desil is a correction; an older period never replaces the latest.
    assert _upload(client, auth, f"nik,desil\n{alone_nik},3\n").json["recorded"] == 1
    assert _upload(client, auth, f"nik,desil\n{alone_nik},9\n", period="2025-Q4").json["recorded"] == 1
    person = service.repository.get(alone)
    assert (person.desil["value"], person.desil["period"]) == (3, "2026Q3")
    # An erased person is found by neither NIK nor KK any more.
    service.erase_personal_data(staff["dinsos"], anak, reason="permintaan")
    catch_up()
    gone = _upload(client, auth, f"nik,kk,desil\n{alone_nik},,3\n,{KK},7\n").json
    assert (gone["recorded"], gone["unchanged"], gone["people"]) == (1, 1, 2)
    assert len(_desil_events(service, anak)) == 1


def test_only_dinas_sosial_imports_and_a_bad_file_or_period_is_named(service, staff, client, auth):
    _, nik = _register(service, staff["dinsos"])
    extract = f"nik,desil\n{nik},2\n"
    for user in ("wati", "sri", "inspektur", "root"):
        assert _upload(client, auth, extract, user=user).status_code == 403, user
    bad_period = _upload(client, auth, extract, period="2026-13")
    assert bad_period.status_code == 422 and "must be a quarter like 2026Q3" in json.dumps(bad_period.json)
    no_columns = _upload(client, auth, "name,score\nx,1\n")
    assert no_columns.status_code == 422 and "desil" in json.dumps(no_columns.json)
    not_utf8 = client.post(f"{API}/desil/imports", headers=auth("dinsos"), content_type="multipart/form-data",
                           data={"period": "2026Q3", "file": (io.BytesIO(b"nik,desil\n\xff\xfe,1\n"), "x.csv")})
    assert not_utf8.status_code == 422
    assert client.post(f"{API}/desil/imports", headers=auth("dinsos"), content_type="multipart/form-data",
                       data={"period": "2026Q3"}).status_code == 422

def test_a_row_the_csv_reader_cannot_read_is_reported_and_the_rest_recorded(services, staff):
    person, nik = _register(services.cases, staff["dinsos"])
    lines = ["nik,desil\n", "1" * 200_000 + ",2\n", f"{nik},2\n"]
    report = services.households.import_desil(staff["dinsos"], lines, period="2026Q3", source="test")
    assert report["recorded"] == 1 and [(p["row"], p["field"]) for p in report["problems"]] == [(2, "file")]
    assert len(_desil_events(services.cases, person)) == 1


def test_cases_show_the_latest_desil_and_workloads_count_by_desil_equal_to_a_rebuild(service, staff, settings, client,
                                                                                   auth, catch_up):
    alone, alone_nik, ibu, anak, cases = _world(service, staff)
    catch_up()
    _upload(client, auth, f"nik,kk,desil\n{alone_nik},,2\n,{KK},1\n")
    later = _open(service, staff["dinsos"], ibu, "tksk")  # opened after the desil: takes it from the view
    closed = _open(service, staff["dinsos"], alone)
    service.close_case(staff["dinsos"], closed, outcome="graduated", note="mandiri")
    catch_up()
    shown = client.get(f"{API}/cases/{cases[alone]}", headers=auth("dinsos")).json["person_desil"]
    assert (shown["value"], shown["period"], shown["stale"]) == (2, "2026Q3", False)
    pkh = client.get(f"{API}/workloads/pkh", headers=auth("dinsos")).json["open_by_desil"]
    assert (pkh["1"], pkh["2"], pkh["none"], sum(pkh.values())) == (2, 1, 0, 3)  # the closed case is not counted
    assert client.get(f"{API}/workloads/tksk", headers=auth("dinsos")).json["open_by_desil"]["1"] == 1
    listed = client.get(f"{API}/cases", query_string={"beneficiary_id": str(ibu)}, headers=auth("dinsos")).json
    assert {(i["id"], i["desil"], i["desil_period"]) for i in listed["items"]} == {
        (str(cases[ibu]), 1, "2026Q3"), (str(later), 1, "2026Q3")}
    # A newer period moves the counts.
    _upload(client, auth, f"nik,desil\n{alone_nik},4\n", period="2026Q4")
    # min_position: the views shared by reads of the same moment (POSITIONS_TTL) must include the upload
    position = catch_up()
    pkh = client.get(f"{API}/workloads/pkh", query_string={"min_position": position},
                     headers=auth("dinsos")).json["open_by_desil"]
    assert (pkh["1"], pkh["2"], pkh["4"]) == (2, 0, 1)
    position, differences = check(settings)
    assert position > 0 and differences == []


def test_a_desil_older_than_the_setting_is_flagged_in_the_list_the_answer_and_the_page(service, staff, services,
                                                                                      client, auth, catch_up,
                                                                                      monkeypatch):
    alone, alone_nik, ibu, anak, cases = _world(service, staff)
    catch_up()
    _upload(client, auth, f"nik,kk,desil\n{alone_nik},,2\n", period="2025Q1")
    _upload(client, auth, f"kk,desil\n{KK},3\n", period="2026Q1")
    catch_up()
    assert services.settings.desil_max_age_periods == 4
    monkeypatch.setattr(clock, "today_in_jakarta", lambda: date(2026, 2, 10))  # 2026Q1: 2025Q1 is 4 old, fresh
    assert client.get(f"{API}/cases/{cases[alone]}", headers=auth("dinsos")).json["person_desil"]["stale"] is False
    stale = client.get(f"{API}/cases", query_string={"desil_stale": "true"}, headers=auth("dinsos")).json
    assert stale["items"] == []
    monkeypatch.setattr(clock, "today_in_jakarta", lambda: date(2026, 4, 1))  # 2026Q2: 2025Q1 is 5 old, stale
    assert client.get(f"{API}/cases/{cases[alone]}", headers=auth("dinsos")).json["person_desil"]["stale"] is True
    assert client.get(f"{API}/cases/{cases[ibu]}", headers=auth("dinsos")).json["person_desil"]["stale"] is False
    stale = client.get(f"{API}/cases", query_string={"desil_stale": "true"}, headers=auth("dinsos")).json
    assert [(i["id"], i["desil_stale"]) for i in stale["items"]] == [(str(cases[alone]), True)]
    fresh = client.get(f"{API}/cases", query_string={"desil_stale": "false"}, headers=auth("dinsos")).json
    assert {i["id"] for i in fresh["items"]} == {str(cases[ibu]), str(cases[anak])}
    # The pages: a mark on the case page and a filter on the list.
    browser = client.application.test_client()
    assert Pages(browser).sign_in("dinsos", PASSWORD).status_code == 303
    assert 'id="desil-stale"' in browser.get(f"/cases/{cases[alone]}").get_data(as_text=True)
    page = browser.get(f"/cases/{cases[ibu]}").get_data(as_text=True)
    assert 'id="desil-stale"' not in page and "2026Q1" in page
    listed = browser.get("/cases/pillar", query_string={"desil_stale": "1"}).get_data(as_text=True)
    assert str(cases[alone]) in listed and str(cases[ibu]) not in listed


def test_the_max_age_is_a_setting():
    from pilar.settings import Settings

    assert Settings.from_env({}).desil_max_age_periods == 4
    assert Settings.from_env({"PILAR_DESIL_MAX_AGE_PERIODS": "8"}).desil_max_age_periods == 8
    try:
        Settings.from_env({"PILAR_DESIL_MAX_AGE_PERIODS": "a year"})
    except ValueError as e:
        assert "PILAR_DESIL_MAX_AGE_PERIODS" in str(e)
    else:
        raise AssertionError("a bad PILAR_DESIL_MAX_AGE_PERIODS was accepted")


def test_pilar_desil_import_from_the_command_line(service, staff, settings, catch_up, tmp_path):
    alone, alone_nik, ibu, anak, _ = _world(service, staff)
    catch_up()
    extract = tmp_path / "dtsen.csv"
    extract.write_text(f"nama,nik,kk,desil\nSainem,{alone_nik},,2\nRahayu,,{KK},1\nX,xx,,1\n")  # nama: ignored
    dry = run(settings, "desil", "import", str(extract), "--period", "2026Q3", "--as", "dinsos", "--dry-run")
    assert dry.returncode == 1 and json.loads(dry.stdout)["recorded"] == 3 and _desil_events(service, alone) == []
    done = run(settings, "desil", "import", str(extract), "--period", "2026Q3", "--as", "dinsos")
    report = json.loads(done.stdout)
    assert (report["recorded"], [(p["row"], p["field"]) for p in report["problems"]]) == (3, [(4, "nik")])
    again = json.loads(run(settings, "desil", "import", str(extract), "--period", "2026Q3", "--as", "dinsos").stdout)
    assert (again["recorded"], again["unchanged"]) == (0, 3)
    refused = run(settings, "desil", "import", str(extract), "--period", "2026Q3", "--as", "wati")
    assert refused.returncode != 0 and "Dinas Sosial" in refused.stderr
