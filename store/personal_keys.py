"""The per-person keys of personal data (cases/personal_data.py), in the store's own table,
each wrapped by the key-encryption key (store/kek.py), which is never stored there.

Unwrapping is one AES-GCM operation beside the row read the key needed anyway, so unwrapped
keys are not cached: an erased person's key is gone from every process at once."""

from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.connection import shred_quietly
from store.kek import KeyRing, kek_id_of

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
        wrapped = self.keks.wrap(AESGCM.generate_key(bit_length=256), beneficiary_id)
        with self.readers.connection() as conn:
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

    def rewrap(self, batch_size: int = 500) -> int:
        """Wrap every live key under the current KEK, online: each row is replaced only if it is
        still what was read (an erasure meanwhile deletes it, and stays deleted)."""
        current, moved, after = self.keks.current_id, 0, ""
        while True:
            with self.readers.connection() as conn:
                rows = conn.all("SELECT beneficiary_id, key FROM personal_keys WHERE beneficiary_id > ? "
                                "ORDER BY beneficiary_id LIMIT ?", (after, batch_size))
                for beneficiary_id, stored in rows:
                    if kek_id_of(stored) == current:
                        continue
                    person = UUID(beneficiary_id)
                    wrapped = self.keks.wrap(self.keks.unwrap(stored, person), person)
                    conn.execute("UPDATE personal_keys SET key = ? WHERE beneficiary_id = ? AND key = ?",
                                 (wrapped, beneficiary_id, stored))
                    moved += 1
            if len(rows) < batch_size:
                return moved
            after = rows[-1][0]

