"""The import and export API (pilar/api/imports.py): a supervisor uploads, gets an id at once, reads the
report; workers are refused; a PKH coordinator's FK-LKSA rows are refused row by row; bad files
are a clear 4xx; exports keep scope and masking and guard against spreadsheet formulas."""

import csv
import io
import time

import pytest
from openpyxl import load_workbook

from pilar.api.bulk.templates import KINDS
from testkit.factories import case_rows

HEADER = KINDS["cases"].header


def csv_bytes(rows: list[dict], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(client, headers, content: bytes, kind: str = "cases", name: str = "list.csv", **form):
    data = {"kind": kind, "file": (io.BytesIO(content), name), **form}
    return client.post("/api/v1/imports", headers=headers, data=data, content_type="multipart/form-data")


def finished(client, headers, import_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = client.get(f"/api/v1/imports/{import_id}", headers=headers)
        assert answer.status_code == 200, answer.json
        if answer.json["status"] != "running":
            return answer.json
        time.sleep(0.1)
    raise AssertionError("the import did not finish within a minute")


def test_a_supervisor_imports_and_reads_the_report_an_auditor_lists_it(client, auth):
    rows, bad = case_rows(12, bad_every=5, first_serial=1200)
    answer = upload(client, auth("sri"), csv_bytes(rows), dry_run="true")
    assert answer.status_code == 202 and answer.headers["Location"] == answer.json["report"]
    report = finished(client, auth("sri"), answer.json["id"])
    assert report["status"] == "checked" and {e["row"] for e in report["rows"]} == set(bad)
    real = finished(client, auth("sri"), upload(client, auth("sri"), csv_bytes(rows)).json["id"])
    assert real["status"] == "imported" and real["counts"]["imported"] == 12 - len(bad)
    as_csv = client.get(f"/api/v1/imports/{real['id']}?format=csv", headers=auth("sri"))
    assert as_csv.status_code == 200 and as_csv.data.decode().splitlines()[0] == "row,field,outcome,message"
    listed = client.get("/api/v1/imports", headers=auth("inspektur"))
    assert listed.status_code == 200 and {i["id"] for i in listed.json["items"]} == {answer.json["id"], real["id"]}
    assert client.get(f"/api/v1/imports/{real['id']}", headers=auth("inspektur")).status_code == 200
    # Another supervisor's import is not theirs to read.
    assert client.get(f"/api/v1/imports/{real['id']}", headers=auth("dinsos")).status_code == 403


def test_a_worker_cannot_import_and_a_pkh_coordinator_cannot_import_fk_lksa_cases(client, auth, service):
    rows, _ = case_rows(2, pillar="fk_lksa", first_serial=1300)
    refused = upload(client, auth("wati"), csv_bytes(rows))
    assert refused.status_code == 403
    before = service.recorder.max_notification_id()
    report = finished(client, auth("sri"), upload(client, auth("sri"), csv_bytes(rows)).json["id"])
    assert report["counts"]["invalid"] == 2
    assert {(e["field"], e["message"]) for e in report["rows"]} == {("pillar", "you cannot open cases for pillar fk_lksa")}
    assert service.recorder.max_notification_id() == before


@pytest.mark.parametrize("content, kind, name, status, says", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "cases", "photo.png", 422, "not a CSV"),
    (b"nama;alamat\nSainem;Ploso\n", "cases", "list.csv", 422, "unknown columns"),
    (b"nik\n3501044507510001\n", "households", "list.csv", 422, "kind must be one of"),
])
def test_bad_files_are_a_clear_4xx(client, auth, content, kind, name, status, says):
    answer = upload(client, auth("sri"), content, kind, name)
    assert answer.status_code == status and says in answer.json["message"]


def test_a_file_without_file_and_a_file_too_large_are_refused(client, auth, services):
    answer = client.post("/api/v1/imports", headers=auth("sri"), data={"kind": "cases"},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "file" in answer.json["errors"]["files"]
    # Sent as a stream: the test client would otherwise spool the body to a file it never closes.
    big = io.BytesIO(b"x" * (services.settings.import_max_bytes + 1))
    answer = client.post("/api/v1/imports", headers=auth("sri"), input_stream=big,
                         content_type="multipart/form-data; boundary=x", content_length=len(big.getvalue()))
    assert answer.status_code == 413 and "PILAR_IMPORT_MAX_BYTES" in answer.json["message"]


def test_templates_download_in_csv_and_xlsx(client, auth):
    as_csv = client.get("/api/v1/imports/templates/cases?format=csv", headers=auth("wati"))
    assert as_csv.status_code == 200 and as_csv.data.decode().strip() == ",".join(HEADER)
    as_xlsx = client.get("/api/v1/imports/templates/aid?format=xlsx", headers=auth("wati"))
    sheet = load_workbook(io.BytesIO(as_xlsx.data), read_only=True).worksheets[0]
    assert [c for c in next(sheet.iter_rows(values_only=True))] == KINDS["aid"].header
    assert client.get("/api/v1/imports/templates/households", headers=auth("wati")).status_code == 404
    assert client.get("/api/v1/imports/templates/cases?format=pdf", headers=auth("wati")).status_code == 422


def test_exports_mask_for_readers_without_pii_guard_formulas_and_keep_scope(client, auth, service, staff, catch_up):
    rows, _ = case_rows(3, first_serial=1400)
    rows[0]["name"] = "=HYPERLINK(\"http://evil\")"
    report = finished(client, auth("sri"), upload(client, auth("sri"), csv_bytes(rows)).json["id"])
    assert report["counts"]["imported"] == 3
    catch_up()  # exports list the cases the views list
    clear = client.get("/api/v1/exports/cases?pillar=pkh&format=csv", headers=auth("sri"))
    assert clear.status_code == 200
    exported = list(csv.DictReader(io.StringIO(clear.data.decode())))
    assert {r["nik"] for r in exported} == {r["nik"] for r in rows}
    assert "'=HYPERLINK(\"http://evil\")" in {r["name"] for r in exported}
    masked = client.get("/api/v1/exports/cases?pillar=pkh&format=xlsx", headers=auth("inspektur"))
    sheet = load_workbook(io.BytesIO(masked.data), read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    nik_at = values[0].index("nik")
    assert len(values) == 4 and all(v[nik_at].startswith("3501") and "*" in v[nik_at] for v in values[1:])
    assert not any(r["nik"] in str(values) for r in rows) and not any(r["name"] in str(values) for r in rows[1:])
    assert client.get("/api/v1/exports/cases?pillar=tksk", headers=auth("sri")).status_code == 403
    assert client.get("/api/v1/exports/cases?pillar=pkh", headers=auth("joko")).status_code == 403
    logged = client.get("/api/v1/audit/access-log?user=inspektur", headers=auth("inspektur")).json
    assert sum(1 for e in logged["items"] if e["action"] == "export_cases") == 3
