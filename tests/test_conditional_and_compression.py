"""Light on the network (issue 15, item 7): every GET answer carries an ETag and answers 304 to a
matching If-None-Match (a case's names its version; If-Match still compares the version); answers
over 1 KiB are compressed with gzip or brotli when the client accepts it, with Vary: Accept-Encoding;
the token of a sign-in never is. On SQLite and PostgreSQL, and once through a real gunicorn."""

import base64
import gzip
import hashlib
import re

import brotli
import pytest
import requests

from pilar.api.compression import uncompressed
from testkit import factories
from testkit.fixtures import PASSWORD
from testkit.servers import Gunicorn, token
from pilar.wsgi import create_app

API = "/api/v1"


def _open_case(client, auth) -> str:
    person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth("wati")).json["id"]
    answer = client.post(f"{API}/cases", json=factories.case(person), headers=auth("wati"))
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def _reads_logged(client, auth, **which: str) -> int:
    """Reads of a case (case_id=) or of a person (beneficiary_id=) in the access log."""
    log = client.get(f"{API}/audit/access-log", query_string={**which, "per_page": 500}, headers=auth("inspektur"))
    assert log.status_code == 200, log.json
    return sum(1 for entry in log.json["items"] if entry["action"].startswith("read"))


def test_a_case_answers_304_until_it_changes(client, auth):
    case_id = _open_case(client, auth)
    url = f"{API}/cases/{case_id}"
    first = client.get(url, headers=auth("wati"))
    etag = first.headers["ETag"]
    assert etag.startswith('"1.') and len(etag) == len('"1.') + 24 + 1  # the version, then a digest of the bytes
    reads = _reads_logged(client, auth, case_id=case_id)
    same = client.get(url, headers=auth("wati", **{"If-None-Match": etag}))
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    assert _reads_logged(client, auth, case_id=case_id) == reads + 1  # a 304 is a read all the same: logged
    assert same.headers["Cache-Control"] == "no-store"  # personal: no cache keeps it, a client may
    assigned = client.post(f"{url}/assignment", json={"worker": "agus"}, headers=auth("sri", **{"If-Match": etag}))
    assert assigned.status_code == 200 and assigned.headers["ETag"] == '"2"'  # If-Match read the version
    changed = client.get(url, headers=auth("wati", **{"If-None-Match": etag}))
    assert changed.status_code == 200 and changed.headers["ETag"].startswith('"2.') and changed.json["worker"] == "agus"
    stale = client.post(f"{url}/assignment", json={"worker": "wati"}, headers=auth("sri", **{"If-Match": etag}))
    assert stale.status_code == 412
    # The same version read as it was (?version=1) is the first answer again, tag and all.
    assert client.get(f"{url}?version=1", headers=auth("wati")).headers["ETag"] == etag


def test_a_compressed_cases_etag_is_taken_by_if_match(client, auth):
    case_id = _open_case(client, auth)
    compressed = client.get(f"{API}/cases/{case_id}", headers=auth("wati", **{"Accept-Encoding": "gzip"}))
    etag = compressed.headers["ETag"]
    if compressed.headers.get("Content-Encoding") == "gzip":
        assert etag.endswith(':gzip"')
    else:  # a case under 1 KiB is sent as it is
        etag = etag[:-1] + ':gzip"'
    answer = client.post(f"{API}/cases/{case_id}/assignment", json={"worker": "agus"},
                         headers=auth("sri", **{"If-Match": etag}))
    assert answer.status_code == 200, answer.json
    for malformed in ('"1.abc"', '"1.' + "0" * 24 + ':zip"', '"1.' + "g" * 24 + '"'):
        refused = client.post(f"{API}/cases/{case_id}/assignment", json={"worker": "agus"},
                              headers=auth("sri", **{"If-Match": malformed}))
        assert refused.status_code == 400 and "If-Match" in refused.json["message"], malformed


def test_lists_and_workloads_answer_304_until_the_views_move(client, auth, catch_up):
    _open_case(client, auth)
    catch_up()
    for path in ("/cases", "/workloads", "/workloads/pkh"):
        first = client.get(f"{API}{path}", headers=auth("sri"))
        assert first.status_code == 200 and first.headers["ETag"].startswith('W/"'), path
        same = client.get(f"{API}{path}", headers=auth("sri", **{"If-None-Match": first.headers["ETag"]}))
        assert same.status_code == 304 and same.data == b"", path
    before = client.get(f"{API}/cases", headers=auth("sri"))
    _open_case(client, auth)
    catch_up()
    after = client.get(f"{API}/cases", headers=auth("sri", **{"If-None-Match": before.headers["ETag"]}))
    assert after.status_code == 200 and after.json["total"] == before.json["total"] + 1
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_masked_answer_never_shares_an_etag_with_an_unmasked_one(client, auth):
    person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=auth("wati")).json["id"]
    clear = client.get(f"{API}/beneficiaries/{person}", headers=auth("dinsos"))
    masked = client.get(f"{API}/beneficiaries/{person}", headers=auth("inspektur"))
    assert clear.status_code == masked.status_code == 200
    assert "*" in masked.json["nik"] and "*" not in clear.json["nik"]
    assert clear.headers["ETag"] != masked.headers["ETag"]
    # The auditor who sends the unmasked answer's tag gets the masked answer, not a 304.
    tried = client.get(f"{API}/beneficiaries/{person}", headers=auth("inspektur", **{"If-None-Match": clear.headers["ETag"]}))
    assert tried.status_code == 200 and tried.json["nik"] == masked.json["nik"]
    logged = _reads_logged(client, auth, beneficiary_id=person)
    assert client.get(f"{API}/beneficiaries/{person}",
                      headers=auth("inspektur", **{"If-None-Match": masked.headers["ETag"]})).status_code == 304
    assert _reads_logged(client, auth, beneficiary_id=person) == logged + 1


def test_answers_over_1_kib_are_compressed_when_the_client_accepts_it(client, auth):
    plain = client.get(f"{API}/wilayah", headers=auth("wati"))
    assert len(plain.data) > 1024 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    zipped = client.get(f"{API}/wilayah", headers=auth("wati", **{"Accept-Encoding": "gzip"}))
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data) / 3
    assert int(zipped.headers["Content-Length"]) == len(zipped.data)
    best = client.get(f"{API}/wilayah", headers=auth("wati", **{"Accept-Encoding": "gzip, deflate, br"}))
    assert best.headers["Content-Encoding"] == "br" and brotli.decompress(best.data) == plain.data
    refused = client.get(f"{API}/wilayah", headers=auth("wati", **{"Accept-Encoding": "gzip;q=0, identity"}))
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert len(small.data) < 1024 and "Content-Encoding" not in small.headers
    refused_token = client.get(f"{API}/wilayah", headers={"Accept-Encoding": "gzip"})
    assert refused_token.status_code == 401
    assert all("Accept-Encoding" in answer.headers["Vary"] for answer in (small, refused_token))
    # A compressed answer's strong tag names its coding, and answers 304 in that coding.
    again = client.get(f"{API}/wilayah", headers=auth("wati", **{"Accept-Encoding": "gzip",
                                                                   "If-None-Match": zipped.headers["ETag"]}))
    assert zipped.headers["ETag"].endswith(':gzip"') and again.status_code == 304 and again.data == b""
    assert "Accept-Encoding" in again.headers["Vary"]


def test_a_sign_in_is_never_compressed(app, client, staff):
    app.config["COMPRESS_MIN_SIZE"] = 0  # every other answer is compressed now, however small
    assert client.get("/healthz", headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"
    answer = client.post(f"{API}/auth/token", json={"username": "wati", "password": PASSWORD},
                         headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers and answer.json["token"]


def test_pages_get_the_same_etags_and_compression(services, tmp_path):
    """App-wide, not only the API: a page (HTML, outside /api) and one marked @uncompressed."""
    app = create_app(services)
    page = "<!doctype html><title>Kasus</title>" + "<p>Mbah Sainem, Desa Sirnoboyo</p>" * 60
    app.add_url_rule("/test-page", "test_page", lambda: page)
    app.add_url_rule("/test-secret-page", "test_secret_page", uncompressed(lambda: page))
    client = app.test_client()
    first = client.get("/test-page", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and gzip.decompress(first.data).decode() == page
    assert first.headers["ETag"].startswith('W/"') and "Accept-Encoding" in first.headers["Vary"]
    again = client.get("/test-page", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    secret = client.get("/test-secret-page", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in secret.headers and secret.data.decode() == page
    # A static file (sent as a stream) is compressed as it goes, and answers 304 in its coding.
    css_url = f"{API}/docs/static/swagger-ui.css"
    with client.get(css_url, headers={"Accept-Encoding": "br"}) as css:
        assert css.headers["Content-Encoding"] == "br" and len(brotli.decompress(css.data)) > 4 * len(css.data)
    with client.get(css_url, headers={"Accept-Encoding": "br", "If-None-Match": css.headers["ETag"]}) as again:
        assert css.headers["ETag"].endswith(':br"') and again.status_code == 304 and again.data == b""
    # Swagger UI's CSP names its inline script by hash, taken from the page before it was compressed.
    app.config["COMPRESS_MIN_SIZE"] = 0
    docs = client.get(f"{API}/docs", headers={"Accept-Encoding": "gzip"})
    assert docs.status_code == 200 and docs.headers["Content-Encoding"] == "gzip"
    script = re.search(rb"<script>(.*?)</script>", gzip.decompress(docs.data), re.DOTALL).group(1)
    assert f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" in docs.headers["Content-Security-Policy"]


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # reference data: no store read, a keyed digest
def test_through_gunicorn(settings, services, staff, tmp_path):
    with Gunicorn(settings, workers=2, log=tmp_path / "gunicorn.log") as server:
        bearer = {"Authorization": f"Bearer {token(server.url, 'wati', PASSWORD)}"}
        with requests.Session() as session:
            first = session.get(f"{server.url}{API}/vocabularies", headers={**bearer, "Accept-Encoding": "br"})
            assert first.status_code == 200 and first.headers["Content-Encoding"] == "br"
            assert int(first.headers["Content-Length"]) < len(first.content) / 3 and first.json()["pillars"]
            # Any worker gives the same tag: the digest is keyed by the signing key, not by the process.
            for _ in range(4):
                again = session.get(f"{server.url}{API}/vocabularies",
                                    headers={**bearer, "Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
                assert again.status_code == 304 and again.content == b""
