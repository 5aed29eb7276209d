"""Backups of the store, online: SQLite through its backup API (one consistent snapshot, taken
while writers go on writing), PostgreSQL through pg_dump (one repeatable-read snapshot). Restores
put a backup back in place; `pilar restore` (pilar/cli_backup.py) then runs `pilar db init`, which
re-applies the erasure ledger (pilar/store/erasure_ledger.py)."""

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pilar.store.config import StoreConfig


class BackupError(RuntimeError):
    """A backup or restore that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    path: Path
    size: int
    sha256: str
    events: int | None  # the newest position in the backup (SQLite; None for a pg_dump archive)


def backup(store: StoreConfig, dest: Path) -> Written:
    """A new file `dest` (never overwritten, readable by its owner only: it holds the wrapped keys
    and encrypted personal data), with `dest.sha256` beside it in `sha256sum` form."""
    if dest.exists():
        raise BackupError(f"{dest} exists: a backup never overwrites a file")
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        events = _sqlite_backup(store.sqlite_path, dest) if store.kind == "sqlite" else _pg_dump(store, dest)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    digest = sha256_of(dest)
    sidecar = dest.with_name(dest.name + ".sha256")
    sidecar.write_text(f"{digest}  {dest.name}\n")
    return Written(dest, dest.stat().st_size, digest, events)


def restore(store: StoreConfig, src: Path) -> None:
    """Replace the store's contents with the backup `src` (servers and `pilar project` stopped)."""
    check_sha256(src)
    if store.kind == "sqlite":
        _sqlite_restore(src, store)
    else:
        _pg_restore(store, src)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(src: Path) -> None:
    if not src.is_file():
        raise BackupError(f"{src}: no such backup file")
    sidecar = src.with_name(src.name + ".sha256")
    if sidecar.exists():
        expected = sidecar.read_text().split()[0] if sidecar.read_text().split() else ""
        if expected != sha256_of(src):
            raise BackupError(f"{src} does not match its SHA-256 in {sidecar}: the file is damaged or not that backup")


def _sqlite_backup(path: Path, dest: Path) -> int:
    if not path.exists():
        raise BackupError(f"no SQLite store at {path}")
    source = sqlite3.connect(path, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)  # every page in one step: one read transaction, one consistent state
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        if target.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy at {dest} failed SQLite's quick_check")
        row = target.execute("SELECT MAX(rowid) FROM stored_events").fetchone()
        return int(row[0] or 0)
    finally:
        target.close()
        source.close()


def _sqlite_restore(src: Path, store: StoreConfig) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        if source.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{src} is not a sound SQLite database (quick_check failed)")
        store.create_private_file()
        target = sqlite3.connect(store.sqlite_path, timeout=30)
        try:
            source.backup(target)  # the live file, its -wal and -shm stay consistent: SQLite writes them
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{src} is not a SQLite backup of Pilar: {e}") from None
    finally:
        source.close()


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed here: install the PostgreSQL client (e.g. apt-get install "
                          f"postgresql-client) or run it on the database host as docs/operations.md, Backups, shows")
    return tool


def _pg_args(store: StoreConfig) -> tuple[str, dict[str, str]]:
    """The connection URL without its password (which goes in PGPASSWORD, not on a command line
    every local user can read) and the environment to run the tool in."""
    parts = urlsplit(store.conninfo())
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = parts.netloc.replace(f":{parts.password}@", "@")
        parts = parts._replace(netloc=netloc)
    return parts.geturl(), env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _pg_dump(store: StoreConfig, dest: Path) -> None:
    url, env = _pg_args(store)
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--schema={store.schema}", f"--file={dest}", url],
         env)
    return None


def _pg_restore(store: StoreConfig, src: Path) -> None:
    url, env = _pg_args(store)
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={url}", str(src)], env)
