"""Key-encryption keys (KEKs): they wrap every person's key (pilar/store/personal_keys.py) and never
enter the database, so a copy of the database files alone decrypts nothing.

A key ring is a list of `id:base64-key` entries, the first one current: it wraps new keys, and
every entry unwraps. It comes from PILAR_KEK (comma-separated entries) or from a key file (one
entry a line; `instance/kek` by default, created with mode 0600 by `pilar db init`). A file is
re-read when it changes, so that `pilar keys rotate` reaches running servers without a restart.
Another source (a KMS, Vault) is a class with the same `entries()`."""

import base64
import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEK_BYTES = 32


def create_private_file(path: Path, text: str) -> None:
    """A new file readable by its owner only, from its first byte, and on disk when this returns;
    never overwrites one. For every secret Pilar writes (keys, key files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


class KekError(RuntimeError):
    """A missing, malformed or wrong key-encryption key: the operator must act."""


class KekSource(Protocol):
    def entries(self) -> list[tuple[str, bytes]]:
        """(id, key) pairs, the current one first."""
        ...


def parse_entries(text: str, where: str) -> list[tuple[str, bytes]]:
    entries = []
    for raw in text.replace(",", "\n").splitlines():
        if not raw.strip():
            continue
        kek_id, sep, encoded = raw.strip().partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if not sep or not kek_id.isalnum() or len(key) != KEK_BYTES:
            raise KekError(f"{where}: each entry must be <id>:<base64 of {KEK_BYTES} random bytes>")
        entries.append((kek_id, key))
    if not entries:
        raise KekError(f"{where} holds no key-encryption key")
    return entries


def entry_text(kek_id: str, key: bytes) -> str:
    return f"{kek_id}:{base64.b64encode(key).decode()}"


def new_kek() -> tuple[str, bytes]:
    return secrets.token_hex(4), secrets.token_bytes(KEK_BYTES)


def new_entry() -> str:
    return entry_text(*new_kek())


class StaticSource:
    """Entries held in memory (e.g. KEKs being retired, until no key needs them)."""

    def __init__(self, entries: list[tuple[str, bytes]]):
        self._entries = list(entries)

    def entries(self) -> list[tuple[str, bytes]]:
        return self._entries


class EnvSource:
    def __init__(self, text: str):
        self.text = text

    def entries(self) -> list[tuple[str, bytes]]:
        return parse_entries(self.text, "PILAR_KEK")


class FileSource:
    def __init__(self, path: Path):
        self.path = path
        self._seen: tuple[int, ...] | None = None
        self._entries: list[tuple[str, bytes]] = []

    def entries(self) -> list[tuple[str, bytes]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise KekError(f"no key-encryption key: set PILAR_KEK or run `pilar db init` to create {self.path}") from None
        # A rewrite is a new file (os.replace): its inode tells it apart even within one timestamp tick.
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        if seen != self._seen:
            self._entries = parse_entries(self.path.read_text(), str(self.path))
            self._seen = seen
        return self._entries

    @contextmanager
    def _locked(self, wait: float = 30.0) -> Iterator[None]:
        """Held while the file is read, changed and written back, so that two writers (two
        commands, or two stores sharing the file) never lose each other's entries."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise KekError(f"{self.path} is being changed by another process (it holds {lock}); "
                                       "try again once it has finished") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, entries: list[str]) -> None:
        """Replace the file atomically and durably (the lock held); the new file is 0600 from its
        first byte. A copy left by a writer that died may hold KEKs meant to be destroyed: removed."""
        for left in self.path.parent.glob(f".{self.path.name}.*new"):
            left.unlink(missing_ok=True)
        fresh = self.path.with_name(f".{self.path.name}.new")
        create_private_file(fresh, "\n".join(entries) + "\n")
        os.replace(fresh, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def _read(self) -> list[tuple[str, bytes]]:
        return parse_entries(self.path.read_text(), str(self.path))

    def prepend(self, kek_id: str, key: bytes) -> None:
        """Make a KEK current; the others still unwrap until retired."""
        with self._locked():
            self._write([entry_text(kek_id, key), *(entry_text(*entry) for entry in self._read())])

    def prepend_new(self) -> None:
        self.prepend(*new_kek())

    def remove(self, kek_ids: list[str], current: str) -> None:
        """Destroy the KEKs `kek_ids`, provided `current` is still the current one."""
        with self._locked():
            entries = self._read()
            if entries[0][0] != current:
                raise KekError(f"{self.path} changed meanwhile (its current KEK is now {entries[0][0]!r}, "
                               f"not {current!r}): nothing destroyed; run the command again")
            self._write([entry_text(*entry) for entry in entries if entry[0] not in kek_ids])

    def create(self) -> bool:
        """Write a first key, unless the file exists. Whether it wrote one."""
        with self._locked():
            if self.path.exists():
                return False
            self._write([new_entry()])
            return True


class KeyRing:
    def __init__(self, source: KekSource):
        self.source = source

    def check(self) -> None:
        """Raise KekError, saying what to do, unless a key-encryption key is configured."""
        self.source.entries()

    @property
    def current_id(self) -> str:
        return self.source.entries()[0][0]

    def current(self) -> tuple[str, bytes]:
        return self.source.entries()[0]

    def ids(self) -> list[str]:
        return [kek_id for kek_id, _ in self.source.entries()]

    def wrap(self, key: bytes, beneficiary_id: UUID, entry: tuple[str, bytes] | None = None) -> str:
        """Under `entry` (one of current()'s answers), else under the current KEK."""
        kek_id, kek = entry or self.source.entries()[0]
        nonce = os.urandom(12)
        sealed = AESGCM(kek).encrypt(nonce, key, _bound(beneficiary_id))
        return f"{kek_id}:{base64.b64encode(nonce + sealed).decode()}"

    def unwrap(self, stored: str, beneficiary_id: UUID) -> bytes:
        kek_id, sep, encoded = stored.partition(":")
        if not sep:
            return base64.b64decode(stored)  # written before keys were wrapped; `pilar keys rotate` wraps it
        kek = dict(self.source.entries()).get(kek_id)
        if kek is None:
            raise KekError(f"the key of beneficiary {beneficiary_id} is wrapped by key-encryption key {kek_id!r}, "
                           "which is not configured")
        raw = base64.b64decode(encoded)
        try:
            return AESGCM(kek).decrypt(raw[:12], raw[12:], _bound(beneficiary_id))
        except InvalidTag:
            raise KekError(f"key-encryption key {kek_id!r} does not open the key of beneficiary {beneficiary_id}: "
                           "the configured key is not the one it was wrapped with") from None


def kek_id_of(stored: str) -> str | None:
    """Which KEK wrapped a stored key (None: stored before keys were wrapped)."""
    kek_id, sep, _ = stored.partition(":")
    return kek_id if sep else None


def _bound(beneficiary_id: UUID) -> bytes:
    # A wrapped key opens only in its own row: it cannot be moved to another person.
    return f"pilar-person-key|{beneficiary_id}".encode()
