"""Envelope encryption: every person's key is wrapped by a key-encryption key (KEK) that never
enters the database. Tried as an attacker holding a copy of the database files or a dump."""

import base64
import json
import signal
import subprocess
import threading
import time
from datetime import date
from uuid import UUID

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pilar.bootstrap import bootstrap
from pilar.cases import event_mac
from pilar.store.kek import FileSource, KekError, KeyRing
from testkit import factories
from testkit.fixtures import POSTGRES_URL
from testkit.servers import pilar_env
from tests.test_cli import PILAR, run
from pilar.wsgi import create_app


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
    sealed = base64.b64decode(json.loads(event_mac.payload(registered.state))["sealed_paths"])
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

    from pilar.store.kek import new_entry

    current, old = new_entry(), new_entry()
    configured = bootstrap(replace(settings, kek=f"{current},{old}"))
    try:
        with pytest.raises(KekError, match="not one this store knows"):
            _register(configured.cases, staff["wati"])  # a foreign KEK wraps nothing
        configured.cases.personal_keys.rewrap()  # what `pilar keys rotate` does: the store now knows it
        person_id = _register(configured.cases, staff["wati"])
        # The person's key and the key of their NIK claim's holding.
        assert configured.cases.personal_keys.by_kek() == {current.split(":")[0]: 2}
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
    assert "re-wrapped 2 " in rotated.stdout  # the person's key and their NIK holding's
    status = run(settings, "keys", "status").stdout
    assert "(current): 2 keys" in status and "0 keys" in status
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
    from pilar.store.kek import StaticSource
    from pilar.store.personal_keys import PersonalKeys

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
    assert keys.by_kek() == {keys.keks.current_id: 4}  # two people, each with a NIK holding


# Races between `pilar keys rotate`, `pilar keys retire` and servers, and crashes half-way: each is
# made to happen at a chosen point (a pause injected in one thread), on both stores.

class Crash(BaseException):
    """The process dies here (nothing after this point runs)."""


class _Run(threading.Thread):
    def __init__(self, name: str, fn):
        super().__init__(name=name, daemon=True)
        self.fn, self.error = fn, None

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def _pause_in(monkeypatch, module, name: str, thread: str, *, after: bool = False):
    """Make `thread`'s first call of module.name wait for `go`; `paused` is set when it waits."""
    original, paused, go = getattr(module, name), threading.Event(), threading.Event()

    def hooked(*args, **kwargs):
        result = original(*args, **kwargs) if after else None
        if threading.current_thread().name == thread and not paused.is_set():
            paused.set()
            assert go.wait(60)
        return result if after else original(*args, **kwargs)

    monkeypatch.setattr(module, name, hooked)
    return paused, go


def _cli(monkeypatch, settings):
    """The `pilar keys` commands as the CLI runs them, callable in a thread of this process."""
    from pilar import cli as pilar_cli
    for name, value in pilar_env(settings).items():
        monkeypatch.setenv(name, value)
    return pilar_cli


def _race(first: _Run, second: _Run, paused: threading.Event, go: threading.Event) -> bool:
    """`first` pauses at the injected point; `second` runs meanwhile, or waits its turn. Whether it waited."""
    first.start()
    assert paused.wait(30)
    second.start()
    second.join(2)  # unserialised: done by now; serialised: still waiting for `first`
    waited = second.is_alive()
    go.set()
    for thread in (first, second):
        thread.join(60)
        assert not thread.is_alive()
    return waited


def _assert_every_key_opens(service, settings) -> None:
    ring = KeyRing(FileSource(settings.instance_path / "kek"))
    with services_readers(service) as conn:
        rows = conn.all("SELECT beneficiary_id, key FROM personal_keys")
    assert rows
    for beneficiary_id, stored in rows:
        assert len(ring.unwrap(stored, UUID(beneficiary_id))) == 32
    assert service.personal_keys.by_kek() == {ring.current_id: len(rows)}


def test_two_rotations_at_once_are_serialised_and_lose_no_kek(service, staff, settings, monkeypatch):
    from pilar.store import kek

    cli = _cli(monkeypatch, settings)
    _register(service, staff["wati"])
    paused, go = _pause_in(monkeypatch, kek, "create_private_file", "first")
    first = _Run("first", lambda: cli.keys_rotate.callback(grace=0.0))
    second = _Run("second", lambda: cli.keys_rotate.callback(grace=0.0))
    waited = _race(first, second, paused, go)
    assert first.error is None and second.error is None, (first.error, second.error)
    assert len(FileSource(settings.instance_path / "kek").entries()) == 3
    _assert_every_key_opens(service, settings)
    assert waited  # the second rotation started once the first had finished


def test_a_rotation_during_a_retirement_waits_and_its_kek_is_not_destroyed(service, staff, settings, monkeypatch):
    from pilar.store import kek

    cli = _cli(monkeypatch, settings)
    _register(service, staff["wati"])
    cli.keys_rotate.callback(grace=0.0)
    paused, go = _pause_in(monkeypatch, kek, "create_private_file", "retire")
    retire = _Run("retire", lambda: cli.keys_retire.callback(grace=0.0))
    rotate = _Run("rotate", lambda: cli.keys_rotate.callback(grace=0.0))
    waited = _race(retire, rotate, paused, go)
    assert retire.error is None and rotate.error is None, (retire.error, rotate.error)
    _assert_every_key_opens(service, settings)
    assert waited


def test_a_key_made_while_its_kek_is_retired_is_rewrapped_or_refused(service, staff, settings, monkeypatch):
    from pilar.store import personal_keys
    from pilar.store.kek import StaticSource
    from pilar.store.personal_keys import PersonalKeys

    cli = _cli(monkeypatch, settings)
    _register(service, staff["wati"])
    old = FileSource(settings.instance_path / "kek").entries()
    cli.keys_rotate.callback(grace=0.0)
    stale = PersonalKeys(service.personal_keys.readers, KeyRing(StaticSource(old)))  # has not re-read the file
    # The server has found its KEK known, and is about to store a key wrapped under it.
    paused, go = _pause_in(monkeypatch, personal_keys, "require_known_kek", "server", after=True)
    server = _Run("server", lambda: stale.create(UUID(int=99)))
    retire = _Run("retire", lambda: cli.keys_retire.callback(grace=0.0))
    waited = _race(server, retire, paused, go)
    assert retire.error is None, retire.error
    assert server.error is None or isinstance(server.error, KekError), server.error
    _assert_every_key_opens(service, settings)
    assert len(FileSource(settings.instance_path / "kek").entries()) == 1
    assert waited  # to forget the KEK, retire waited for the key being stored under it


def test_a_retirement_that_dies_half_way_destroys_no_kek_a_key_needs_and_can_be_run_again(service, staff, settings,
                                                                                         monkeypatch):
    from pilar.store.kek import StaticSource
    from pilar.store.personal_keys import PersonalKeys

    cli = _cli(monkeypatch, settings)
    _register(service, staff["wati"])
    old = FileSource(settings.instance_path / "kek").entries()
    cli.keys_rotate.callback(grace=0.0)
    stale = PersonalKeys(service.personal_keys.readers, KeyRing(StaticSource(old)))
    counted, rewrap, late = PersonalKeys.by_kek, PersonalKeys.rewrap, UUID(int=98)

    def by_kek_then_a_late_key(self):
        counts = counted(self)
        if stale.get(late) is None:
            stale.create(late)  # a server that has not re-read the file, just after retire counted
        return counts

    def dies(self, *args, **kwargs):
        raise Crash()

    monkeypatch.setattr(PersonalKeys, "by_kek", by_kek_then_a_late_key)
    monkeypatch.setattr(PersonalKeys, "rewrap", dies)
    with pytest.raises(Crash):
        cli.keys_retire.callback(grace=0.0)
    _assert_every_key_opens_or_waits(service, settings, old[0][0])
    monkeypatch.setattr(PersonalKeys, "by_kek", counted)
    monkeypatch.setattr(PersonalKeys, "rewrap", rewrap)
    cli.keys_retire.callback(grace=0.0)  # run again: it finishes the job
    _assert_every_key_opens(service, settings)
    assert len(FileSource(settings.instance_path / "kek").entries()) == 1


def _assert_every_key_opens_or_waits(service, settings, old_id: str) -> None:
    """Every stored key still opens with the key file (some under the old KEK, not yet re-wrapped)."""
    ring = KeyRing(FileSource(settings.instance_path / "kek"))
    with services_readers(service) as conn:
        rows = conn.all("SELECT beneficiary_id, key FROM personal_keys")
    for beneficiary_id, stored in rows:
        assert len(ring.unwrap(stored, UUID(beneficiary_id))) == 32
    assert old_id in ring.ids()


def test_a_second_keys_command_on_the_same_store_is_refused_clearly(service, staff, settings):
    _register(service, staff["wati"])
    kek_file = settings.instance_path / "kek"
    first = subprocess.Popen([PILAR, "keys", "rotate", "--grace", "4"],
                             env=pilar_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(kek_file.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Stopped in its grace, the first command holds the lock for as long as the refusals take,
        # however slowly a loaded machine starts them (it held it for only the 4 s before).
        first.send_signal(signal.SIGSTOP)
        try:
            for command in ("rotate", "retire"):
                refused = run(settings, "keys", command, "--grace", "0", "--wait", "0.2")
                assert refused.returncode == 1, refused.stderr
                assert "another `pilar keys rotate` or `pilar keys retire` is running" in refused.stderr
        finally:
            first.send_signal(signal.SIGCONT)
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert run(settings, "keys", "retire", "--grace", "0").returncode == 0
    _assert_every_key_opens(service, settings)


def test_concurrent_writers_of_the_key_file_lose_no_entry_and_leave_no_copy(tmp_path, monkeypatch):
    from pilar.store import kek

    path = tmp_path / "kek"
    FileSource(path).create()
    left = tmp_path / ".kek.4242.new"  # by a writer that died, with another process id
    left.write_text(path.read_text())
    paused, go = _pause_in(monkeypatch, kek, "create_private_file", "first")
    first = _Run("first", lambda: FileSource(path).prepend_new())
    second = _Run("second", lambda: FileSource(path).prepend_new())
    waited = _race(first, second, paused, go)
    assert first.error is None and second.error is None, (first.error, second.error)
    assert len(FileSource(path).entries()) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kek") and p.name.endswith("new")] == []
    assert waited


@pytest.mark.parametrize("dies_in", ["prepend", "rewrap"])
def test_a_rotation_that_dies_half_way_loses_no_key_and_can_be_run_again(service, staff, settings, monkeypatch,
                                                                         dies_in):
    from pilar.store.personal_keys import PersonalKeys

    cli = _cli(monkeypatch, settings)
    person_id = _register(service, staff["wati"])

    def dies(self, *args, **kwargs):
        raise Crash()

    # Before the key file is written (the store knows a KEK nobody has), or before any key is re-wrapped.
    monkeypatch.setattr(FileSource if dies_in == "prepend" else PersonalKeys, dies_in, dies)
    with pytest.raises(Crash):
        cli.keys_rotate.callback(grace=0.0)
    monkeypatch.undo()
    assert service.get_beneficiary(staff["wati"], person_id).name == "Mbah Sainem"
    _register(service, staff["wati"], nik="3501045403500002")  # servers keep registering
    cli = _cli(monkeypatch, settings)
    cli.keys_rotate.callback(grace=0.0)
    cli.keys_retire.callback(grace=0.0)
    _assert_every_key_opens(service, settings)
    assert service.personal_keys.known() == {service.personal_keys.keks.current_id}  # no KEK left known but it
