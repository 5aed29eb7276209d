"""Every read of a person's data is recorded: who, when, what. Auditors read the log.

Kept in its own append-only table beside the events, not as events: reads are not facts about a
case, and logging them must not contend with case writes for stream versions. The
projection process seals the rows in the order they were written (pilar/audit/access_seals.py), so
an entry edited, deleted or slipped in afterwards is reported by verify.

Each row also carries a MAC of its own, written with it, under a key derived from the audit key:

    mac = HMAC(access MAC key, JSON list of the row's columns: id, at, username, ... detail)

so a row slipped in by someone who can write the database but has no audit key is reported
(`access_log_forged`) at once, sealed or not. Rows written before MACs existed have none; the
store keeps the last row that may lack one (`boundary_value`), itself under the key, recorded
by `pilar db init` (`prepare_access_log`)."""

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from pilar.cases.access import Actor
from pilar.cases.clock import utc_text
from pilar.cases.event_mac import read_signed_number, signed_number
from pilar.store import key_checks
from pilar.store.connection import Connection, Readers, only_on

ACCESS_LOG_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS audit_access_log (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        username TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        case_id TEXT,
        beneficiary_id TEXT,
        detail TEXT NOT NULL,
        mac TEXT,
        client TEXT)""",
    "CREATE INDEX IF NOT EXISTS audit_access_by_user ON audit_access_log (username, at)",
    "CREATE INDEX IF NOT EXISTS audit_access_by_case ON audit_access_log (case_id, at)",
    "CREATE INDEX IF NOT EXISTS audit_access_by_beneficiary ON audit_access_log (beneficiary_id, at)",
    "CREATE INDEX IF NOT EXISTS audit_access_by_time ON audit_access_log (at)",
    # The order the projection process seals the rows in (pilar/audit/access_seals.py): SQLite's rowid;
    # PostgreSQL numbers them in a column of their own.
    only_on("postgres", "ALTER TABLE audit_access_log ADD COLUMN IF NOT EXISTS seq BIGSERIAL"),
    only_on("postgres", "CREATE UNIQUE INDEX IF NOT EXISTS audit_access_by_seq ON audit_access_log (seq)"),
    # A table made by an older Pilar lacks the MAC column (SQLite's is added by `prepare_access_log`).
    only_on("postgres", "ALTER TABLE audit_access_log ADD COLUMN IF NOT EXISTS mac TEXT"),
    only_on("postgres", "ALTER TABLE audit_access_log ADD COLUMN IF NOT EXISTS client TEXT"),
    """CREATE TABLE IF NOT EXISTS audit_access_seals (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL,
        row_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL)""",
]
# The columns a row's seal and its MAC cover (not the MAC itself, nor its place in the order).
# `client` (the client's address) came later: a row without one is covered as rows were before
# it existed (`covered`), so older rows keep verifying, and a row written with an address whose
# address is blanked no longer matches its MAC or seal.
COLUMNS = ("id", "at", "username", "role", "action", "case_id", "beneficiary_id", "detail", "client")
BOUNDARY_NAME = "access-macs-before"


def mac_key(audit_key: bytes) -> bytes:
    return hmac.new(audit_key, b"pilar-access-mac", hashlib.sha256).digest()


def covered(values: Sequence) -> Sequence:
    """The values of a row's COLUMNS that its MAC and seal cover: all, less a missing client address."""
    return values[:-1] if values[-1] is None else values


def entry_mac(key: bytes, values: Sequence) -> str:
    """The MAC of a row's COLUMNS, in that order, unambiguously (None is not '')."""
    return hmac.new(key, json.dumps(list(covered(values)), ensure_ascii=False).encode(), hashlib.sha256).hexdigest()


def mac_holds(key: bytes, boundary: int, seq: int, values: Sequence, mac: str | None) -> bool:
    """Whether the row was written by Pilar: its MAC holds, or it has none and is one of the rows up to
    the boundary (numbered from 1: a row numbered 0 or less was put there by hand)."""
    if mac is None:
        return 0 < seq <= boundary
    return hmac.compare_digest(str(mac), entry_mac(key, values))


def boundary_value(key: bytes, seq: int) -> str:
    """The text kept in the store for 'access-log rows up to `seq` may lack a MAC' (`key`: mac_key)."""
    return signed_number(key, BOUNDARY_NAME, seq)


def parse_boundary(key: bytes, value: str | None) -> int | None:
    """The boundary, or None when there is none or it was not written under `key`."""
    return read_signed_number(key, BOUNDARY_NAME, value)


def prepare_access_log(conn: Connection, audit_key: bytes) -> None:
    """`pilar db init`, after ACCESS_LOG_STATEMENTS: give an older SQLite table its MAC and client
    columns, and record (once) that the rows written so far, which have no MAC, may lack one."""
    with conn.transaction():
        if conn.kind == "sqlite":
            present = {r[1] for r in conn.all("PRAGMA table_info(audit_access_log)")}
            for column in ("mac", "client"):
                if column not in present:
                    conn.execute(f"ALTER TABLE audit_access_log ADD COLUMN {column} TEXT")
        if key_checks.recorded(conn, BOUNDARY_NAME) is None:
            top = conn.one(f"SELECT MAX({conn.row_order}) FROM audit_access_log")[0]
            key_checks.record_value(conn, BOUNDARY_NAME, boundary_value(mac_key(audit_key), int(top or 0)))


class AccessLog:
    def __init__(self, readers: Readers, audit_key: Callable[[], bytes]):
        """`audit_key` is read when the first row is written: a process that logs no read needs none."""
        self.readers = readers
        self._audit_key = audit_key
        self._mac_key: bytes | None = None

    def record(self, actor: Actor, action: str, *, case_id: object = None, beneficiary_id: object = None,
               detail: str = "") -> None:
        if self._mac_key is None:
            self._mac_key = mac_key(self._audit_key())
        values = (str(uuid.uuid4()), utc_text(datetime.now(timezone.utc)), actor.username, actor.role, action,
                  None if case_id is None else str(case_id),
                  None if beneficiary_id is None else str(beneficiary_id), detail, actor.client)
        with self.readers.connection() as conn:
            conn.execute(f"INSERT INTO audit_access_log ({', '.join(COLUMNS)}, mac) "
                         f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})", (*values, entry_mac(self._mac_key, values)))

    def search(self, *, username: str | None = None, case_id: str | None = None,
               beneficiary_id: str | None = None, page: int = 1, per_page: int = 100) -> tuple[list[dict[str, Any]], int]:
        clauses, params = [], []
        for column, value in (("username", username), ("case_id", case_id), ("beneficiary_id", beneficiary_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.readers.connection() as conn:
            total = conn.one(f"SELECT COUNT(*) FROM audit_access_log {where}", params)[0]
            rows = conn.all(f"SELECT {', '.join(COLUMNS)} FROM audit_access_log {where} "
                            "ORDER BY at DESC, id LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
        return [dict(zip(COLUMNS, row)) for row in rows], int(total)
