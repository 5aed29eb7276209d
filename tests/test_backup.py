"""Backups and restores, on SQLite and PostgreSQL: `pilar backup` while writers write, `pilar
restore`, after which the history verifies, the views equal a rebuild, and a person erased after
the backup was taken stays erased (the erasure ledger, re-applied by `pilar db init`)."""

import hashlib
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

from pilar.bootstrap import bootstrap, init_store
from pilar.store.backup import BackupError, restore
from testkit import factories
from testkit.servers import pilar_env

PILAR = str(Path(sys.executable).parent / "pilar")


def _pilar(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PILAR, *args], capture_output=True, text=True, env=pilar_env(settings), timeout=120)


def _register(service, actor, n: int):
    body = factories.person(birth_date=(date(1940, 1, 1) + timedelta(days=n)).isoformat(), name=f"Mbah Warsini {n}")
    person = service.register_beneficiary(
        actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
        sex=body["sex"], desa_code=body["desa_code"], phone=body["phone"])
    service.open_case(actor, beneficiary_id=person.id, pillar="pkh", categories=["fakir_miskin"], priority="normal",
                      referral={"source": "musdes", "referred_by": "Kades", "reason": "sendiri"})
    return person.id, body


def _name(settings, person_id):
    services = bootstrap(settings)
    try:
        return services.cases.repository.get(person_id).name
    finally:
        services.close()


@pytest.mark.slow
def test_a_backup_taken_before_an_erasure_is_restored_with_the_erasure(settings, services, staff, catch_up, tmp_path):
    service, wati = services.cases, staff["wati"]
    erased, _ = _register(service, wati, 0)
    kept, kept_body = _register(service, wati, 1)
    catch_up()
    dest = tmp_path / "pilar.backup"

    writing = threading.Thread(target=lambda: [_register(service, wati, n) for n in range(2, 12)])
    writing.start()  # the backup is taken online, while these writes go on
    done = _pilar(settings, "backup", str(dest))
    writing.join()
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in done.stdout and f"wrote {dest}" in done.stdout
    assert (tmp_path / "pilar.backup.sha256").read_text() == f"{digest}  pilar.backup\n"
    assert dest.stat().st_mode & 0o077 == 0
    assert _pilar(settings, "backup", str(dest)).returncode == 1  # never overwrites

    service.erase_personal_data(staff["sri"], erased, reason="she asked")
    _register(service, wati, 20)  # written after the backup: lost by the restore
    catch_up()
    ledger = settings.erasure_ledger_path.read_text()
    assert str(erased) in ledger and "Warsini" not in ledger
    services.close()

    # The backup itself still holds the erased person's key: restored without the ledger, she is readable.
    restore(settings.store, dest)
    assert _name(settings, erased) == "Mbah Warsini 0"

    settings.heads_path.write_text("heads published after the backup\n")
    done = _pilar(settings, "restore", str(dest), "--yes")
    assert done.returncode == 0, done.stderr
    (aside,) = settings.heads_path.parent.glob("audit_heads.before-restore-*")
    assert aside.read_text() == "heads published after the backup\n" and "moved the heads file aside" in done.stdout
    assert _name(settings, erased) is None  # the ledger's erasure, applied again
    assert _name(settings, kept) == kept_body["name"]
    verified = _pilar(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    checked = _pilar(settings, "projections", "check")
    assert checked.returncode == 0 and "views match a rebuild" in checked.stdout, checked.stdout


def test_restore_refuses_a_damaged_backup_and_wants_yes(settings, services, tmp_path):
    dest = tmp_path / "b.backup"
    assert _pilar(settings, "backup", str(dest)).returncode == 0
    unconfirmed = _pilar(settings, "restore", str(dest))
    assert unconfirmed.returncode == 2 and "add --yes" in unconfirmed.stderr
    with open(dest, "r+b") as f:
        f.seek(200)
        f.write(b"\xff")
    damaged = _pilar(settings, "restore", str(dest), "--yes")
    assert damaged.returncode == 1 and "does not match its SHA-256" in damaged.stderr
    with pytest.raises(BackupError, match="no such backup file"):
        restore(settings.store, tmp_path / "missing")


def test_db_init_reapplies_the_ledger_to_a_store_that_holds_an_erased_key(settings, services, staff):
    person, _ = _register(services.cases, staff["wati"], 0)
    key_row = services.cases.personal_keys.get(person)
    assert key_row is not None
    services.cases.personal_keys.ledger.record([person])  # as if erased after the backup this store came from
    init_store(settings)
    assert services.cases.personal_keys.get(person) is None


def test_an_erasure_the_server_did_not_finish_reaches_the_ledger_through_the_projection_process(services, staff,
                                                                                               catch_up):
    service = services.cases
    person_id, _ = _register(service, staff["wati"], 0)
    person = service.repository.get(person_id)
    person.erase_personal_data(actor="sri", reason="asked", keys=[person_id])
    service.save(person)  # as if the server died before destroying the key
    assert not service.personal_keys.ledger.key_ids()
    catch_up()
    assert service.personal_keys.ledger.key_ids() == [str(person_id)]


def test_backup_on_postgresql_without_pg_dump_says_what_to_do(monkeypatch, tmp_path):
    from pilar.store import backup as backups
    from pilar.store.config import StoreConfig

    monkeypatch.setattr(backups.shutil, "which", lambda name: None)
    with pytest.raises(BackupError, match="pg_dump is not installed here: install the PostgreSQL client"):
        backups.backup(StoreConfig("postgresql://pilar@db/pilar"), tmp_path / "x.dump")
    assert not (tmp_path / "x.dump").exists()


def test_db_init_refuses_an_unreadable_ledger_naming_the_line(settings, services):
    settings.erasure_ledger_path.write_text("2026-12-04T00:00:00Z 0b6c2b5e-8a9f-4e0a-9d3c-6c1f2b7a8e90\nnonsense\n")
    done = _pilar(settings, "db", "init")
    assert done.returncode == 1
    assert f"erasure ledger {settings.erasure_ledger_path}, line 2: not `<time> <key id>`" in done.stderr
