"""`pilar backup` and `pilar restore` (docs/operations.md, Backups)."""

import time
from pathlib import Path

import click

from pilar.bootstrap import init_store
from pilar.settings import Settings
from pilar.store.backup import BackupError, backup, restore
from pilar.store.connection import LockBusy
from pilar.store.key_checks import KeyMismatch
from pilar.store.erasure_ledger import LedgerError
from pilar.store.migrations import NewerStore


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(dest: Path) -> None:
    """Write a consistent copy of the store to DEST while servers keep running (SQLite: its backup
    API; PostgreSQL: pg_dump's custom format), with DEST.sha256 beside it. The keys are not in it:
    back up the KEK, the audit, lookup and signing keys and the erasure ledger separately."""
    settings = Settings.from_env()
    try:
        written = backup(settings.store, dest)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    upto = f", events up to position {written.events}" if written.events is not None else ""
    click.echo(f"wrote {written.path} ({written.size} bytes{upto})")
    click.echo(f"sha256 {written.sha256}  (also in {written.path.name}.sha256)")


@click.command("restore")
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the store's contents: everything written after the backup is lost.")
def restore_command(src: Path, yes: bool) -> None:
    """Put the backup SRC in place of the store's contents (stop the servers and `pilar project`
    first), then run `pilar db init`: it migrates the schema and destroys again the keys of everyone
    erased since the backup was taken (the erasure ledger). The heads file is moved aside."""
    if not yes:
        raise click.UsageError("restoring replaces the store's contents: add --yes if that is what you want")
    settings = Settings.from_env()
    try:
        restore(settings.store, src)
        heads = settings.heads_path
        if heads.exists():
            # Heads published after the backup would report the restored store as truncated.
            aside = heads.with_name(f"{heads.name}.before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            heads.rename(aside)
            click.echo(f"moved the heads file aside to {aside}")
        init_store(settings)
    except (BackupError, KeyMismatch, LockBusy, NewerStore, LedgerError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"restored {src} into the {settings.store.kind} store; erasures since re-applied from "
               f"{settings.erasure_ledger_path}")
