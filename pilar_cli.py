"""The `pilar` command: set up the store, manage users, load a demo regency."""

import secrets
import sys

import click

from cases.access import SYSTEM
from cases.errors import PilarError
from cases import vocab
from cases.settings import Settings, build_application, init_store
from projections.maintenance import LeaderBusy, check, init_views, rebuild


@click.group()
def main() -> None:
    """Pilar: case management for the social pillars of a regency."""


@main.group()
def db() -> None:
    """The event store."""


@db.command("init")
def db_init() -> None:
    """Create every table (once, before starting any server or worker)."""
    settings = Settings.from_env()
    init_store(settings)
    init_views(settings)
    click.echo(f"store ready: {settings.store.kind} ({_safe_url(settings.store.url)})")


@main.group()
def users() -> None:
    """User accounts."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(vocab.ROLES))
@click.option("--pillar", type=click.Choice(vocab.PILLARS), help="Required for workers; omit for all pillars.")
def users_add(name: str, role: str, pillar: str | None) -> None:
    """Add a user; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    app = build_application(Settings.from_env())
    try:
        app.add_user(SYSTEM, name, role, pillar, password)
    except PilarError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"added {role} {name}" + (f" ({pillar})" if pillar else " (all pillars)"))


@users.command("ensure-admin")
def users_ensure_admin() -> None:
    """On an empty store, create `admin` and print its password once."""
    app = build_application(Settings.from_env())
    if app.has_users():
        return
    password = secrets.token_urlsafe(12)
    app.add_user(SYSTEM, "admin", "admin", None, password)
    click.echo("=" * 64)
    click.echo(f"  Created user 'admin' with one-time password:  {password}")
    click.echo("  It is not stored anywhere in clear: note it now.")
    click.echo("=" * 64)


@main.command()
@click.option("--seed", default=2024, show_default=True, help="Makes the demo reproducible.")
@click.option("--people", default=40, show_default=True, help="How many beneficiaries to register.")
def demo(seed: int, people: int) -> None:
    """Load a small demo regency: a user per role and pillar, a few dozen cases."""
    from cases.demo import load_demo

    app = build_application(Settings.from_env())
    try:
        summary = load_demo(app, seed=seed, people=people)
    except PilarError as e:
        raise click.ClickException(str(e)) from None
    for line in summary:
        click.echo(line)


@main.command()
@click.option("--batch-size", default=2000, show_default=True)
@click.option("--poll-interval", default=0.5, show_default=True, help="Seconds between polls when idle.")
@click.option("--exit-with-parent", is_flag=True, help="Stop when the process that started this one dies.")
def project(batch_size: int, poll_interval: float, exit_with_parent: bool) -> None:
    """Keep the workload views current (one active process per database; others wait)."""
    from projections.runner import run_process

    run_process(Settings.from_env(), batch_size=batch_size, poll_interval=poll_interval,
                exit_with_parent=exit_with_parent)


@main.group()
def projections() -> None:
    """The workload views."""


@projections.command("rebuild")
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for the projection lock.")
def projections_rebuild(wait: float) -> None:
    """Rebuild every view from event zero (stop `pilar project` first)."""
    try:
        position = rebuild(Settings.from_env(), wait_seconds=wait)
    except LeaderBusy as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"views rebuilt up to position {position}")


@projections.command("check")
@click.option("--show", default=10, show_default=True, help="Differing rows to print per table.")
def projections_check(show: int) -> None:
    """Rebuild into scratch tables and print every difference from the live views (exit 1 if any)."""
    position, differences = check(Settings.from_env())
    if not differences:
        click.echo(f"views match a rebuild up to position {position}")
        return
    for difference in differences:
        click.echo(f"{difference.table}: {len(difference.only_live)} row(s) only in the live view, "
                   f"{len(difference.only_rebuilt)} only in the rebuild")
        for row in difference.only_live[:show]:
            click.echo(f"  live:    {row}")
        for row in difference.only_rebuilt[:show]:
            click.echo(f"  rebuilt: {row}")
    sys.exit(1)


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


if __name__ == "__main__":
    main()
