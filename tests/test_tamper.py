"""The tamper suite: someone who can write the database (SQLite file or PostgreSQL) but has no audit
key edits, deletes, inserts, reorders or re-attributes events, seals and access-log entries; verify
names each break's kind and place. Every scenario runs on both stores. The seals are made by the
projection process's own step (`Follower`), which also publishes the heads file."""

import hashlib
import hmac
import json
import shutil
from uuid import UUID, uuid4

import pytest

from pilar.audit.access_log import BOUNDARY_NAME as ACCESS_BOUNDARY
from pilar.audit.access_log import COLUMNS, AccessLog, entry_mac, mac_key
from pilar.audit.heads import Head, HeadsFile, SealsCutBack
from pilar.audit.seals import verify
from pilar.bootstrap import init_store
from pilar.cases import event_mac
from pilar.cases.access import Actor
from pilar.cases.errors import DamagedEvent
from pilar.projections.runner import Follower
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.processes import run_projection_until

API = "/api/v1"


@pytest.fixture
def store(settings):
    conn = ViewDB(settings.store).connect()
    yield conn
    conn.close()


class Events:
    """The events table of either store, as an attacker sees it."""

    def __init__(self, store):
        self.store = store
        sqlite = store.kind == "sqlite"
        self.table, self.pos = ("stored_events", "rowid") if sqlite else ("pilar_events", "notification_id")
        self.key = (lambda stream: UUID(str(stream)).hex) if sqlite else (lambda stream: UUID(str(stream)))

    def row(self, position: int) -> tuple[str, int, str, bytes]:
        stream, version, topic, state = self.store.one(
            f"SELECT originator_id, originator_version, topic, state FROM {self.table} WHERE {self.pos} = ?",
            (position,))
        return str(UUID(str(stream))), int(version), topic, bytes(state)

    def position(self, stream, version: int) -> int:
        return int(self.store.one(f"SELECT {self.pos} FROM {self.table} WHERE originator_id = ? AND "
                                  "originator_version = ?", (self.key(stream), version))[0])

    def last_version(self, stream) -> int:
        return int(self.store.one(f"SELECT MAX(originator_version) FROM {self.table} WHERE originator_id = ?",
                                  (self.key(stream),))[0])

    def head(self) -> int:
        return int(self.store.one(f"SELECT MAX({self.pos}) FROM {self.table}")[0])

    def set_state(self, position: int, state: bytes) -> None:
        self.store.execute(f"UPDATE {self.table} SET state = ? WHERE {self.pos} = ?", (state, position))

    def delete(self, *positions: int) -> None:
        for position in positions:
            self.store.execute(f"DELETE FROM {self.table} WHERE {self.pos} = ?", (position,))

    def insert(self, stream, version: int, topic: str, state: bytes) -> int:
        self.store.execute(f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, ?, ?)", (self.key(stream), version, topic, state))
        return self.position(stream, version)

    def swap(self, a: int, b: int) -> None:
        with self.store.transaction():
            for old, new in ((a, -1), (b, a), (-1, b)):
                self.store.execute(f"UPDATE {self.table} SET {self.pos} = ? WHERE {self.pos} = ?", (new, old))


@pytest.fixture
def events(store):
    return Events(store)


@pytest.fixture
def heads(settings) -> HeadsFile:
    return HeadsFile(settings.heads_path, settings.audit_key())


@pytest.fixture
def seal(service, store, settings, heads):
    """seal() -> the Follower: project and seal everything (the access log too), and publish the head."""

    def run() -> Follower:
        follower = Follower(service, store, settings.audit_key(), 100, heads=heads, access_min_age=0)
        while follower.step():
            pass
        follower.keeper.publish(force=True)
        return follower

    return run


@pytest.fixture
def check(service, store, settings):
    """check(against=None) -> the verification, against the configured heads file or another copy."""
    return lambda against=None: verify(service.recorder, store, settings.audit_key(),
                                       heads=against or settings.heads_path)


@pytest.fixture
def story(client, auth):
    """Two cases by two workers, with aid, and reads of each (access-log entries)."""
    made = {}
    for who in ("wati", "agus"):
        h = auth(who)
        person = client.post(f"{API}/beneficiaries", json=factories.person(), headers=h).json["id"]
        case = client.post(f"{API}/cases", json=factories.case(person), headers=h).json["id"]
        client.post(f"{API}/cases/{case}/assessments", json=factories.assessment(), headers=h)
        client.post(f"{API}/cases/{case}/aid", json=factories.aid(), headers=h)
        client.post(f"{API}/cases/{case}/aid", json=factories.aid(item="paket perawatan diri", value_idr=150000),
                    headers=h)
        for _ in range(3):
            assert client.get(f"{API}/cases/{case}", headers=h).status_code == 200
            assert client.get(f"{API}/beneficiaries/{person}", headers=h).status_code == 200
        made[who] = (UUID(person), UUID(case))
    return made


def kinds(result) -> list[tuple]:
    return [(b.kind, b.position) for b in result.breaks]


def only(result, kind: str):
    found = [b for b in result.breaks if b.kind == kind]
    assert found, f"no {kind} break in {result.breaks}"
    return found[0]


def access_rows(store) -> list[tuple]:
    order = store.row_order
    return [(int(r[0]), r[1]) for r in store.all(f"SELECT {order}, id FROM audit_access_log ORDER BY {order}")]


# ----------------------------------------------------------------------------- untouched
def test_an_untouched_store_verifies_ok_and_publishes_a_private_heads_file(story, seal, check, settings, events,
                                                                           store, client, auth, services):
    assert check().heads["status"] == "none published yet" and check().ok
    seal()
    result = check()
    assert result.ok, result.breaks
    assert result.checked == events.head() and result.unsealed == 0
    assert result.access_checked == len(access_rows(store)) >= 12 and result.access_unsealed == 0
    assert result.heads["status"] == "checked" and result.heads["position"] == events.head()
    assert settings.heads_path.stat().st_mode & 0o777 == 0o600
    services.audit.heads_file = settings.heads_path  # as bootstrap configures it
    answer = client.get(f"{API}/audit/verify", headers=auth("inspektur")).json
    assert answer["ok"] is True and answer["breaks"] == [] and answer["first_break"] is None
    assert answer["heads"]["status"] == "checked" and answer["access_log"]["unsealed_entries"] == 0


# ----------------------------------------------------------------------------- events
def test_an_edited_event_is_named_and_nothing_else(story, seal, check, events):
    _, case = story["wati"]
    seal()
    position = events.position(case, 3)
    stream, version, topic, state = events.row(position)
    events.set_state(position, state.replace(b'"value_idr":300000', b'"value_idr":900000'))
    result = check()
    assert [(b.kind, b.position, b.stream_id, b.version) for b in result.breaks] == [
        ("edited", position, str(case), 3)]


def test_a_changed_actor_is_caught_sealed_or_not(story, seal, check, events, client, auth):
    _, case = story["wati"]
    seal()
    # Written before the damage below: a case holding a damaged event takes no more writes.
    assert client.post(f"{API}/cases/{case}/aid", json=factories.aid(), headers=auth("wati")).status_code == 200
    late = events.position(case, events.last_version(case))
    position = events.position(case, 3)
    events.set_state(position, events.row(position)[3].replace(b'"actor":"wati"', b'"actor":"agus"'))
    assert kinds(check()) == [("edited", position)]
    # Not yet sealed: its MAC no longer holds; the projection process stops at it rather than seal it.
    events.set_state(late, events.row(late)[3].replace(b'"actor":"wati"', b'"actor":"agus"'))
    assert kinds(check()) == [("edited", position), ("forged", late)]
    with pytest.raises(DamagedEvent) as stopped:
        seal()
    assert stopped.value.position == late
    assert kinds(check()) == [("edited", position), ("forged", late)]


def test_a_deleted_sealed_event_is_named(story, seal, check, events):
    _, case = story["wati"]
    seal()
    position = events.position(case, 3)
    events.delete(position)
    assert [(b.kind, b.position, b.stream_id, b.version) for b in check().breaks] == [
        ("missing_event", position, str(case), 3)]


def test_an_event_deleted_with_its_seal_is_named(story, seal, check, events, store):
    _, case = story["wati"]
    seal()
    position, next_in_stream = events.position(case, 3), events.position(case, 4)
    events.delete(position)
    store.execute("DELETE FROM audit_seals WHERE position = ?", (position,))
    after = int(store.one("SELECT MIN(position) FROM audit_seals WHERE position > ?", (position,))[0])
    assert sorted(kinds(check())) == sorted([("seal_chain", after), ("stream_gap", next_in_stream)])


def test_two_swapped_events_are_named(story, seal, check, events):
    _, wati_case = story["wati"]
    _, agus_case = story["agus"]
    seal()
    a, b = events.position(wati_case, 3), events.position(agus_case, 3)
    events.swap(a, b)
    assert kinds(check()) == [("reordered", a), ("reordered", b)]


@pytest.mark.parametrize("mac", ["copied", "none"])
def test_a_forged_event_in_another_users_name_is_named_even_once_sealed(mac, story, seal, check, events):
    _, wati_case = story["wati"]
    _, agus_case = story["agus"]
    seal()
    _, _, topic, state = events.row(events.position(wati_case, 3))  # wati's AidGiven, MAC and all
    forged = state.replace(b'"actor":"wati"', b'"actor":"agus"').replace(b"300000", b"950000")
    if mac == "none":
        forged = event_mac.payload(forged)
    version = events.last_version(agus_case) + 1
    position = events.insert(agus_case, version, topic, forged)
    result = check()
    assert [(b.kind, b.position, b.stream_id, b.version) for b in result.breaks] == [
        ("forged", position, str(agus_case), version)]
    with pytest.raises(DamagedEvent) as stopped:  # the projection process stops at it rather than seal it
        seal()
    assert stopped.value.position == position
    assert kinds(check()) == [("forged", position)]


def test_an_exact_copy_of_another_event_is_forged(story, seal, check, events):
    _, wati_case = story["wati"]
    seal()
    _, _, topic, state = events.row(events.position(wati_case, 3))
    version = events.last_version(wati_case) + 1
    position = events.insert(wati_case, version, topic, state)  # the same aid again, its MAC copied
    assert kinds(check()) == [("forged", position)]


def test_a_forged_mac_boundary_is_named(story, seal, check, store):
    seal()
    store.execute("UPDATE pilar_key_checks SET check_value = ? WHERE name = ?",
                  ("999999:00000000000000000000000000000000", event_mac.BOUNDARY_NAME))
    assert kinds(check()) == [("forged_boundary", 999999)]


# ----------------------------------------------------------------------------- seals
def test_a_deleted_seal_breaks_the_chain(story, seal, check, events, store):
    _, case = story["wati"]
    seal()
    position = events.position(case, 3)
    store.execute("DELETE FROM audit_seals WHERE position = ?", (position,))
    after = int(store.one("SELECT MIN(position) FROM audit_seals WHERE position > ?", (position,))[0])
    assert kinds(check()) == [("missing_seals", position), ("seal_chain", after)]


def test_deleting_every_seal_does_not_let_the_projection_process_regrow_them(story, seal, check, events, store,
                                                                             settings, service, heads):
    seal()
    head = events.head()
    store.execute("DELETE FROM audit_seals")
    store.execute("DELETE FROM audit_access_seals")
    broken = check()
    assert not broken.ok
    assert (broken.breaks[0].kind, broken.breaks[0].position, broken.breaks[0].last_position) == (
        "missing_seals", 1, head)
    assert only(broken, "access_log_inserted").access_seq == access_rows(store)[0][0]
    with pytest.raises(SealsCutBack):
        Follower(service, store, settings.audit_key(), 100, heads=heads)
    # The real process: it refuses, and seals nothing.
    assert run_projection_until(settings, "refusing") == "refusing"
    assert store.one("SELECT COUNT(*) FROM audit_seals")[0] == 0
    assert kinds(check())[0] == ("missing_seals", 1)


def test_seals_deleted_from_a_position_on_are_not_regrown_over_an_edit(story, seal, check, events, store, settings,
                                                                      service, heads, tmp_path):
    _, case = story["wati"]
    seal()
    kept = tmp_path / "auditors_copy"
    shutil.copy(settings.heads_path, kept)
    head = events.head()
    cut = events.position(case, 3)
    store.execute("DELETE FROM audit_seals WHERE position >= ?", (cut,))
    events.set_state(cut, events.row(cut)[3].replace(b"300000", b"900000"))
    with pytest.raises(SealsCutBack):
        Follower(service, store, settings.audit_key(), 100, heads=heads)
    result = check()
    assert kinds(result)[:2] == [("forged", cut), ("missing_seals", cut + 1)]
    assert result.breaks[1].last_position == head
    # Even with the heads file gone too, the regrown seals differ from the kept head, and the edit has no MAC.
    settings.heads_path.unlink()
    Follower(service, store, settings.audit_key(), 100, heads=heads).step()
    assert kinds(check()) == [("forged", cut)]
    assert kinds(check(kept)) == [("forged", cut), ("head_mismatch", head)]


def test_truncation_is_caught_against_the_heads_file_and_a_kept_copy(story, seal, check, events, store, settings,
                                                                     service, heads, tmp_path):
    from tests.test_cli import run

    seal()
    kept = tmp_path / "auditors_copy"
    shutil.copy(settings.heads_path, kept)
    head = events.head()
    newest = [head - 2, head - 1, head]
    events.delete(*newest)
    store.execute("DELETE FROM audit_seals WHERE position >= ?", (newest[0],))
    assert check(kept).ok is False
    for result in (check(), check(kept)):
        assert kinds(result) == [("truncated", head)], result.breaks
    with pytest.raises(SealsCutBack):
        Follower(service, store, settings.audit_key(), 100, heads=heads)
    cli = run(settings, "audit", "verify")
    assert cli.returncode == 1 and f"BROKEN (truncated) at position {head}" in cli.stderr
    settings.heads_path.unlink()  # the file is gone too: the auditor's copy still tells
    assert run(settings, "audit", "verify").returncode == 0
    against = run(settings, "audit", "verify", "--against", str(kept))
    assert against.returncode == 1 and f"BROKEN (truncated) at position {head}" in against.stderr


def test_a_forged_head_line_is_named_and_the_last_good_one_is_used(story, seal, check, events, settings, heads):
    seal()
    good = heads.latest()
    with open(settings.heads_path, "a") as out:
        out.write(Head(good.position + 50, "ab" * 32, 0, "-", "2030-01-01T00:00:00Z").body() + " " + "0" * 64 + "\n")
    result = check()
    assert [b.kind for b in result.breaks] == ["forged_head"]
    assert result.heads["position"] == good.position
    assert heads.latest() == good


# ----------------------------------------------------------------------------- access log
def test_an_edited_access_log_entry_is_named(story, seal, check, store):
    seal()
    seq, entry = access_rows(store)[2]
    store.execute("UPDATE audit_access_log SET username = 'inspektur' WHERE id = ?", (entry,))
    result = check()
    assert [(b.kind, b.entry_id, b.access_seq) for b in result.breaks] == [("access_log_edited", entry, seq)]


def test_deleted_access_log_entries_are_named_with_their_range(story, seal, check, store):
    seal()
    rows = access_rows(store)
    store.execute("DELETE FROM audit_access_log WHERE id IN (?, ?)", (rows[3][1], rows[4][1]))
    (broken,) = check().breaks
    assert (broken.kind, broken.entry_id, broken.access_seq, broken.last_access_seq) == (
        "access_log_deleted", rows[3][1], rows[3][0], rows[4][0])


@pytest.mark.parametrize("mac", ["none", "genuine"])
def test_an_inserted_access_log_entry_is_named(mac, story, seal, check, store, settings):
    seal()
    row = {store.row_order: 0, "id": str(uuid4()), "at": "2026-01-01T00:00:00.000000Z", "username": "agus",
           "role": "worker", "action": "read_case", "case_id": None, "beneficiary_id": None, "detail": "",
           "client": None}
    if mac == "genuine":  # as if Pilar wrote it (only the audit key makes this), its seal then deleted
        row["mac"] = entry_mac(mac_key(settings.audit_key()), [row[c] for c in COLUMNS])
    seq, entry = append_access_row(store, **row)
    (broken,) = check().breaks
    kind = "access_log_inserted" if mac == "genuine" else "access_log_forged"
    assert (broken.kind, broken.entry_id, broken.access_seq) == (kind, entry, seq) and seq == 0


def test_the_newest_access_log_entries_deleted_with_their_seals_are_named(story, seal, check, store, settings,
                                                                         service, heads):
    seal()
    rows = access_rows(store)
    newest = rows[-2:]
    for seq, entry in newest:
        store.execute("DELETE FROM audit_access_log WHERE id = ?", (entry,))
        store.execute("DELETE FROM audit_access_seals WHERE seq = ?", (seq,))
    (broken,) = check().breaks
    assert (broken.kind, broken.access_seq, broken.last_access_seq) == ("access_log_deleted", newest[0][0],
                                                                        newest[1][0])
    with pytest.raises(SealsCutBack):
        Follower(service, store, settings.audit_key(), 100, heads=heads)


# ----------------------------------------------------------------------------- access-log MACs
def access_row(store, entry: str) -> dict:
    row = store.one(f"SELECT {', '.join(COLUMNS)}, mac FROM audit_access_log WHERE id = ?", (entry,))
    return dict(zip((*COLUMNS, "mac"), row))


def append_access_row(store, **row) -> tuple[int, str]:
    """Append a row as whoever writes the database directly would: (its seq, its id)."""
    names = list(row)
    store.execute(f"INSERT INTO audit_access_log ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                  [row[name] for name in names])
    return int(store.one(f"SELECT {store.row_order} FROM audit_access_log WHERE id = ?", (row["id"],))[0]), row["id"]


def access_breaks(result) -> list[tuple]:
    return [(b.kind, b.entry_id, b.access_seq) for b in result.breaks]


def is_sealed(store, seq: int) -> bool:
    return store.one("SELECT 1 FROM audit_access_seals WHERE seq = ?", (seq,)) is not None


@pytest.mark.parametrize("mac", ["none", "copied", "made_up", "other_key"])
def test_an_access_log_entry_slipped_in_is_forged_before_and_after_it_is_sealed(mac, story, seal, check, store,
                                                                               caplog):
    agus_person, _ = story["agus"]
    seal()
    genuine = access_row(store, access_rows(store)[-1][1])
    # wati reads agus's beneficiary, in a row nobody made through Pilar.
    row = {**genuine, "id": str(uuid4()), "username": "wati", "role": "worker", "action": "read_beneficiary",
           "case_id": None, "beneficiary_id": str(agus_person), "detail": ""}
    row["mac"] = {"none": None, "copied": genuine["mac"], "made_up": "ab" * 32,
                  "other_key": entry_mac(mac_key(b"not the audit key"), [row[c] for c in COLUMNS])}[mac]
    seq, entry = append_access_row(store, **row)
    result = check()
    assert access_breaks(result) == [("access_log_forged", entry, seq)]
    assert entry in result.breaks[0].message and "read_beneficiary by wati" in result.breaks[0].message
    with caplog.at_level("WARNING", logger="pilar.projection"):
        seal()  # the projection process seals it as it is...
    assert is_sealed(store, seq) and entry in caplog.text
    result = check()
    assert access_breaks(result) == [("access_log_forged", entry, seq)]  # ...which does not make it genuine
    assert "sealed as it is" in result.breaks[0].message and result.access_unsealed == 0


def test_a_copy_of_a_genuine_entry_under_a_new_id_is_forged(story, seal, check, store):
    seal()
    genuine = access_row(store, access_rows(store)[3][1])
    seq, entry = append_access_row(store, **{**genuine, "id": str(uuid4())})  # the same read again, MAC and all
    assert access_breaks(check()) == [("access_log_forged", entry, seq)]


def test_an_entry_edited_before_it_is_sealed_no_longer_holds_its_mac(story, seal, check, store, client, auth):
    agus_person, _ = story["agus"]
    seal()
    # Sealed: its seal tells (the existing edit test); its MAC is checked too.
    sealed_seq, sealed_entry = access_rows(store)[1]
    store.execute("UPDATE audit_access_log SET mac = ? WHERE id = ?", ("00" * 32, sealed_entry))
    assert access_breaks(check()) == [("access_log_forged", sealed_entry, sealed_seq)]
    # Not yet sealed: inspektur's read, put in agus's name.
    assert client.get(f"{API}/beneficiaries/{agus_person}", headers=auth("inspektur")).status_code == 200
    seq, entry = access_rows(store)[-1]
    assert access_row(store, entry)["username"] == "inspektur"
    assert check().access_unsealed == 1 and len(check().breaks) == 1
    store.execute("UPDATE audit_access_log SET username = 'agus', role = 'worker' WHERE id = ?", (entry,))
    expected = [("access_log_forged", sealed_entry, sealed_seq), ("access_log_forged", entry, seq)]
    assert access_breaks(check()) == expected
    seal()
    assert is_sealed(store, seq) and access_breaks(check()) == expected


def test_many_genuine_entries_verify_ok_sealed_or_not(story, seal, check, store, services):
    actor = Actor("wati", "worker", None)
    for n in range(240):
        services.access_log.record(actor, "read_case" if n % 2 else "read_feed", case_id=uuid4() if n % 3 else None,
                                   beneficiary_id=None if n % 5 else uuid4(),
                                   detail=["", 'after=0 "limit"=50', "ünïcödé | 1", "null"][n % 4])
    result = verify(services.cases.recorder, store, services.settings.audit_key(), batch_size=7)
    assert result.ok, result.breaks
    assert result.access_unsealed == result.access_checked == len(access_rows(store)) >= 252
    while seal().keeper.seal_access_log(100):  # 100 entries a step
        pass
    result = verify(services.cases.recorder, store, services.settings.audit_key(), batch_size=7)
    assert result.ok and result.access_unsealed == 0 and result.access_checked == len(access_rows(store))
    # The key is read when the first row is written, not before.
    AccessLog(services.readers, lambda: 1 / 0)


def test_entries_from_before_macs_verify_ok_below_the_boundary(story, seal, check, store, settings, client, auth):
    wati_person, _ = story["wati"]
    seal()
    # A store an older Pilar wrote: no MAC column (so no MACs), no boundary; a few of its rows not yet sealed.
    store.execute("ALTER TABLE audit_access_log DROP COLUMN mac")
    store.execute("DELETE FROM pilar_key_checks WHERE name = ?", (ACCESS_BOUNDARY,))
    old = [append_access_row(store, id=str(uuid4()), at="2026-01-01T00:00:00.000000Z", username="wati",
                             role="worker", action="read_beneficiary", beneficiary_id=str(wati_person), detail="")
           for _ in range(3)]
    init_store(settings)  # this Pilar's first `pilar db init`: the MAC column, and the boundary at the newest row
    assert store.one("SELECT check_value FROM pilar_key_checks WHERE name = ?", (ACCESS_BOUNDARY,))[0].startswith(
        f"{old[-1][0]}:")
    assert check().ok and check().access_unsealed == 3
    assert client.get(f"{API}/beneficiaries/{wati_person}", headers=auth("wati")).status_code == 200
    seal()
    result = check()
    assert result.ok and result.access_unsealed == 0, result.breaks
    init_store(settings)  # again: the boundary stays where it was
    assert check().ok
    # Past the boundary, a row without a MAC is forged.
    seq, entry = append_access_row(store, id=str(uuid4()), at="2026-01-01T00:00:00.000000Z", username="wati",
                                   role="worker", action="read_beneficiary", beneficiary_id=str(wati_person),
                                   detail="")
    assert access_breaks(check()) == [("access_log_forged", entry, seq)]
    # A boundary moved past it, not under the key: every row without a MAC is forged.
    store.execute("UPDATE pilar_key_checks SET check_value = ? WHERE name = ?",
                  (f"{seq}:{'0' * 32}", ACCESS_BOUNDARY))
    result = check()
    assert access_breaks(result)[0] == ("access_log_forged_boundary", None, seq)
    assert ("access_log_forged", entry, seq) in access_breaks(result)
    assert ("access_log_forged", old[0][1], old[0][0]) in access_breaks(result)


def test_a_forged_access_mac_boundary_is_named(story, seal, check, store):
    seal()
    store.execute("UPDATE pilar_key_checks SET check_value = ? WHERE name = ?",
                  ("999999:00000000000000000000000000000000", ACCESS_BOUNDARY))
    assert access_breaks(check()) == [("access_log_forged_boundary", None, 999999)]


# ----------------------------------------------------------------------------- client addresses
def test_the_access_log_records_the_client_and_a_missed_nik_only_as_its_keyed_hash(client, auth, service, store):
    tried = factories.person()["nik"]
    answer = client.post(f"{API}/beneficiaries/search", json={"nik": tried}, headers=auth("wati"),
                         environ_base={"REMOTE_ADDR": "198.51.100.23"})
    assert answer.status_code == 404 or answer.json.get("items") == [], answer.json
    (row,) = store.all(f"SELECT {', '.join(COLUMNS)} FROM audit_access_log")
    entry = dict(zip(COLUMNS, row))
    assert entry["client"] == "198.51.100.23" and entry["action"] == "find_beneficiary_by_nik"
    assert entry["detail"] == f"not found; nik_key={service.lookup.nik_claim_id(tried)}"
    assert tried not in entry["detail"]
    shown = client.get(f"{API}/audit/access-log", headers=auth("inspektur")).json["items"]
    assert shown[0]["client"] == "198.51.100.23"


def test_rows_from_before_client_addresses_verify_and_an_address_is_covered(staff, seal, check, store, settings,
                                                                            services):
    # A table an older Pilar made: no client column; its rows' MACs cover the eight columns it had.
    store.execute("ALTER TABLE audit_access_log DROP COLUMN client")
    old = {"id": str(uuid4()), "at": "2026-01-01T00:00:00.000000Z", "username": "wati", "role": "worker",
           "action": "read_case", "case_id": str(uuid4()), "beneficiary_id": None, "detail": ""}
    old["mac"] = hmac.new(mac_key(settings.audit_key()), json.dumps(list(old.values())).encode(),
                          hashlib.sha256).hexdigest()
    append_access_row(store, **old)
    init_store(settings)  # the upgrade: the client column is added
    services.access_log.record(Actor("agus", "worker", "pkh", client="203.0.113.9"), "read_case", case_id=uuid4())
    services.access_log.record(Actor("os:root", "auditor", None), "export")  # no address: the CLI
    assert check().ok and check().access_unsealed == 3
    seal()
    assert check().ok and check().access_unsealed == 0
    # Blanking or changing a recorded address is an edit, like any other column.
    store.execute("UPDATE audit_access_log SET client = NULL WHERE username = 'agus'")
    assert [b.kind for b in check().breaks] == ["access_log_edited"]
