"""Bulk import writes its rows in batches, each committed together (pilar/cases/staging.py): on both
stores, a row failing in the middle of a batch leaves nothing of itself and its neighbours are
imported; a batch another writer got in the way of is replayed row by row; an import killed in the
middle of a batch and run again imports each row exactly once, its views equal to a rebuild and
its seals verifying."""

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from eventsourcing.utils import get_topic

from pilar.api.bulk import importer
from pilar.api.bulk.templates import KINDS
from pilar.cases.beneficiary import Beneficiary, NikClaim
from pilar.cases.case import Case
from pilar.projections.maintenance import check
from testkit.factories import case_rows
from testkit.servers import pilar_env
from tests.test_imports import run, write_csv

HEADER = KINDS["cases"].header


def events_of(service, event_class) -> list:
    found, position = [], 0
    while batch := service.recorder.select_notifications(position, 1000, topics=[get_topic(event_class)],
                                                         inclusive_of_start=False):
        found += batch
        position = batch[-1].id
    return found


def count(services, sql: str) -> int:
    with services.readers.connection() as conn:
        return conn.one(sql)[0]


def written_once(service, niks: list[str]) -> None:
    """Each NIK held by one person, registered once, with one case opened on them."""
    registered = events_of(service, Beneficiary.BeneficiaryRegistered)
    holders = [service.holder_of_nik(nik) for nik in niks]
    assert None not in holders and len(set(holders)) == len(niks) == len(registered)
    assert len(events_of(service, NikClaim.NikClaimed)) == len(niks)
    opened = Counter(service.mapper.to_domain_event(e).beneficiary_id for e in events_of(service, Case.CaseOpened))
    assert opened == Counter(holders)


@pytest.mark.parametrize("bad_row", [2, 5, 7])  # the first row of a batch, one in the middle, the last
def test_a_row_failing_mid_batch_leaves_nothing_of_itself_and_its_batch_is_imported(
        services, service, staff, tmp_path, monkeypatch, catch_up, settings, bad_row):
    monkeypatch.setattr(importer, "BATCH", 3)  # rows 2-4, 5-7, 8-9
    rows, _ = case_rows(8, first_serial=2000)
    # A consent-basis case for a new person passes every check of the row, and is refused only when
    # the case is opened: after the person's registration was decided, in the same batch.
    rows[bad_row - 2]["lawful_basis"] = "consent"
    report = run(services, staff["sri"], write_csv(tmp_path / "c.csv", HEADER, rows))
    assert report["counts"] == {"rows_read": 8, "imported": 7, "matched": 0, "already": 0, "invalid": 1}
    assert [(e["row"], e["outcome"]) for e in report["rows"]] == [(bad_row, "invalid")]
    assert "consent_required" in report["rows"][0]["message"]

    assert service.holder_of_nik(rows[bad_row - 2]["nik"]) is None  # the person was not registered either
    good = [r["nik"] for r in rows if r["lawful_basis"] != "consent"]
    written_once(service, good)
    # Nor any key or name token of the bad row: a person's, case's and NIK holding's key for each good one.
    assert count(services, "SELECT COUNT(*) FROM personal_keys") == 3 * len(good)
    assert count(services, "SELECT COUNT(DISTINCT beneficiary_id) FROM name_tokens") == len(good)
    catch_up()
    assert check(settings)[1] == []


def test_a_dry_run_and_all_or_nothing_meet_the_rules_a_command_applies_and_write_nothing(
        services, service, staff, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 3)
    rows, _ = case_rows(8, first_serial=2100)
    rows[4]["lawful_basis"] = "consent"  # row 6: refused only when its case would be opened
    rows[7] = {**rows[1], "external_id": "again-3"}  # row 9: row 3's person, two batches later: matched
    listed = write_csv(tmp_path / "c.csv", HEADER, rows)
    before = count(services, "SELECT COUNT(*) FROM personal_keys")
    events = len(events_of(service, Case.CaseOpened))

    checked = run(services, staff["sri"], listed, dry_run=True)
    assert [(e["row"], e["outcome"]) for e in checked["rows"]] == [(6, "invalid"), (9, "matched")]
    assert "consent_required" in checked["rows"][0]["message"]
    assert checked["counts"] == {"rows_read": 8, "imported": 7, "matched": 0, "already": 0, "invalid": 1}
    refused = run(services, staff["sri"], listed, all_or_nothing=True)
    assert refused["status"] == "refused" and [e["row"] for e in refused["rows"] if e["outcome"] == "invalid"] == [6]
    assert len(events_of(service, Case.CaseOpened)) == events  # nothing written, no key made
    assert count(services, "SELECT COUNT(*) FROM personal_keys") == before


def test_a_batch_another_writer_got_in_the_way_of_is_replayed_row_by_row(
        services, service, staff, tmp_path, monkeypatch):
    rows, _ = case_rows(4, first_serial=2100)
    commit = service.commit_staged
    raced = []

    def another_writer_first(staged):
        if not raced:  # registers row 3's NIK just before the first batch commits
            third = {k: rows[1][k] for k in ("nik", "name", "sex", "desa_code")}
            writer = threading.Thread(target=lambda: raced.append(service.register_beneficiary(
                staff["wati"], **third, birth_date=date.fromisoformat(rows[1]["birth_date"]))))
            writer.start()
            writer.join()
        commit(staged)

    monkeypatch.setattr(service, "commit_staged", another_writer_first)
    report = run(services, staff["sri"], write_csv(tmp_path / "c.csv", HEADER, rows))
    assert report["counts"] == {"rows_read": 4, "imported": 4, "matched": 0, "already": 0, "invalid": 0}
    assert [(e["row"], e["outcome"]) for e in report["rows"]] == [(3, "matched")]
    assert service.holder_of_nik(rows[1]["nik"]) == raced[0].id  # the case went onto the other writer's person
    written_once(service, [r["nik"] for r in rows])


def test_an_import_killed_mid_batch_then_run_again_imports_each_row_exactly_once(
        services, service, staff, settings, tmp_path, catch_up):
    rows, _ = case_rows(3 * importer.BATCH, first_serial=3000)
    listed = write_csv(tmp_path / "long.csv", HEADER, rows)
    command = [str(Path(sys.executable).parent / "pilar"), "import", str(listed), "--kind", "cases", "--as", "sri"]
    first = subprocess.Popen(command, env=pilar_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Killed once its first batch is in, while it stages or commits the next.
    deadline = time.monotonic() + 120
    while len(events_of(service, Case.CaseOpened)) == 0 and first.poll() is None:
        assert time.monotonic() < deadline, "the first batch was never committed"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    said = first.communicate(timeout=30)[1].decode()
    opened = len(events_of(service, Case.CaseOpened))
    assert first.returncode == -signal.SIGKILL and 0 < opened < len(rows), f"the kill did not land mid-import: {said}"
    assert opened % importer.BATCH == 0  # whole batches only

    again = run(services, staff["sri"], listed)
    assert again["counts"] == {"rows_read": len(rows), "imported": len(rows) - opened, "matched": 0,
                               "already": opened, "invalid": 0}
    written_once(service, [r["nik"] for r in rows])
    catch_up()
    assert check(settings)[1] == []  # the views equal a rebuild
    verified = services.audit.verify(staff["inspektur"])  # every event's MAC and the seals over them hold
    assert verified["ok"] is True and verified["first_break"] is None
