"""Reference data (issue 15, item 8): GET /api/v1/wilayah and GET /api/v1/vocabularies, for any
signed-in user, each with a strong ETag and 304 on a matching If-None-Match; on SQLite and PostgreSQL."""

import csv
from dataclasses import replace

import pytest

from pilar.bootstrap import bootstrap
from pilar.cases import vocab
from pilar.cases.vocabularies import LABELS_CSV, read_labels
from pilar.cases.wilayah import DEFAULT_WILAYAH_CSV
from pilar.wsgi import create_app

API = "/api/v1"
PACITAN_KECAMATAN = {
    "35.01.01": "Donorojo", "35.01.02": "Pringkuku", "35.01.03": "Punung", "35.01.04": "Pacitan",
    "35.01.05": "Kebonagung", "35.01.06": "Arjosari", "35.01.07": "Nawangan", "35.01.08": "Bandar",
    "35.01.09": "Tegalombo", "35.01.10": "Tulakan", "35.01.11": "Ngadirojo", "35.01.12": "Sudimoro",
}


def _csv_villages(path=DEFAULT_WILAYAH_CSV) -> dict[str, tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["code"]: (r["name"], r["level"]) for r in csv.DictReader(f) if r["level"] in ("desa", "kelurahan")}


def test_wilayah_names_every_kecamatan_of_pacitan_with_its_desa(client, auth):
    answer = client.get(f"{API}/wilayah", headers=auth("wati"))
    assert answer.status_code == 200
    body = answer.json
    assert body["regency"] == {"code": "35.01", "name": "Kabupaten Pacitan"}
    assert {k["code"]: k["name"] for k in body["kecamatan"]} == PACITAN_KECAMATAN
    assert [k["code"] for k in body["kecamatan"]] == sorted(PACITAN_KECAMATAN)
    villages = {v["code"]: (v["name"], v["level"]) for k in body["kecamatan"] for v in k["desa"]}
    assert villages == _csv_villages() and len(villages) == 172
    for kecamatan in body["kecamatan"]:
        assert kecamatan["desa"], kecamatan["name"]
        assert all(v["code"].startswith(kecamatan["code"] + ".") for v in kecamatan["desa"])
        assert [v["code"] for v in kecamatan["desa"]] == sorted(v["code"] for v in kecamatan["desa"])
    pacitan = next(k for k in body["kecamatan"] if k["code"] == "35.01.04")
    assert {"code": "35.01.04.1001", "name": villages["35.01.04.1001"][0], "level": "kelurahan"} in pacitan["desa"]


# Every code list of pilar/cases/vocab.py, by the name the answer gives it.
EXPECTED = {
    "pillars": vocab.PILLARS, "ppks_categories": vocab.PPKS_CATEGORIES, "aid_components": vocab.AID_COMPONENTS,
    "case_statuses": vocab.CASE_STATUSES, "priorities": vocab.PRIORITIES, "risks": vocab.RISKS,
    "referral_sources": vocab.REFERRAL_SOURCES, "closure_outcomes": vocab.CLOSURE_OUTCOMES,
    "funding_sources": vocab.FUNDING_SOURCES, "follow_up_outcomes": vocab.FOLLOW_UP_OUTCOMES, "sexes": vocab.SEXES,
    "roles": vocab.ROLES, "consent_methods": vocab.CONSENT_METHODS, "lawful_bases": vocab.LAWFUL_BASES,
    "privacy_request_kinds": vocab.PRIVACY_REQUEST_KINDS, "privacy_request_statuses": vocab.PRIVACY_REQUEST_STATUSES,
}


def test_no_code_list_of_the_domain_is_left_out():
    lists = {name for name, value in vars(vocab).items()
             if name.isupper() and isinstance(value, tuple) and all(isinstance(code, str) for code in value)}
    assert lists == {name.upper() for name in EXPECTED}


def test_vocabularies_give_every_code_with_indonesian_and_english_labels(client, auth):
    answer = client.get(f"{API}/vocabularies", headers=auth("root"))  # the admin too: nothing personal
    assert answer.status_code == 200
    body = answer.json
    assert set(body) == set(EXPECTED)
    for name, codes in EXPECTED.items():
        assert [entry["code"] for entry in body[name]] == list(codes), name
        for entry in body[name]:
            assert set(entry["labels"]) == {"id", "en"}
            assert entry["labels"]["id"].strip() and entry["labels"]["en"].strip(), (name, entry)
    labels = {name: {e["code"]: e["labels"] for e in entries} for name, entries in body.items()}
    assert labels["ppks_categories"]["lansia_terlantar"] == {"id": "Lanjut usia terlantar", "en": "Neglected older person"}
    assert labels["ppks_categories"]["odgj"]["id"] == "Orang dengan gangguan jiwa (ODGJ)"
    assert labels["pillars"]["tksk"]["id"] == "Tenaga Kesejahteraan Sosial Kecamatan (TKSK)"
    assert labels["aid_components"]["basic_needs"]["id"] == "Dukungan pemenuhan kebutuhan hidup layak"
    assert labels["sexes"]["P"] == {"id": "Perempuan", "en": "Female"}
    # A pillar named as a referral source reads as the pillar does.
    assert all(labels["referral_sources"][p] == labels["pillars"][p] for p in vocab.PILLARS)
    # Indonesian labels are Indonesian: not a copy of the English one, apart from names both languages share.
    same = {(n, c) for n, by_code in labels.items() for c, label in by_code.items() if label["id"] == label["en"]}
    assert same == {("roles", "auditor"), ("roles", "admin")}


@pytest.mark.parametrize("path", ["/wilayah", "/vocabularies"])
def test_reference_data_needs_a_signed_in_user(client, path):
    answer = client.get(f"{API}{path}")
    assert answer.status_code == 401 and answer.json["code"] == 401


@pytest.mark.parametrize("path", ["/wilayah", "/vocabularies"])
def test_reference_data_is_cached_by_a_strong_etag(client, auth, path):
    first = client.get(f"{API}{path}", headers=auth("wati"))
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, no-cache"  # nothing personal: kept, revalidated
    again = client.get(f"{API}{path}", headers=auth("agus", **{"If-None-Match": etag}))
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = client.get(f"{API}{path}", headers=auth("wati", **{"If-None-Match": '"something-else"'}))
    assert other.status_code == 200 and other.data == first.data


def test_another_regencys_wilayah_is_a_new_answer_with_a_new_etag(client, auth, settings, tmp_path):
    before = client.get(f"{API}/wilayah", headers=auth("wati"))
    other_csv = tmp_path / "wilayah.csv"
    rows = DEFAULT_WILAYAH_CSV.read_text(encoding="utf-8").replace("35.01.04.1001,", "35.01.04.1001,Baru ")
    other_csv.write_text(rows, encoding="utf-8")
    services = bootstrap(replace(settings, wilayah_csv=other_csv))
    try:
        changed = create_app(services).test_client()
        token = changed.post(f"{API}/auth/token", json={"username": "wati", "password": "correct-horse-battery"}).json
        after = changed.get(f"{API}/wilayah", headers={"Authorization": f"Bearer {token['token']}",
                                                          "If-None-Match": before.headers["ETag"]})
    finally:
        services.close()
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    pacitan = next(k for k in after.json["kecamatan"] if k["code"] == "35.01.04")
    assert pacitan["desa"][0]["name"].startswith("Baru ")


def test_a_label_file_must_label_every_code_and_only_codes(tmp_path):
    rows = LABELS_CSV.read_text(encoding="utf-8").splitlines()
    cases = {
        "no label for priorities urgent": [r for r in rows if not r.startswith("priorities,urgent,")],
        "not a code": [*rows, "priorities,someday,Kapan-kapan,Someday"],
        "an empty en label for risks low": [r if not r.startswith("risks,low,") else "risks,low,Rendah," for r in rows],
    }
    for problem, lines in cases.items():
        path = tmp_path / "labels.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(ValueError, match=problem):
            read_labels(path)
    assert len(read_labels()) == sum(len(codes) for codes in EXPECTED.values()) - len(vocab.PILLARS)


def test_the_openapi_document_describes_both(client):
    spec = client.get(f"{API}/openapi.json").json
    for path, schema in (("/api/v1/wilayah", "WilayahOut"), ("/api/v1/vocabularies", "VocabulariesOut")):
        answers = spec["paths"][path]["get"]["responses"]
        assert answers["200"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        assert {"304", "401"} <= set(answers)
    assert set(spec["components"]["schemas"]["VocabulariesOut"]["properties"]) == set(EXPECTED)
