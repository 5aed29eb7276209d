"""The erasure ledger: the ids of every data key destroyed (a person's, their cases', a NIK
holding's), kept in a file outside the database, so that a store restored from a backup taken
before an erasure has the erasure applied again (`pilar db init`, `pilar restore`): the backup
still holds the key, wrapped under a KEK that may still be current.

One line per key, `<UTC time> <key id>`: ids only (random UUIDs, and a NIK holding's id derived
under the lookup key), never personal data. Appended and flushed to disk before the key is deleted
from the store; a line for a key the store no longer holds is harmless, so lines may repeat."""

import os
import time
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID

from pilar.store.name_index import FORGET_SQL as FORGET_NAME_SQL, TABLE as NAME_TOKENS
from pilar.store.connection import Connection
from pilar.store.shredding import shred

KEYS_TABLE = "personal_keys"


class LedgerError(RuntimeError):
    """The ledger cannot be read: `pilar db init` stops rather than restore without it."""


class ErasureLedger:
    def __init__(self, path: Path):
        self.path = path

    def record(self, key_ids: Iterable[UUID]) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        lines = "".join(f"{stamp} {key_id}\n" for key_id in key_ids)
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode())  # one write: lines of several processes never interleave
            os.fsync(fd)
        finally:
            os.close(fd)

    def key_ids(self) -> list[str]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        ids = []
        for number, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                ids.append(str(UUID(parts[-1])))
            except ValueError:
                raise LedgerError(f"erasure ledger {self.path}, line {number}: not `<time> <key id>`; mend or "
                                  "remove that line (never the file) and run `pilar db init` again") from None
        return list(dict.fromkeys(ids))

    def reapply(self, conn: Connection) -> int:
        """Delete every key the ledger lists that the store holds (after a restore); how many."""
        ids = self.key_ids()
        held = {row[0] for row in conn.all(f"SELECT beneficiary_id FROM {KEYS_TABLE}")} & set(ids)
        if not held:
            return 0
        with conn.transaction():
            for key_id in sorted(held):
                conn.execute(f"DELETE FROM {KEYS_TABLE} WHERE beneficiary_id = ?", (key_id,))
                conn.execute(FORGET_NAME_SQL, (key_id,))  # a person's key id is their id: their name's tokens go too
        shred(conn, KEYS_TABLE)
        shred(conn, NAME_TOKENS)
        return len(held)
