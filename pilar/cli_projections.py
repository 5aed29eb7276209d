"""`pilar projections …`: the views: rebuild, check, status, and a damaged event's repair from a
backup or quarantine (docs/operations.md, "When an event is damaged")."""

import getpass
import sys

import click

from pilar.cases.errors import PilarError
from pilar.projections.damage import quarantine_event, repair_event, status
from pilar.projections.maintenance import LeaderBusy, NotQuarantined, check_with_damage, rebuild
from pilar.settings import Settings


@click.group()
def projections() -> None:
    """The workload views."""


@projections.command("rebuild")
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for the projection lock.")
def projections_rebuild(wait: float) -> None:
    """Rebuild every view from event zero (stop `pilar project` first); refused while a damaged event is
    not quarantined."""
    try:
        position = rebuild(Settings.from_env(), wait_seconds=wait)
    except NotQuarantined as e:
        for damage in e.damaged:
            click.echo(f"DAMAGED: {damage}", err=True)
        raise click.ClickException(f"rebuild refused: {len(e.damaged)} damaged event(s) not quarantined; the views "
                                   "are unchanged (pilar projections quarantine POSITION --reason ...)") from None
    except LeaderBusy as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"views rebuilt up to position {position}")


@projections.command("check")
@click.option("--show", default=10, show_default=True, help="Differing rows to print per table.")
def projections_check(show: int) -> None:
    """Rebuild into scratch tables and print every difference from the live views, and every damaged
    event of the store (exit 1 if any of either)."""
    position, differences, damaged = check_with_damage(Settings.from_env())
    for damage in damaged:
        click.echo(f"DAMAGED: {damage}")
    if not differences and not damaged:
        click.echo(f"views match a rebuild up to position {position}")
        return
    for difference in differences:
        click.echo(f"{difference.table}: {len(difference.only_live)} row(s) only in the live view, "
                   f"{len(difference.only_rebuilt)} only in the rebuild")
        for row in difference.only_live[:show]:
            click.echo(f"  live:    {row}")
        for row in difference.only_rebuilt[:show]:
            click.echo(f"  rebuilt: {row}")
    if not differences:
        click.echo(f"views match a rebuild up to position {position}, which leaves out the damaged event(s)")
    sys.exit(1)


@projections.command("status")
def projections_status() -> None:
    """Where the views stand, and every damaged event found (exit 1 if the views stopped at one)."""
    found = status(Settings.from_env())
    click.echo("\n".join(found.lines()))
    if found.stopped_at is not None:
        sys.exit(1)


@projections.command("quarantine")
@click.argument("position", type=int)
@click.option("--reason", required=True, help="Why (a ticket, what was tried): kept and shown by status and verify.")
def projections_quarantine(position: int, reason: str) -> None:
    """Let the views go on without the damaged event at POSITION. The event stays in the store and verify
    keeps reporting it; an event that reads is refused."""
    try:
        damage = quarantine_event(Settings.from_env(), position, reason=reason, by=f"os:{getpass.getuser()}")
    except PilarError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"quarantined: {damage.describe()}")
    click.echo("the projection process goes on within a few seconds; verify still reports this event")


@projections.command("repair")
@click.argument("position", type=int)
@click.option("--from", "backup_url", required=True, metavar="BACKUP_URL",
              help="A restored backup of this store (sqlite:///path or postgresql://…?schema=…), holding the event.")
def projections_repair(position: int, backup_url: str) -> None:
    """Put back the damaged event at POSITION as the backup holds it, if its MAC holds, it reads and it is the
    event sealed there. The projection process then goes on by itself."""
    try:
        damage = repair_event(Settings.from_env(), position, backup_url=backup_url, by=f"os:{getpass.getuser()}")
    except PilarError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"repaired: {damage.describe()}")
