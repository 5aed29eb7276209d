"""Tamper evidence. The projection process seals every stored event in global order:

    event_hash = sha256(previous event_hash of the same stream | stream | version | topic | sha256(state))
    chain_hash = HMAC(audit key, previous chain_hash | position | event_hash)

so an edited row, a deleted event (a stream's tail or a whole stream), or two swapped
positions no longer match their seals, and the seals themselves cannot be rewritten without
the audit key, which is never stored in the database. Three more things close what seals alone
leave open to whoever can write the database:

- every event carries a MAC under a key derived from the audit key (pilar/cases/event_mac.py), so an
  event slipped in (even one the projection process then sealed) is `forged`;
- the projection process publishes signed heads outside the database (pilar/audit/heads.py), so seals
  cut back (truncation, or deleted for the process to regrow) are reported, and the process
  refuses to seal over them;
- the access log is sealed too (pilar/audit/access_seals.py).

`verify` reports every break it finds (pilar/audit/event_check.py lists the kinds, plus `quarantined`:
an event an operator quarantined, pilar/audit/quarantine.py); events newer than the sealed range are
reported as unsealed, not as broken (but an unsealed event whose MAC fails is `forged`)."""

from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from pilar.audit.access_seals import check_access
from pilar.audit.event_check import check_events
from pilar.audit.hashing import chain_hash, event_hash
from pilar.audit.heads import HeadsFile, Reading
from pilar.audit.quarantine import damaged
from pilar.audit.verification import Break, Verification
from pilar.cases import event_mac
from pilar.store import key_checks
from pilar.store.connection import Connection

__all__ = ["SEAL_STATEMENTS", "Break", "Sealer", "Verification", "chain_hash", "event_hash", "hashes_between",
           "stream_hashes", "verify"]

SEAL_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS audit_seals (
        position BIGINT PRIMARY KEY,
        stream_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        event_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_seals_by_stream ON audit_seals (stream_id, version)",
]


class Sealer:
    def __init__(self, conn: Connection, key: bytes):
        self.conn = conn
        self.key = key

    def last(self) -> tuple[int, str]:
        row = self.conn.one("SELECT position, chain_hash FROM audit_seals ORDER BY position DESC LIMIT 1")
        return (int(row[0]), row[1]) if row else (0, "")

    def prepare(self, notifications: Sequence[Notification], last: tuple[int, str]) -> list[tuple]:
        """The seal rows of the notifications after `last` (the newest seal's position and
        chain hash), reading the previous hashes they need but writing nothing."""
        position, chain = last
        previous: dict[str, str] = {}
        rows = []
        for n in notifications:
            if n.id <= position:
                continue
            stream = str(n.originator_id)
            if stream not in previous and n.originator_version > 1:
                found = self.conn.one("SELECT event_hash FROM audit_seals WHERE stream_id = ? AND version = ?",
                                      (stream, n.originator_version - 1))
                previous[stream] = found[0] if found else "missing"
            hashed = event_hash(previous.get(stream, ""), stream, n.originator_version, n.topic, n.state)
            chain = chain_hash(self.key, chain, n.id, hashed)
            previous[stream] = hashed
            rows.append((n.id, stream, n.originator_version, hashed, chain))
        return rows

    def write(self, rows: Sequence[tuple]) -> None:
        """Insert prepared seal rows, inside the caller's transaction."""
        self.conn.executemany(
            "INSERT INTO audit_seals (position, stream_id, version, event_hash, chain_hash) VALUES (?, ?, ?, ?, ?)",
            rows)


# Reading the event hashes needs no key: only sealing and verifying do.
def hashes_between(conn: Connection, after: int, last: int) -> dict[int, str]:
    """Event hashes by position, for positions after `after` up to `last`."""
    rows = conn.all("SELECT position, event_hash FROM audit_seals WHERE position > ? AND position <= ?", (after, last))
    return {int(p): h for p, h in rows}


def stream_hashes(conn: Connection, stream_id: UUID, versions: Sequence[int]) -> dict[int, str]:
    """Event hashes of one stream by version."""
    if not versions:
        return {}
    rows = conn.all(
        f"SELECT version, event_hash FROM audit_seals WHERE stream_id = ? AND version IN "
        f"({', '.join('?' * len(versions))})", [str(stream_id), *versions])
    return {int(v): h for v, h in rows}


def verify(recorder: ApplicationRecorder, conn: Connection, key: bytes, batch_size: int = 10_000, *,
           heads: Path | None = None) -> Verification:
    """Check every event and access-log entry against its seal (and every event against its MAC),
    and the store against the newest head in the heads file `heads` (if given); report every break."""
    result = Verification()
    reading = HeadsFile(heads, key).read() if heads is not None else None
    head = reading.head if reading is not None else None
    if reading is not None:
        result.heads = _heads_report(reading, result)
    mac_key = event_mac.event_key(key)
    value = key_checks.recorded(conn, event_mac.BOUNDARY_NAME)
    boundary = event_mac.parse_boundary(mac_key, value)
    if value is not None and boundary is None:
        claimed = value.split(":", 1)[0]
        result.add(Break("forged_boundary", f"the store's record of the events that may lack a MAC ({value[:40]!r}) "
                         "was not written under the audit key",
                         position=int(claimed) if claimed.isdigit() else None))
    check_events(recorder, conn, key, result, boundary=boundary or 0, head=head, batch_size=batch_size)
    check_access(conn, key, result, head, batch_size)
    _quarantined(conn, result)
    return result


def _quarantined(conn: Connection, result: Verification) -> None:
    """A quarantined event stays a break: one whose bytes still hold their MAC (e.g. a topic this
    Pilar cannot read) would otherwise pass, though the views go on without it."""
    for damage in damaged(conn):
        if damage.quarantined and damage.position not in result.broken_positions:  # not once repaired
            result.add(Break("quarantined", f"{damage.reason}; quarantined by {damage.quarantined_by} at "
                             f"{damage.quarantined_at} ({damage.quarantine_reason}): the views go on without it",
                             damage.stream_id, damage.version, damage.position))


def _heads_report(reading: Reading, result: Verification) -> dict:
    for back, text in reading.bad_lines:
        result.add(Break("forged_head", f"line {back} from the end of {reading.path} is not a head signed under the "
                         f"audit key: {text[:80]!r}"))
    if not reading.exists:
        return {"file": str(reading.path), "status": "none published yet"}
    if reading.head is None:
        return {"file": str(reading.path), "status": "no valid head"}
    return {"file": str(reading.path), "status": "checked", **reading.head.as_dict()}
