"""Envelope encryption: every person's key is wrapped by a key-encryption key (KEK) that never
enters the database. Tried as an attacker holding a copy of the database files or a dump."""

import base64
import json
import subprocess
from datetime import date
from uuid import UUID

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bootstrap import bootstrap
from store.kek import FileSource, KekError, KeyRing
from testkit import factories
from testkit.fixtures import POSTGRES_URL
from tests.test_cli import run
from wsgi import create_app


def _register(service, worker, **overrides):
    body = factories.person(**overrides)
    body["birth_date"] = date.fromisoformat(body["birth_date"])
    return service.register_beneficiary(worker, **body).id


def _database_bytes(settings) -> bytes:
    """Every byte of the database a thief could copy: the SQLite files, or a plain pg_dump."""
    if settings.store.kind == "sqlite":
        path = settings.store.sqlite_path
        return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"),
                                                 path.with_name(path.name + "-shm")) if p.exists())
    dump = subprocess.run(["pg_dump", "--schema", settings.store.schema, POSTGRES_URL.split("?")[0]],
                          capture_output=True, check=True, timeout=120)
    return dump.stdout


def test_a_copy_of_the_database_alone_decrypts_nothing(service, staff, settings):
    person_id = _register(service, staff["wati"], name="Mbah Sainem Wrapped", phone="+62 812 0000 1111")
    key = service.personal_keys.get(person_id)
    stolen = _database_bytes(settings)
    assert key not in stolen and base64.b64encode(key) not in stolen
    assert b"Mbah Sainem Wrapped" not in stolen and b"0000 1111" not in stolen
    # Every stored key value, tried as a key, opens no sealed personal data; the real key does.
    with services_readers(service) as conn:
        stored = [row[0] for row in conn.all("SELECT key FROM personal_keys")]
    [registered] = [n for n in service.recorder.select_notifications(start=0, limit=100)
                    if n.originator_id == person_id and n.originator_version == 1]
    sealed = base64.b64decode(json.loads(registered.state)["sealed_personal"])
    bound = f"{person_id}|1".encode()
    assert b"Mbah Sainem Wrapped" in AESGCM(key).decrypt(sealed[:12], sealed[12:], bound)
    tried = 0
    for value in stored:
        for candidate in (value, value.split(":", 1)[-1]):
            raw = base64.b64decode(candidate + "==")
            for length in (16, 24, 32):
                if len(raw) >= length:
                    tried += 1
                    with pytest.raises(InvalidTag):
                        AESGCM(raw[:length]).decrypt(sealed[:12], sealed[12:], bound)
    assert tried


def services_readers(service):
    return service.personal_keys.readers.connection()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_kek_file_is_made_private_and_a_server_without_one_refuses_to_start(services, settings):
    kek_file = settings.instance_path / "kek"
    assert kek_file.stat().st_mode & 0o777 == 0o600
    kek_file.unlink()
    with pytest.raises(KekError, match="no key-encryption key"):
        create_app(bootstrap(settings))
    refused = run(settings, "keys", "status")
    assert refused.returncode != 0 and "no key-encryption key: set PILAR_KEK" in refused.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_keks_from_the_environment(services, staff, settings):
    from dataclasses import replace

    from store.kek import new_entry

    current, old = new_entry(), new_entry()
    configured = bootstrap(replace(settings, kek=f"{current},{old}"))
    try:
        with pytest.raises(KekError, match="not one this store knows"):
            _register(configured.cases, staff["wati"])  # a foreign KEK wraps nothing
        configured.cases.personal_keys.rewrap()  # what `pilar keys rotate` does: the store now knows it
        person_id = _register(configured.cases, staff["wati"])
        assert configured.cases.personal_keys.by_kek() == {current.split(":")[0]: 1}
        assert configured.cases.get_beneficiary(staff["wati"], person_id).name == "Mbah Sainem"
    finally:
        configured.close()
    for malformed in ("no-colon", "a:bm90LTMyLWJ5dGVz", ""):
        with pytest.raises(KekError, match="PILAR_KEK"):
            KeyRing(replace(settings, kek=malformed or " ").kek_source()).check()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_rotation_rewraps_online_and_a_retired_kek_leaves_old_copies_useless(service, staff, settings, tmp_path):
    person_id = _register(service, staff["wati"])
    copy = tmp_path / "backup.db"
    with services_readers(service) as conn:
        conn.execute(f"VACUUM INTO '{copy}'")  # an old backup of the database
        before = dict(conn.all("SELECT beneficiary_id, key FROM personal_keys"))
    old_kek = (settings.instance_path / "kek").read_text()

    rotated = run(settings, "keys", "rotate", "--grace", "0.1")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-wrapped 1 person keys" in rotated.stdout
    status = run(settings, "keys", "status").stdout
    assert "(current): 1 keys" in status and "0 keys" in status
    retired = run(settings, "keys", "retire", "--grace", "0")
    assert retired.returncode == 0 and "destroyed KEK(s): " + old_kek.split(":")[0] in retired.stdout

    # The running service re-reads the key file: the person still reads back.
    assert service.get_beneficiary(staff["wati"], person_id).name == "Mbah Sainem"
    # The old backup's wrapped key opens with no KEK left in the file.
    ring = KeyRing(FileSource(settings.instance_path / "kek"))
    with pytest.raises(KekError, match="not configured"):
        ring.unwrap(before[str(person_id)], person_id)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_retire_waits_until_every_key_is_rewrapped_and_unwrapped_keys_are_wrapped_by_rotate(service, staff,
                                                                                         settings):
    person_id = _register(service, staff["wati"])
    plain = base64.b64encode(service.personal_keys.get(person_id)).decode()
    with services_readers(service) as conn:  # as stored before keys were wrapped
        conn.execute("UPDATE personal_keys SET key = ? WHERE beneficiary_id = ?", (plain, str(person_id)))
    assert service.get_beneficiary(staff["wati"], person_id).name == "Mbah Sainem"
    assert "(not wrapped): 1 keys" in run(settings, "keys", "status").stdout
    FileSource(settings.instance_path / "kek").prepend_new()
    refused = run(settings, "keys", "retire", "--grace", "0")
    assert refused.returncode != 0 and "pilar keys rotate" in refused.stderr
    assert run(settings, "keys", "rotate", "--grace", "0").returncode == 0
    assert run(settings, "keys", "retire", "--grace", "0").returncode == 0
    with services_readers(service) as conn:
        [(stored,)] = conn.all("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(person_id),))
    assert stored != plain and stored.startswith(service.personal_keys.keks.current_id + ":")
    assert service.get_beneficiary(staff["wati"], UUID(str(person_id))).name == "Mbah Sainem"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_late_key_under_a_retiring_kek_is_rewrapped_and_a_retired_kek_wraps_nothing(service, staff, settings):
    from store.kek import StaticSource
    from store.personal_keys import PersonalKeys

    keys = service.personal_keys
    _register(service, staff["wati"])
    file = FileSource(settings.instance_path / "kek")
    old = file.entries()
    file.prepend_new()
    keys.rewrap()  # rotated: the new KEK is current and known
    stale = PersonalKeys(keys.readers, KeyRing(StaticSource(old)))  # a server that has not re-read the file
    late = _register(service, staff["wati"])
    stale.destroy(late)
    stale.create(late)  # its key wrapped under the old KEK, after the rotation
    assert keys.by_kek().get(old[0][0]) == 1

    keys.forget_keks([old[0][0]])
    with pytest.raises(KekError, match="not one this store knows"):
        stale.create(UUID(int=7))  # a retired KEK wraps nothing more
    assert keys.rewrap(opener=KeyRing(StaticSource([*file.entries(), *old]))) == 1
    assert keys.by_kek() == {keys.keks.current_id: 2}
