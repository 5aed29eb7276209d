"""Key-encryption keys (KEKs): they wrap every person's key (store/personal_keys.py) and never
enter the database, so a copy of the database files alone decrypts nothing.

A key ring is a list of `id:base64-key` entries, the first one current: it wraps new keys, and
every entry unwraps. It comes from PILAR_KEK (comma-separated entries) or from a key file (one
entry a line; `instance/kek` by default, created with mode 0600 by `pilar db init`). A file is
re-read when it changes, so that `pilar keys rotate` reaches running servers without a restart.
Another source (a KMS, Vault) is a class with the same `entries()`."""

import base64
import os
import secrets
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


def new_entry() -> str:
    return entry_text(secrets.token_hex(4), secrets.token_bytes(KEK_BYTES))


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

    def write(self, entries: list[str]) -> None:
        """Replace the file atomically; the new file is 0600 from its first byte."""
        fresh = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        fresh.unlink(missing_ok=True)  # left by a write that died: it may hold KEKs meant to be destroyed
        create_private_file(fresh, "\n".join(entries) + "\n")
        os.replace(fresh, self.path)

    def prepend_new(self) -> None:
        """A new current KEK; the others still unwrap until retired."""
        self.write([new_entry(), *(entry_text(*entry) for entry in self.entries())])

    def keep_only_current(self) -> list[str]:
        """Destroy every KEK but the current one; their ids."""
        current, *old = self.entries()
        self.write([entry_text(*current)])
        return [kek_id for kek_id, _ in old]

    def create(self) -> bool:
        """Write a first key, unless the file exists. Whether it wrote one."""
        if self.path.exists():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write([new_entry()])
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

    def wrap(self, key: bytes, beneficiary_id: UUID) -> str:
        kek_id, kek = self.source.entries()[0]
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
