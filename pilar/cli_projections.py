"""`pilar projections …`: the views: rebuild, check, status, and a damaged event's repair from a
backup or quarantine (docs/operations.md, "When an event is damaged")."""

import getpass
import sys

import click

from pilar.cases.errors import PilarError
from pilar.cli_progress import Progress
from pilar.projections.damage import quarantine_event, repair_event, status
from pilar.projections.maintenance import NotQuarantined, check_with_damage, rebuild
from pilar.projections.pace import PAUSE_RATIO
from pilar.settings import Settings
from pilar.store.connection import LockBusy


@click.group()
def projections() -> None:
    """The workload views."""


PAUSE = click.option("--pause", "pause_ratio", default=PAUSE_RATIO, show_default=True, type=click.FloatRange(min=0),
                     help="After each page of events, pause this many times as long as the page took, so that the "
                          "servers keep their share of the cores (0: as fast as it can, for a quiet hour).")


@projections.command("rebuild")
@click.option("--wait", default=10.0, show_default=True,
              help="Seconds to wait for another rebuild or check of this store to finish.")
@PAUSE
def projections_rebuild(wait: float, pause_ratio: float) -> None:
    """Rebuild every view from event zero into scratch tables while servers and `pilar project` keep
    running, then swap them in; refused while a damaged event is not quarantined."""
    progress, timings = Progress("rebuild"), {}
    try:
        position = rebuild(Settings.from_env(), wait_seconds=wait, progress=progress, timings=timings,
                           pause_ratio=pause_ratio)
    except NotQuarantined as e:
        for damage in e.damaged:
            click.echo(f"DAMAGED: {damage}", err=True)
        raise click.ClickException(f"rebuild refused: {len(e.damaged)} damaged event(s) not quarantined; the views "
                                   "are unchanged (pilar projections quarantine POSITION --reason ...)") from None
    except LockBusy as e:
        raise click.ClickException(str(e)) from None
    progress.finish()
    click.echo(f"views rebuilt up to position {position}; the swap held them for "
               f"{1000 * timings['swap_seconds']:.0f} ms")


@projections.command("check")
@click.option("--show", default=10, show_default=True, help="Differing rows to print per table.")
@click.option("--wait", default=10.0, show_default=True,
              help="Seconds to wait for another rebuild or check of this store to finish.")
@PAUSE
def projections_check(show: int, wait: float, pause_ratio: float) -> None:
    """Rebuild into scratch tables and print every difference from the live views, and every damaged
    event of the store (exit 1 if any of either). The live views are only read."""
    scanning, replaying = Progress("check: reading every event"), Progress("check: rebuilding into scratch tables")
    try:
        position, differences, damaged = check_with_damage(Settings.from_env(), wait_seconds=wait,
                                                           progress=replaying, scanning=scanning,
                                                           pause_ratio=pause_ratio)
    except LockBusy as e:
        raise click.ClickException(str(e)) from None
    scanning.finish()
    replaying.finish()
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
