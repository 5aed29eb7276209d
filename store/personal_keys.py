"""The per-person keys of personal data (cases/personal_data.py), in the store's own table,
each wrapped by the key-encryption key (store/kek.py), which is never stored there.

Unwrapping is one AES-GCM operation beside the row read the key needed anyway, so unwrapped
keys are not cached: an erased person's key is gone from every process at once."""

from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.connection import shred_quietly
from store import key_checks
from store.kek import KekError, KeyRing, kek_id_of

PERSONAL_KEY_STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS personal_keys (beneficiary_id TEXT PRIMARY KEY, key TEXT NOT NULL)",
]
TABLE = "personal_keys"
DESTROY_KEY_SQL = f"DELETE FROM {TABLE} WHERE beneficiary_id = ?"


class PersonalKeys:
    """One key per beneficiary, in the same database as the events, wrapped."""

    def __init__(self, readers: Any, keks: KeyRing):
        self.readers = readers
        self.keks = keks

    def create(self, beneficiary_id: UUID) -> None:
        with self.readers.connection() as conn:
            require_known_kek(conn, self.keks)
            wrapped = self.keks.wrap(AESGCM.generate_key(bit_length=256), beneficiary_id)
            conn.execute("INSERT INTO personal_keys (beneficiary_id, key) VALUES (?, ?)", (str(beneficiary_id), wrapped))

    def get(self, beneficiary_id: UUID) -> bytes | None:
        with self.readers.connection() as conn:
            row = conn.one("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(beneficiary_id),))
        return self.keks.unwrap(row[0], beneficiary_id) if row else None

    def destroy(self, beneficiary_id: UUID) -> None:
        """Delete the person's key, and leave nothing of it in the live database files."""
        with self.readers.connection() as conn:
            conn.execute(DESTROY_KEY_SQL, (str(beneficiary_id),))
            # Done here so that erasure has happened when it is answered; should readers hold it
            # back, the projection process does it again when it passes the erasure.
            shred_quietly(conn, TABLE)

    def by_kek(self) -> dict[str | None, int]:
        """How many live keys each KEK wraps (None: not wrapped yet)."""
        counts: dict[str | None, int] = {}
        with self.readers.connection() as conn:
            for (stored,) in conn.all("SELECT key FROM personal_keys"):
                kek_id = kek_id_of(stored)
                counts[kek_id] = counts.get(kek_id, 0) + 1
        return counts

    def rewrap(self, batch_size: int = 500, opener: KeyRing | None = None) -> int:
        """Wrap every live key under the current KEK, online: each row is replaced only if it is
        still what was read (an erasure meanwhile deletes it, and stays deleted). The current KEK
        becomes one the store knows. `opener`: a ring that still holds KEKs being retired."""
        opener = opener or self.keks
        with self.readers.connection() as conn:
            key_checks.record(conn, kek_check_name(self.keks.current_id), self.keks.current()[1])
        current, moved, after = self.keks.current_id, 0, ""
        while True:
            with self.readers.connection() as conn:
                rows = conn.all("SELECT beneficiary_id, key FROM personal_keys WHERE beneficiary_id > ? "
                                "ORDER BY beneficiary_id LIMIT ?", (after, batch_size))
                for beneficiary_id, stored in rows:
                    if kek_id_of(stored) == current:
                        continue
                    person = UUID(beneficiary_id)
                    wrapped = self.keks.wrap(opener.unwrap(stored, person), person)
                    conn.execute("UPDATE personal_keys SET key = ? WHERE beneficiary_id = ? AND key = ?",
                                 (wrapped, beneficiary_id, stored))
                    moved += 1
            if len(rows) < batch_size:
                break
            after = rows[-1][0]
        with self.readers.connection() as conn:
            shred_quietly(conn, TABLE)  # the keys as they were stored before must not stay in the files
        return moved

    def forget_keks(self, kek_ids: list[str]) -> None:
        """Retired KEKs: a server still configured with one wraps nothing under it."""
        with self.readers.connection() as conn:
            for kek_id in kek_ids:
                conn.execute("DELETE FROM pilar_key_checks WHERE name = ?", (kek_check_name(kek_id),))


def kek_check_name(kek_id: str) -> str:
    return f"kek:{kek_id}"


def require_known_kek(conn: Any, keks: KeyRing) -> None:
    """Wrap nothing under a KEK the store was not given through `pilar db init` or `pilar keys
    rotate`: a server configured with a foreign one would write keys its peers cannot open."""
    kek_id, kek = keks.current()
    expected = key_checks.recorded(conn, kek_check_name(kek_id))
    if expected != key_checks.check_value(kek, kek_check_name(kek_id)):
        raise KekError(f"key-encryption key {kek_id!r} is not one this store knows: configure the store's KEK, "
                       "or make a new one current with `pilar keys rotate`")
