"""The access log, sealed like the events: the projection process chains every row in the order
they were written (SQLite's rowid, PostgreSQL's `seq`), a little after they were written:

    row_hash = sha256(the row's columns)
    chain_hash = HMAC(access key, previous chain_hash | seq | id | row_hash)

A row is sealed once the process saw it at least `min_age` seconds ago: on PostgreSQL a row's
sequence number is drawn before it commits, so a row numbered lower may commit a moment later
than one numbered higher, and must not land behind the seals.

Each row also carries a MAC of its own (pilar/audit/access_log.py), checked whether it is sealed or not.

Verify reports `access_log_edited` (a sealed row changed), `access_log_deleted` (sealed rows gone,
as a range), `access_log_reordered` (a row moved to another place in the order),
`access_log_inserted` (rows with no seal inside the sealed range), `access_log_forged` (a row
whose MAC is missing, past the store's MAC boundary, or does not hold: not written by Pilar,
sealed or not), `access_log_forged_boundary` (the MAC boundary not under the key),
`access_log_seal_chain` (seals deleted or rewritten) and `head_mismatch` (not the access-log
seal published).

The process seals a forged row as it is, as it does a forged event (logging a warning): its seal
keeps the evidence, since deleting the row afterwards is reported too."""

import logging
import time
from collections import deque
from collections.abc import Iterator

from pilar.audit.access_log import BOUNDARY_NAME, COLUMNS, covered, mac_holds, mac_key, parse_boundary
from pilar.audit.hashing import access_chain_hash, access_key, row_hash
from pilar.audit.heads import Head
from pilar.audit.verification import Break, Verification
from pilar.store import key_checks
from pilar.store.connection import Connection

log = logging.getLogger("pilar.projection")


class AccessSealer:
    def __init__(self, conn: Connection, audit_key: bytes, min_age: float = 2.0):
        self.conn = conn
        self.key = access_key(audit_key)
        self.mac_key = mac_key(audit_key)
        self.min_age = min_age
        self._seen: deque[tuple[float, int]] = deque()  # (when, the highest seq then)
        self._ready = 0  # rows up to this seq were seen at least min_age ago

    def last(self) -> tuple[int, str]:
        row = self.conn.one("SELECT seq, chain_hash FROM audit_access_seals ORDER BY seq DESC LIMIT 1")
        return (int(row[0]), row[1]) if row else (0, "")

    def ready(self, after: int) -> int:
        """The highest seq that may be sealed now (0: none past `after`)."""
        now = time.monotonic()
        top = self.conn.one(f"SELECT MAX({self.conn.row_order}) FROM audit_access_log")[0]
        if top is not None and int(top) > after and (not self._seen or self._seen[-1][1] != int(top)):
            self._seen.append((now, int(top)))
        while self._seen and self._seen[0][0] <= now - self.min_age:
            self._ready = max(self._ready, self._seen.popleft()[1])
        return self._ready if self._ready > after else 0

    def prepare(self, last: tuple[int, str], up_to: int, limit: int) -> list[tuple]:
        """The seal rows of the entries after `last` up to seq `up_to` (at most `limit`), writing nothing."""
        seq, chain = last
        order = self.conn.row_order
        rows = self.conn.all(f"SELECT {order}, {', '.join(COLUMNS)}, mac FROM audit_access_log "
                             f"WHERE {order} > ? AND {order} <= ? ORDER BY {order} LIMIT ?", (seq, up_to, limit))
        boundary = parse_boundary(self.mac_key, key_checks.recorded(self.conn, BOUNDARY_NAME)) or 0
        seals = []
        for row in rows:
            if not mac_holds(self.mac_key, boundary, int(row[0]), row[1:-1], row[-1]):
                log.warning("sealing access-log entry %s (%s) as it is, though it was not written by Pilar (its MAC "
                            "is missing or does not hold): `pilar audit verify` reports it", row[1], row[0])
            row = row[:-1]
            hashed = row_hash(covered(row[1:]))
            chain = access_chain_hash(self.key, chain, int(row[0]), row[1], hashed)
            seals.append((int(row[0]), row[1], hashed, chain))
        return seals

    def write(self, seals: list[tuple]) -> None:
        self.conn.executemany("INSERT INTO audit_access_seals (seq, id, row_hash, chain_hash) VALUES (?, ?, ?, ?)",
                              seals)


def check_access(conn: Connection, audit_key: bytes, result: Verification, head: Head | None,
                 batch_size: int) -> None:
    key = access_key(audit_key)
    macs = mac_key(audit_key)
    boundary = _boundary(conn, macs, result)
    row = conn.one("SELECT MAX(seq) FROM audit_access_seals")
    result.access_sealed_up_to = int(row[0]) if row and row[0] is not None else 0
    sealed_end = max(result.access_sealed_up_to, head.access_seq if head else 0)
    runs = _Runs(result, sealed_end)
    chain, last_row = "", 0
    head_seal: str | None = None
    head_row = False
    rows, seals = _rows(conn, batch_size), _access_seals(conn, batch_size)
    entry, seal = next(rows, None), next(seals, None)
    while entry is not None or seal is not None:
        if seal is not None and (entry is None or seal[0] <= entry[0]):
            seq, entry_id, hashed, s_chain = seal
            if head is not None and seq == head.access_seq:
                head_seal = s_chain
            if access_chain_hash(key, chain, seq, entry_id, hashed) != s_chain:
                runs.flush()
                result.add(Break("access_log_seal_chain", f"the access-log seal of entry {seq} does not follow from "
                                 "the seal before it: seals were deleted or rewritten", entry_id=entry_id,
                                 access_seq=seq))
            chain = s_chain
            seal = next(seals, None)
            if entry is None or seq < entry[0]:
                runs.extend("access_log_deleted", seq, entry_id)
                continue
            runs.flush()
            if entry[1] != entry_id:
                result.add(Break("access_log_reordered", f"access-log entry {seq} was sealed as entry {entry_id}, "
                                 f"but is now entry {entry[1]}", entry_id=entry_id, access_seq=seq))
            elif row_hash(covered(entry[1:-1])) != hashed:
                result.add(Break("access_log_edited", f"access-log entry {entry_id} ({seq}) differs from what was "
                                 "sealed", entry_id=entry_id, access_seq=seq))
            elif not mac_holds(macs, boundary, seq, entry[1:-1], entry[-1]):
                result.add(_forged(entry, sealed=True))
        elif not mac_holds(macs, boundary, entry[0], entry[1:-1], entry[-1]):
            runs.flush()
            result.add(_forged(entry, sealed=False))
        elif entry[0] <= sealed_end:
            runs.extend("access_log_inserted", entry[0], entry[1])
        else:
            runs.flush()
            result.access_unsealed += 1
        if head is not None and entry[0] == head.access_seq:
            head_row = True
        result.access_checked += 1
        last_row = entry[0]
        entry = next(rows, None)
    runs.flush()
    if head is None or not head.access_seq:
        return
    if head_seal is not None:
        if head_seal != head.access_chain:
            result.add(Break("head_mismatch", f"the access-log seal of entry {head.access_seq} is not the one "
                             f"published at {head.at}: the seals were rewritten", access_seq=head.access_seq))
    elif last_row < head.access_seq:
        result.add(Break("access_log_deleted", f"the head published at {head.at} reaches access-log entry "
                         f"{head.access_seq}, but the log ends at entry {last_row}: the newest entries were deleted",
                         access_seq=last_row + 1, last_access_seq=head.access_seq))
    elif not head_row:
        result.add(Break("access_log_deleted", f"access-log entry {head.access_seq}, named by the head published "
                         f"at {head.at}, is gone with its seal", access_seq=head.access_seq))


def _boundary(conn: Connection, macs: bytes, result: Verification) -> int:
    """The last entry that may lack a MAC (0: none may), reporting a boundary not written under the key."""
    value = key_checks.recorded(conn, BOUNDARY_NAME)
    boundary = parse_boundary(macs, value)
    if value is not None and boundary is None:
        claimed = value.split(":", 1)[0]
        result.add(Break("access_log_forged_boundary", f"the store's record of the access-log entries that may lack "
                         f"a MAC ({value[:40]!r}) was not written under the audit key",
                         access_seq=int(claimed) if claimed.isdigit() else None))
    return boundary or 0


def _forged(entry: tuple, sealed: bool) -> Break:
    seq, entry_id, _, username, _, action = entry[:6]
    why = "carries no MAC" if entry[-1] is None else "carries a MAC that does not hold"
    return Break("access_log_forged", f"access-log entry {entry_id} ({seq}: {action} by {username}) {why}: it was "
                 "not written by Pilar" + (" (and was sealed as it is)" if sealed else ""),
                 entry_id=entry_id, access_seq=seq)


class _Runs:
    """Consecutive deleted or inserted entries, reported as one break per run."""

    def __init__(self, result: Verification, sealed_end: int):
        self.result = result
        self.sealed_end = sealed_end
        self.kind: str | None = None
        self.seqs: list[int] = []
        self.ids: list[str] = []

    def extend(self, kind: str, seq: int, entry_id: str) -> None:
        if kind != self.kind:
            self.flush()
            self.kind = kind
        self.seqs.append(seq)
        if len(self.ids) < 5:
            self.ids.append(entry_id)

    def flush(self) -> None:
        if self.kind is None:
            return
        first, last, count = self.seqs[0], self.seqs[-1], len(self.seqs)
        ids = ", ".join(self.ids) + (", …" if count > len(self.ids) else "")
        if self.kind == "access_log_deleted":
            message = f"{count} sealed access-log entr{'y' if count == 1 else 'ies'} ({first}-{last}: {ids}) deleted"
        else:
            message = (f"{count} access-log entr{'y' if count == 1 else 'ies'} ({first}-{last}: {ids}) with no seal "
                       f"inside the sealed range (up to entry {self.sealed_end}): inserted, or their seals deleted")
        self.result.add(Break(self.kind, message, entry_id=self.ids[0], access_seq=first,
                              last_access_seq=last if last != first else None))
        self.kind, self.seqs, self.ids = None, [], []


def _rows(conn: Connection, batch_size: int) -> Iterator[tuple]:
    order, seq = conn.row_order, -1
    while rows := conn.all(f"SELECT {order}, {', '.join(COLUMNS)}, mac FROM audit_access_log WHERE {order} > ? "
                           f"ORDER BY {order} LIMIT ?", (seq, batch_size)):
        for row in rows:
            yield (int(row[0]), *row[1:])
        seq = int(rows[-1][0])


def _access_seals(conn: Connection, batch_size: int) -> Iterator[tuple]:
    seq = -1
    while rows := conn.all("SELECT seq, id, row_hash, chain_hash FROM audit_access_seals WHERE seq > ? "
                           "ORDER BY seq LIMIT ?", (seq, batch_size)):
        for row in rows:
            yield (int(row[0]), row[1], row[2], row[3])
        seq = int(rows[-1][0])
