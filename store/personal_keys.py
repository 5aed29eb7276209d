"""The per-person keys of personal data (cases/personal_data.py), in the store's own table."""

import base64
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PERSONAL_KEY_STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS personal_keys (beneficiary_id TEXT PRIMARY KEY, key TEXT NOT NULL)",
]
DESTROY_KEY_SQL = "DELETE FROM personal_keys WHERE beneficiary_id = ?"


class PersonalKeys:
    """One key per beneficiary, in the same database as the events."""

    def __init__(self, readers: Any):
        self.readers = readers

    def create(self, beneficiary_id: UUID) -> None:
        key = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
        with self.readers.connection() as conn:
            conn.execute("INSERT INTO personal_keys (beneficiary_id, key) VALUES (?, ?)", (str(beneficiary_id), key))

    def get(self, beneficiary_id: UUID) -> bytes | None:
        with self.readers.connection() as conn:
            row = conn.one("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(beneficiary_id),))
        return base64.b64decode(row[0]) if row else None

    def destroy(self, beneficiary_id: UUID) -> None:
        with self.readers.connection() as conn:
            conn.execute(DESTROY_KEY_SQL, (str(beneficiary_id),))
