"""Kecamatan scope on the read side (issue 13, item 1): a kecamatan-scoped worker's or
coordinator's case list, follow-up queue and workloads count only their kecamatan; asking for
another kecamatan is refused; opening or assigning across kecamatan is refused; and `pilar audit
export` masks identifiers unless it is run for an auditor with the pii permission."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.errors import InvalidInput, NotAllowed
from pilar.cases.masking import mask_number, masked
from testkit.servers import pilar_env
from tests.scope_world import AWAY, HOME, world  # noqa: F401 (the fixture)

API = "/api/v1"
PILAR = str(Path(sys.executable).parent / "pilar")


def _get(world, column, path, **query):
    answer = world.client.get(f"{API}{path}", query_string=query, headers=world.headers(column))
    assert answer.status_code == 200, answer.get_json()
    return answer.json


def test_a_scoped_workload_counts_only_its_kecamatan(world):
    home = _get(world, "K", "/workloads/pkh")
    assert (home["open_cases"], home["open_by_kecamatan"]) == (2, {HOME: 2})  # C1 and C3
    assert home["open_by_worker"] == {"(unassigned)": 1, "tini": 1}
    assert [item["item"] for item in home["aid_by_item"]] == ["paket sembako"]
    assert (home["overdue_follow_ups"], home["opened_this_month"]) == (1, 2)
    assert home["open_by_status"] == {"referred": 1, "assessed": 0, "aided": 1}
    away = _get(world, "O", "/workloads/pkh")
    assert (away["open_cases"], away["open_by_kecamatan"], away["open_by_worker"]) == (1, {AWAY: 1}, {"budi": 1})
    assert [item["item"] for item in away["aid_by_item"]] == ["kursi roda"]
    assert away["aid_by_component"] == {"care": {"count": 1, "value_idr": 1_750_000}}
    # The unscoped colleague and the coordinator see both kecamatan, summed.
    for column in "WS":
        whole = _get(world, column, "/workloads/pkh")
        assert (whole["open_cases"], whole["open_by_kecamatan"]) == (3, {AWAY: 1, HOME: 2})
        assert whole["overdue_follow_ups"] == 2 and whole["opened_this_month"] == 3
    [brief] = _get(world, "K", "/workloads")["pillars"]
    assert (brief["pillar"], brief["open_cases"], brief["overdue_follow_ups"]) == ("pkh", 2, 1)


def test_a_scoped_case_list_and_follow_up_queue(world):
    ids = world.ids
    assert {c["id"] for c in _get(world, "K", "/cases")["items"]} == {ids["C1"], ids["C3"]}
    assert {c["id"] for c in _get(world, "O", "/cases")["items"]} == {ids["C4"]}
    assert {c["id"] for c in _get(world, "W", "/cases")["items"]} == {ids["C1"], ids["C3"], ids["C4"]}
    # A pending referral brings the case into the receiving pillar's list, as it may read it.
    assert {c["id"] for c in _get(world, "T", "/cases")["items"]} == {ids["C3"]}
    assert _get(world, "O", "/cases", kecamatan=AWAY)["total"] == 1
    refused = world.client.get(f"{API}/cases", query_string={"kecamatan": HOME}, headers=world.headers("O"))
    assert refused.status_code == 403 and "outside your scope" in refused.json["message"]
    assert [f["case_id"] for f in _get(world, "K", "/follow-ups", days_ahead=30)["items"]] == [ids["C1"]]
    assert [f["case_id"] for f in _get(world, "O", "/follow-ups", days_ahead=30)["items"]] == [ids["C4"]]
    assert len(_get(world, "S", "/follow-ups", days_ahead=30)["items"]) == 2


def test_opening_and_assigning_across_kecamatan_is_refused(world):
    app = world.services.cases
    budi = Actor("budi", "worker", "pkh", (AWAY,))
    for person in ("P1", "P4"):  # people of Pacitan
        try:
            app.open_case(budi, beneficiary_id=uuid.UUID(world.people[person].id), pillar="pkh",
                          referral={"source": "musdes", "referred_by": "x", "reason": "y"},
                          categories=["fakir_miskin"], priority="low")
            raise AssertionError("opened a case outside the worker's kecamatan")
        except NotAllowed as refused:
            assert "outside your kecamatan" in str(refused)
    # Nor may a case of Pacitan be given to Donorojo's worker.
    sri = Actor("sri", "supervisor", "pkh")
    try:
        app.assign_case(sri, uuid.UUID(world.ids["C1"]), worker="budi")
        raise AssertionError("assigned a case to a worker outside its kecamatan")
    except InvalidInput as refused:
        assert "kecamatan" in str(refused.errors)


def test_the_kecamatan_rule_in_the_policy():
    tini = Actor("tini", "worker", "pkh", (HOME,))
    assert policy.visible_kecamatan(tini) == (HOME,)
    assert policy.visible_kecamatan(Actor("w", "worker", "pkh")) is None
    assert policy.visible_kecamatan(Actor("a", "auditor", None, (HOME,))) is None  # auditors read all
    assert policy.read_kecamatan(tini, AWAY) == f"kecamatan {AWAY} is outside your scope"
    assert policy.open_case_in(tini, {HOME}) is None and policy.open_case_in(tini, {HOME, AWAY}) is not None
    assert policy.person_in_scope(tini, {"pkh"}, {HOME}) and not policy.person_in_scope(tini, {"pkh"}, {AWAY})
    assert not policy.person_in_scope(tini, {"tksk"}, {HOME})
    assert policy.person_in_scope(tini, set(), {HOME})  # no case yet: any pillar's, in its kecamatan
    assert not policy.person_in_clear(Actor("t", "worker", "pkh", (HOME,), pii=False), {"pkh"}, {HOME})
    assert policy.feed_in_clear(Actor("a", "auditor", None, pii=True))
    assert not policy.feed_in_clear(Actor("a", "auditor", None, pii=False))


def _export(world, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PILAR, "audit", "export", *args], capture_output=True, text=True, timeout=120,
                          env=pilar_env(world.services.settings))


def test_the_export_is_masked_unless_run_for_an_auditor_with_pii(world):
    person = world.people["P1"].body
    masked = _export(world)
    assert masked.returncode == 0, masked.stderr
    assert person["nik"][:4] + "*" * 10 + person["nik"][-2:] in masked.stdout
    for secret in ("nik", "kk", "phone", "address"):
        assert person[secret] not in masked.stdout
    assert _export(world, "--user", "inspektur").stdout == masked.stdout  # an auditor without pii
    clear = _export(world, "--user", "periksa")
    assert clear.returncode == 0 and person["nik"] in clear.stdout and person["address"] in clear.stdout
    assert [json.loads(line)["position"] for line in clear.stdout.splitlines()] == [
        json.loads(line)["position"] for line in masked.stdout.splitlines()]
    for who in ("wati", "nobody", "gone"):  # not an auditor, no such user, deactivated
        refused = _export(world, "--user", who)
        assert refused.returncode != 0 and person["nik"] not in refused.stdout


def test_masking_reaches_any_depth():
    """A person's corrected NIK travels in `changes`, a guardian in `consent`: masked wherever they are."""
    assert masked({"changes": {"nik": "3501044507510021", "phone": "+62 1", "name": "Sainem"}, "reason": "x"}) == {
        "changes": {"nik": "3501**********21", "phone": None, "name": "Sainem"}, "reason": "x"}
    assert masked({"consent": {"given_by": "anaknya", "method": "written"}, "kk": None}) == {
        "consent": {"given_by": None, "method": "written"}, "kk": None}
    assert mask_number("3501044507510021") == "3501**********21" and mask_number(None) is None
