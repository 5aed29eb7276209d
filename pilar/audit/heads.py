"""Signed heads, published outside the database. After it seals, the projection process appends
a line to the heads file (PILAR_HEADS_FILE, `instance/audit_heads` by default; at most about one
a second, and one on shutdown):

    position chain_hash access_seq access_chain at hmac

the newest event seal and access-log seal, when, and an HMAC of the rest of the line under a key
derived from the audit key. The database does not hold it, so whoever rewrites the database
cannot cut the seals back (truncation, or seals deleted for the projection process to regrow)
without verify, which compares the store with the newest line, reporting it; an auditor who keeps
a copy of the file checks against it with `pilar audit verify --against FILE`."""

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

TAIL_BYTES = 64 * 1024  # the newest lines are all that is compared; a file grows ~15 MB a busy day


class SealsCutBack(RuntimeError):
    """The store's seals end before a head published earlier: they were deleted, or the store was
    put back from a backup. Sealing now would regrow seals over a history nobody can vouch for."""


def heads_key(audit_key: bytes) -> bytes:
    return hmac.new(audit_key, b"pilar-published-heads", hashlib.sha256).digest()


@dataclass(frozen=True)
class Head:
    position: int
    chain_hash: str
    access_seq: int
    access_chain: str
    at: str

    def body(self) -> str:
        return f"{self.position} {self.chain_hash or '-'} {self.access_seq} {self.access_chain or '-'} {self.at}"

    def line(self, key: bytes) -> str:
        return f"{self.body()} {_mac(key, self.body())}\n"

    def as_dict(self) -> dict:
        return {"position": self.position, "access_seq": self.access_seq, "at": self.at}


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def parse(line: str, key: bytes) -> Head | None:
    """The head a line holds, or None if it is malformed or its HMAC does not hold under `key`."""
    parts = line.split()
    if len(parts) != 6 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    head = Head(int(parts[0]), "" if parts[1] == "-" else parts[1], int(parts[2]),
                "" if parts[3] == "-" else parts[3], parts[4])
    return head if hmac.compare_digest(parts[5], _mac(key, head.body())) else None


@dataclass
class Reading:
    """What a heads file says: its newest good head, and its newest lines that are not good."""
    path: Path
    exists: bool = False
    head: Head | None = None
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number from the end, text)


class HeadsFile:
    def __init__(self, path: Path, audit_key: bytes):
        self.path = Path(path)
        self.key = heads_key(audit_key)

    def read(self) -> Reading:
        """The newest line whose HMAC holds, and every line after it that does not."""
        reading = Reading(self.path)
        try:
            with open(self.path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                reading.exists = size > 0
                block = TAIL_BYTES
                while True:
                    f.seek(max(0, size - block))
                    lines = f.read().decode(errors="replace").split("\n")
                    # The last piece is '' after a whole line, else a line still being written (or torn
                    # by a crash): not a head yet. The first may start in the middle of a line.
                    lines = lines[1 if size > block else 0:-1]
                    bad = []
                    for back, text in enumerate(reversed(lines), start=1):
                        if not text.strip():
                            continue
                        head = parse(text, self.key)
                        if head is not None:
                            reading.head, reading.bad_lines = head, bad
                            return reading
                        bad.append((back, text[:200]))
                    if size <= block:
                        reading.bad_lines = bad
                        return reading
                    block *= 8
        except FileNotFoundError:
            return reading

    def latest(self) -> Head | None:
        return self.read().head

    def publish(self, head: Head) -> None:
        """Append one line; the file is created readable by its owner only, from its first byte."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"  # a line a crash left unfinished
            os.write(fd, (("\n" if torn else "") + head.line(self.key)).encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def require_reaches(conn, head: Head | None, where: Path) -> None:
    """Raise SealsCutBack unless the store's seals reach the published head, with its chain hashes
    (`conn`: a store connection; the projection process asks before it seals anything)."""
    if head is None:
        return
    _require_seal(conn, "audit_seals", "position", head.position, head.chain_hash, "seal", "position", "events",
                  where, head)
    _require_seal(conn, "audit_access_seals", "seq", head.access_seq, head.access_chain, "access-log seal", "entry",
                  "access-log entries", where, head)


def _require_seal(conn, table: str, column: str, published: int, chain: str, what: str, unit: str, sealed: str,
                  where: Path, head: Head) -> None:
    newest_row = conn.one(f"SELECT {column} FROM {table} ORDER BY {column} DESC LIMIT 1")
    newest = int(newest_row[0]) if newest_row else 0
    if newest < published:
        raise SealsCutBack(f"the store's {what}s end at {unit} {newest}, but {where} published a head at {unit} "
                           f"{published} ({head.at}): {what}s or {sealed} were deleted; sealing nothing "
                           "until the store is restored (see `pilar audit verify`)")
    at_head = conn.one(f"SELECT chain_hash FROM {table} WHERE {column} = ?", (published,))
    if published and (at_head is None or at_head[0] != chain):
        raise SealsCutBack(f"the store's {what} at {unit} {published} is not the one {where} published: the seals "
                           "were rewritten; sealing nothing (see `pilar audit verify`)")
