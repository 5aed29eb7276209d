"""The keys of personal data (pilar/cases/personal_data.py: a person's, a case's, a NIK holding's),
in the store's own table, each wrapped by the key-encryption key (pilar/store/kek.py), which is never
stored there. The column is named `beneficiary_id` for the stores made before cases had keys.

Unwrapped keys live only for one load or one write (the mapper's key scope): an erased key is
gone from every process at the next request."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pilar.store.connection import LockBusy
from pilar.store import key_checks
from pilar.store.shredding import shred
from pilar.store.kek import FileSource, KekError, KekSource, KeyRing, kek_id_of, new_kek

PERSONAL_KEY_STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS personal_keys (beneficiary_id TEXT PRIMARY KEY, key TEXT NOT NULL)",
]
TABLE = "personal_keys"
DESTROY_KEY_SQL = f"DELETE FROM {TABLE} WHERE beneficiary_id = ?"
KEYS_LOCK = "keys"  # held by `pilar keys rotate` and `pilar keys retire`, each for its whole run


class PersonalKeys:
    """One key per beneficiary, in the same database as the events, wrapped."""

    def __init__(self, readers: Any, keks: KeyRing, ledger: Any = None):
        self.readers = readers
        self.keks = keks
        self.ledger = ledger  # pilar/store/erasure_ledger.py: every destroyed key's id, outside the database

    def create(self, *subject_ids: UUID) -> None:
        """A new key for each subject that has none (a batch's in one transaction)."""
        # The check that the store knows the KEK and the insert are one transaction, and the
        # check holds the KEK's check row (SQLite: the write lock; PostgreSQL: FOR SHARE) until
        # commit: a `retire` forgetting that KEK waits for it, and its re-wrap pass then sees the
        # key; or it forgot the KEK first, and nothing is wrapped under it.
        entry = self.keks.current()
        wrapped = [(str(subject), self.keks.wrap(AESGCM.generate_key(bit_length=256), subject, entry))
                   for subject in subject_ids]
        with self.readers.connection() as conn, conn.transaction():
            require_known_kek(conn, self.keks, entry=entry, hold=True)
            # Two writers may make a case's or a NIK holding's key at once: the first one stays.
            conn.executemany("INSERT INTO personal_keys (beneficiary_id, key) VALUES (?, ?) "
                             "ON CONFLICT (beneficiary_id) DO NOTHING", wrapped)

    def get(self, beneficiary_id: UUID) -> bytes | None:
        with self.readers.connection() as conn:
            row = conn.one("SELECT key FROM personal_keys WHERE beneficiary_id = ?", (str(beneficiary_id),))
        return self.keks.unwrap(row[0], beneficiary_id) if row else None

    def destroy(self, *subject_ids: UUID) -> None:
        """Delete the keys (a person's, their cases', their NIK holding's), and leave nothing of
        them in the live database files. Each id goes to the erasure ledger first, so that a
        restored backup that still holds the key has it destroyed again."""
        if self.ledger is not None:
            self.ledger.record(subject_ids)
        with self.readers.connection() as conn:
            with conn.transaction():
                for subject_id in subject_ids:
                    conn.execute(DESTROY_KEY_SQL, (str(subject_id),))
            # Done here so that erasure has happened when it is answered; should an older
            # transaction or a reader hold it back, it stays owed and the projection process does it.
            shred(conn, TABLE)

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
        entry = self.keks.current()  # one KEK for the whole pass, whatever the key file does meanwhile
        self.know(*entry)
        current, moved, after = entry[0], 0, ""
        while True:
            with self.readers.connection() as conn:
                rows = conn.all("SELECT beneficiary_id, key FROM personal_keys WHERE beneficiary_id > ? "
                                "ORDER BY beneficiary_id LIMIT ?", (after, batch_size))
                for beneficiary_id, stored in rows:
                    if kek_id_of(stored) == current:
                        continue
                    person = UUID(beneficiary_id)
                    wrapped = self.keks.wrap(opener.unwrap(stored, person), person, entry)
                    conn.execute("UPDATE personal_keys SET key = ? WHERE beneficiary_id = ? AND key = ?",
                                 (wrapped, beneficiary_id, stored))
                    moved += 1
            if len(rows) < batch_size:
                break
            after = rows[-1][0]
        with self.readers.connection() as conn:
            shred(conn, TABLE)  # the keys as they were stored before must not stay in the files
        return moved

    def know(self, kek_id: str, kek: bytes) -> None:
        """A KEK servers may wrap under (recorded before any server can be given it)."""
        with self.readers.connection() as conn:
            key_checks.record(conn, kek_check_name(kek_id), kek)

    def known(self) -> set[str]:
        """The KEKs the store knows (servers may wrap under them)."""
        with self.readers.connection() as conn:
            names = conn.all("SELECT name FROM pilar_key_checks WHERE name LIKE ?", (kek_check_name("%"),))
        return {name.removeprefix("kek:") for (name,) in names}

    def forget_keks(self, kek_ids: list[str]) -> None:
        """Retired KEKs: a server still configured with one wraps nothing under it. Waits for
        every key a server is storing under one of them (see create)."""
        with self.readers.connection() as conn, conn.transaction():
            for kek_id in kek_ids:
                conn.execute("DELETE FROM pilar_key_checks WHERE name = ?", (kek_check_name(kek_id),))

    @contextmanager
    def exclusive(self, wait: float) -> Iterator[None]:
        """The store-wide lock of the commands that change KEKs, for as long as the block runs
        (released, too, when the process dies: a file lock on SQLite, a session lock on PostgreSQL)."""
        conn = self.readers.db.connect()
        try:
            with conn.exclusive(KEYS_LOCK, wait, "another `pilar keys rotate` or `pilar keys retire` is running on "
                                "this store: run this again once it has finished"):
                yield
        except LockBusy as busy:
            raise KekError(str(busy)) from None
        finally:
            conn.close()


def kek_check_name(kek_id: str) -> str:
    return f"kek:{kek_id}"


def require_known_kek(conn: Any, keks: KeyRing, *, entry: tuple[str, bytes] | None = None,
                      hold: bool = False) -> None:
    """Wrap nothing under a KEK the store was not given through `pilar db init` or `pilar keys
    rotate`: a server configured with a foreign one would write keys its peers cannot open.
    `entry`: the KEK to check (else the current one); `hold` (in a transaction): keep its check
    row from being deleted until the transaction ends."""
    kek_id, kek = entry or keks.current()
    name = kek_check_name(kek_id)
    if hold and conn.kind == "postgres":  # SQLite: the transaction holds the write lock already
        row = conn.one("SELECT check_value FROM pilar_key_checks WHERE name = ? FOR SHARE", (name,))
        expected = row[0] if row else None
    else:
        expected = key_checks.recorded(conn, name)
    if expected != key_checks.check_value(kek, name):
        raise KekError(f"key-encryption key {kek_id!r} is not one this store knows: configure the store's KEK, "
                       "or make a new one current with `pilar keys rotate`")


def rotate(keys: PersonalKeys, source: KekSource, *, grace: float, wait: float) -> int:
    """`pilar keys rotate`: with a key file, a new KEK, known to the store before it is in the file
    (so servers that re-read the file wrap under it at once), put first; then every live key
    re-wrapped under the current KEK. Stopped anywhere, it can be run again."""
    with keys.exclusive(wait):
        if isinstance(source, FileSource):
            kek_id, kek = new_kek()
            keys.know(kek_id, kek)
            source.prepend(kek_id, kek)
            time.sleep(grace)  # for running servers to re-read the file
        return keys.rewrap()


def retire(keys: PersonalKeys, source: KekSource, *, wait: float) -> list[str]:
    """`pilar keys retire`: once every live key is under the current KEK, make the store forget
    the others (no server wraps under them any more), re-wrap the keys servers wrapped under them
    until then, check that none is left, and only then remove them from the key file. Stopped
    anywhere, no KEK a key needs is gone, and it can be run again."""
    with keys.exclusive(wait):
        current = keys.keks.current_id
        with keys.readers.connection() as conn:
            require_known_kek(conn, keys.keks)
        # Once the store knows no other KEK (a retire that stopped after forgetting them), the
        # keys left under one are the late ones this command itself re-wraps.
        if keys.known() != {current}:
            _require_all_under(keys, current)
            keys.forget_keks(sorted(keys.known() - {current}))
        keys.rewrap()
        _require_all_under(keys, current)
        old = keys.keks.ids()[1:]
        if not isinstance(source, FileSource):
            return [f"no live key needs KEK(s) {', '.join(old) or 'none'}: remove them from PILAR_KEK and destroy them"]
        source.remove(old, current)
        return [f"destroyed KEK(s): {', '.join(old) or 'none'}"]


def _require_all_under(keys: PersonalKeys, current: str) -> None:
    waiting = {kek_id: n for kek_id, n in keys.by_kek().items() if kek_id != current}
    if waiting:
        raise KekError(f"keys not yet under the current KEK: {waiting}; run `pilar keys rotate`")
