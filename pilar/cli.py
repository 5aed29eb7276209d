"""The `pilar` command: set up the store, manage users, load a demo regency."""

import atexit
import gc
import sys

import click

from pilar.bootstrap import Services, check_audit_key, init_store
from pilar.cases import policy, vocab
from pilar.cases.access import Actor
from pilar.cli_backup import backup_command, restore_command
from pilar.cli_desil import desil
from pilar.cli_import import export_command, import_command, template_command
from pilar.cli_projections import projections
from pilar.cli_users import run as _run
from pilar.cli_users import users
from pilar.log_format import configure as configure_logging
from pilar.store.connection import LockBusy, WrongEncoding
from pilar.store.key_checks import KeyMismatch
from pilar.store.erasure_ledger import LedgerError
from pilar.store.migrations import NewerStore
from pilar.settings import Settings


# A command's last act: the interpreter's final garbage collections would walk every object it
# made (0.3 CPU-s) to free memory the exit frees anyway; frozen objects are left out of them.
atexit.register(gc.freeze)


@click.group()
def main() -> None:
    """Pilar: case management for the social pillars of a regency."""
    try:
        settings = Settings.from_env()  # a setting it cannot read stops every command at once, with its message
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    configure_logging(settings.log_format)


@main.group()
def db() -> None:
    """The event store."""


@db.command("init")
def db_init() -> None:
    """Create every table (once, before starting any server or worker; safe to run several at once)."""
    settings = Settings.from_env()
    try:
        init_store(settings)
    except (KeyMismatch, LockBusy, NewerStore, LedgerError, WrongEncoding) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"store ready: {settings.store.kind} ({_safe_url(settings.store.url)})")


main.add_command(users)
main.add_command(desil)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(import_command)
main.add_command(template_command)
main.add_command(export_command)


@main.group()
def keys() -> None:
    """Key-encryption keys (KEKs), which wrap every person's key and never enter the database."""


@keys.command("status")
def keys_status() -> None:
    """How many live data keys (of people, cases, NIK holdings) each KEK wraps; the current KEK first."""
    def run(services: Services) -> None:
        ring = services.cases.personal_keys.keks
        counts = services.cases.personal_keys.by_kek()
        for kek_id in ring.ids():
            click.echo(f"{kek_id}{' (current)' if kek_id == ring.current_id else ''}: {counts.pop(kek_id, 0)} keys")
        for kek_id, count in counts.items():
            click.echo(f"{kek_id or '(not wrapped)'}: {count} keys" + ("" if kek_id is None else " (KEK not configured!)"))

    _run(run)


_WAIT = click.option("--wait", default=30.0, show_default=True,
                     help="Seconds to wait for another `pilar keys rotate` or `retire` on this store to finish.")


@keys.command("rotate")
@click.option("--grace", default=2.0, show_default=True,
              help="Seconds for running servers to notice a new key file before keys are re-wrapped.")
@_WAIT
def keys_rotate(grace: float, wait: float = 30.0) -> None:
    """Wrap every live data key under a new KEK, online. With a key file, a new KEK is made and
    put first; with PILAR_KEK, put the new entry first yourself. Then `pilar keys retire`."""
    from pilar.store.personal_keys import rotate

    moved = _run(lambda services: rotate(services.cases.personal_keys, services.settings.kek_source(),
                                         grace=grace, wait=wait))
    click.echo(f"re-wrapped {moved} data keys under the current KEK; now `pilar keys retire` destroys the old ones")


@keys.command("retire")
@click.option("--grace", default=0.0, hidden=True, help="No longer needed; accepted so that scripts still run.")
@_WAIT
def keys_retire(grace: float = 0.0, wait: float = 30.0) -> None:
    """Destroy every KEK but the current one, once no live key needs it: old backups of the
    database then decrypt nothing, erased persons' keys included."""
    from pilar.store.personal_keys import retire

    for line in _run(lambda services: retire(services.cases.personal_keys, services.settings.kek_source(), wait=wait)):
        click.echo(line)


@main.command()
@click.option("--seed", default=2024, show_default=True, help="Makes the demo reproducible.")
@click.option("--people", default=40, show_default=True, help="How many beneficiaries to register.")
def demo(seed: int, people: int) -> None:
    """Load a small demo regency: a user per role and pillar, a few dozen cases."""
    from pilar.demo import load_demo

    summary = _run(lambda services: load_demo(services.cases, seed=seed, people=people))
    for line in summary:
        click.echo(line)


@main.command()
@click.option("--batch-size", default=2000, show_default=True)
@click.option("--poll-interval", default=0.5, show_default=True, help="Seconds between polls when idle.")
@click.option("--gather", default=0.05, show_default=True,
              help="Seconds to gather further events before a step, after a PostgreSQL notification "
                   "or a step that found new events.")
@click.option("--exit-with-parent", is_flag=True, help="Stop when the process that started this one dies.")
def project(batch_size: int, poll_interval: float, gather: float, exit_with_parent: bool) -> None:
    """Keep the workload views current (one active process per database; others wait)."""
    from pilar.projections.runner import run_process

    run_process(Settings.from_env(), batch_size=batch_size, poll_interval=poll_interval, gather=gather,
                exit_with_parent=exit_with_parent)


main.add_command(projections)


@main.group()
def audit() -> None:
    """Auditors: verify the history, export it, see the views as they were."""


def _cli_auditor() -> Actor:
    """The OS user, as an auditor without the pii permission: what it exports is masked."""
    import getpass

    return Actor(f"cli:{getpass.getuser()}", "auditor", None, pii=False)


def _auditor_account(services: Services, username: str | None) -> Actor:
    """The active auditor `username`, as their token would make them (their pii permission
    included); none named: the OS user (_cli_auditor)."""
    if username is None:
        return _cli_auditor()
    user = services.cases.user(username)
    if user is None or not user.active:
        raise click.BadParameter(f"no active user {username!r}", param_hint="--user")
    actor = user.actor()
    policy.require(policy.audit(actor))
    return actor


@audit.command("verify")
@click.option("--against", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A copy of the heads file (e.g. one an auditor kept) to check the store against, instead of "
                   "the configured one (PILAR_HEADS_FILE, instance/audit_heads).")
def audit_verify(against: str | None) -> None:
    """Check every event and access-log entry against its seal and the published head; exit 1 on a break."""
    from pathlib import Path

    from pilar.audit.seals import verify
    from pilar.cli_progress import Progress

    progress = Progress("verify")

    def run(services: Services):
        with services.readers.connection() as conn:
            check_audit_key(services.settings, conn)
            heads = Path(against) if against else services.settings.heads_path
            return verify(services.cases.recorder, conn, services.settings.audit_key(), heads=heads,
                          progress=progress)

    result = _run(run)
    progress.finish()
    click.echo("\n".join(result.summary()))
    if not result.ok:
        click.echo("\n".join(result.break_lines()), err=True)
        sys.exit(1)
    click.echo("ok: the history is intact")


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--from", "start", default=None, help="A position (exclusive) or an ISO 8601 instant.")
@click.option("--to", "end", default=None, help="A position (inclusive) or an ISO 8601 instant.")
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="A new file, readable by its owner only (it holds personal data); - for standard output.")
@click.option("--user", "username", default=None,
              help="Export for this auditor: NIK and KK in clear, phone and address shown, only if their account "
                   "has the pii permission. Without it they are masked.")
def audit_export(fmt: str, start: str | None, end: str | None, output: str, username: str | None) -> None:
    """Stream events in position order without loading them all into memory."""
    import contextlib
    import os

    from pilar.audit.export import entries, write

    bounds = {**_bound("from", start), **_bound("to", end)}
    if output == "-":
        opened = contextlib.nullcontext(click.get_text_stream("stdout"))
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as e:
            raise click.BadParameter(str(e), param_hint="--output") from None
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        opened = open(fd, "w", encoding="utf-8", newline="")

    from pilar.cli_progress import Progress

    progress = Progress("export")

    def run(services: Services) -> int:
        actor = _auditor_account(services, username)
        first = bounds.get("from_position", 0)
        last = bounds.get("to_position") or services.cases.recorder.max_notification_id() or 0

        def counted(items):
            for item in items:
                progress(item["position"] - first, max(last - first, item["position"] - first))
                yield item

        with services.readers.connection() as conn, opened as out:
            count = write(counted(entries(services.cases, conn, **bounds, in_clear=policy.feed_in_clear(actor))),
                          out, fmt)
        progress.finish()
        services.cases.access_log.record(actor, "export",
                                         detail=f"format={fmt} from={start} to={end} events={count}")
        return count

    count = _run(run)
    click.echo(f"exported {count} events", err=True)


def _bound(which: str, value: str | None) -> dict:
    from datetime import datetime

    if value is None:
        return {}
    if value.isdigit():
        return {"from_position" if which == "from" else "to_position": int(value)}
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("a position or an ISO 8601 instant", param_hint=f"--{which}") from None
    if instant.tzinfo is None:
        raise click.BadParameter("the instant needs a UTC offset, e.g. +07:00", param_hint=f"--{which}")
    return {"since" if which == "from" else "until": instant}


@audit.command("views")
@click.option("--as-of", "as_of", required=True, help="An ISO 8601 instant, e.g. 2026-09-30T23:59:59+07:00")
def audit_views(as_of: str) -> None:
    """Print every pillar's workload view as it was at an instant (the live views are not touched)."""
    import json

    moment = _bound("to", as_of).get("until")
    if moment is None:
        raise click.BadParameter("an ISO 8601 instant", param_hint="--as-of")
    views = _run(lambda services: services.views.as_of(_cli_auditor(), moment))
    click.echo(json.dumps(views, indent=2, ensure_ascii=False))


@main.group("limits")
def limits_group() -> None:
    """Rate limits on failed sign-ins and NIK look-ups (docs/operations.md)."""


@limits_group.command("reset")
@click.option("--user", "username", help="a username: its failed sign-ins and its look-ups")
@click.option("--address", help="a client address, as the server sees it (behind PILAR_TRUSTED_PROXIES)")
@click.option("--all", "everything", is_flag=True, help="every counter")
def limits_reset(username: str | None, address: str | None, everything: bool) -> None:
    """Forget counters, so that a user or an address locked out may try again at once."""
    from pilar.api.limits import reset_counters

    if not (username or address or everything):
        raise click.UsageError("name --user, --address or --all")
    try:
        cleared = reset_counters(Settings.from_env(), username=None if everything else username,
                                 address=None if everything else address)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"cleared {cleared} rate-limit counter(s)")


@main.group()
def privacy() -> None:
    """Personal data duties under UU PDP."""


@privacy.command("requests")
@click.option("--status", type=click.Choice(vocab.PRIVACY_REQUEST_STATUSES), default=None,
              help="Only these (default: every request).")
@click.option("--overdue", is_flag=True, help="Only open requests past their deadline.")
@click.option("--limit", default=500, show_default=True)
def privacy_requests(status: str | None, overdue: bool, limit: int) -> None:
    """Consent withdrawals and erasure requests against their 3×24 h deadline, overdue first (exit 1 if any is
    overdue). From the views: as current as `pilar project` keeps them. Shows people's ids, never their names."""
    answer = _run(lambda services: services.views.privacy_requests(
        _cli_auditor(), status=status, overdue=True if overdue else None, per_page=limit))
    click.echo(f"{answer['total']} request(s) at {answer['now']:%Y-%m-%d %H:%M} UTC (views at position "
               f"{answer['position']}, {answer['lag']} behind)")
    for item in answer["items"]:
        state = "OVERDUE" if item["overdue"] else item["status"]
        click.echo(f"{item['deadline']:%Y-%m-%d %H:%M}  {state:<15} {item['kind']:<18} {item['beneficiary_id']}  "
                   f"requested {item['requested_at']:%Y-%m-%d %H:%M} by {item['requested_by']}")
    if any(item["overdue"] for item in answer["items"]):
        sys.exit(1)


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


if __name__ == "__main__":
    main()
