"""The name index: which person's name holds which word, each word kept only as its keyed hash
(pilar/cases/lookup.py, under the lookup key that never enters the database), so that a person is found
by name while a copy of the database reveals no name and cannot be searched by guessing one.
Equal words share a token: a copy shows that two people's names share a word, never which
(docs/decisions.md, "Search by name"). An erased person's rows are deleted and shredded."""

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from pilar.store.shredding import shred

TABLE = "name_tokens"
NAME_INDEX_STATEMENTS = [
    # version: the person's version whose name last named the token (pruning never drops a newer name's).
    f"CREATE TABLE IF NOT EXISTS {TABLE} (token TEXT NOT NULL, beneficiary_id TEXT NOT NULL, "
    "version BIGINT NOT NULL, PRIMARY KEY (token, beneficiary_id))",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_person ON {TABLE} (beneficiary_id)",
]
FORGET_SQL = f"DELETE FROM {TABLE} WHERE beneficiary_id = ?"


class NameIndex:
    def __init__(self, readers: Any):
        self.readers = readers

    def add(self, beneficiary_id: UUID, tokens: Iterable[str], version: int) -> None:
        """Adds the tokens of the person's name as of `version`, before that version is written: a
        token of a person who does not exist, or no longer has that name, only costs a look at
        them, never a wrong answer."""
        self.add_many([(beneficiary_id, tokens, version)])

    def add_many(self, names: Iterable[tuple[UUID, Iterable[str], int]]) -> None:
        """`add` for several names (a batch's), in one transaction."""
        with self.readers.connection() as conn, conn.transaction():
            conn.executemany(f"INSERT INTO {TABLE} (token, beneficiary_id, version) VALUES (?, ?, ?) "
                             f"ON CONFLICT (token, beneficiary_id) DO UPDATE SET version = excluded.version "
                             f"WHERE {TABLE}.version < excluded.version",
                             [(token, str(beneficiary_id), version) for beneficiary_id, tokens, version in names
                              for token in dict.fromkeys(tokens)])

    def prune(self, beneficiary_id: UUID, keep: Sequence[str], version: int) -> None:
        """Once `version` is written: drops the tokens of the person's older names that it does not
        name. A token a later version named carries that version, so two corrections racing never
        drop each other's."""
        marks = ", ".join("?" for _ in keep) or "NULL"
        with self.readers.connection() as conn, conn.transaction():
            conn.execute(f"DELETE FROM {TABLE} WHERE beneficiary_id = ? AND version < ? AND token NOT IN ({marks})",
                         (str(beneficiary_id), version, *keep))

    def forget(self, beneficiary_id: UUID) -> None:
        """An erased person: their rows go, and nothing of them stays in the live database files."""
        with self.readers.connection() as conn:
            with conn.transaction():
                conn.execute(FORGET_SQL, (str(beneficiary_id),))
            shred(conn, TABLE)

    def find(self, tokens: Sequence[str], limit: int) -> list[UUID]:
        """The people whose name holds every token (at most `limit`)."""
        marks = ", ".join("?" for _ in tokens)
        with self.readers.connection() as conn:
            rows = conn.all(f"SELECT beneficiary_id FROM {TABLE} WHERE token IN ({marks}) GROUP BY beneficiary_id "
                            "HAVING COUNT(DISTINCT token) = ? ORDER BY beneficiary_id LIMIT ?",
                            (*tokens, len(tokens), limit))
        return [UUID(row[0]) for row in rows]
