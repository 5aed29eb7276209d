"""`pilar desil import FILE --period P --as USER [--dry-run]`: a DTSEN period's desil extract
(CSV: nik, kk, desil) recorded on the beneficiaries through the same service as the API's
POST /desil/imports, as a named Dinas Sosial account (whose name the events carry). Prints the
report as JSON: bad rows (row as the spreadsheet numbers it, field, message) and the counts."""

import json
from pathlib import Path

import click

from pilar.bootstrap import Services
from pilar.cases.errors import InvalidInput
from pilar.cli_users import run


@click.group()
def desil() -> None:
    """DTSEN desil (welfare decile) per period."""


@desil.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--period", required=True, help="The extract's DTSEN period, a quarter like 2026Q3.")
@click.option("--as", "username", required=True, help="The Dinas Sosial coordinator recording it.")
@click.option("--dry-run", is_flag=True, help="Check every row and count what would change; record nothing.")
def import_command(file: Path, period: str, username: str, dry_run: bool) -> None:
    """Record each row's desil on the person (NIK) or every registered member of the household (KK)."""
    def command(services: Services) -> dict:
        user = services.cases.user(username)
        if user is None or not user.active:
            raise click.BadParameter(f"no active user {username!r}", param_hint="--as")
        actor = user.actor()
        with file.open(encoding="utf-8-sig", newline="") as lines:
            return services.households.import_desil(actor, lines, period=period, dry_run=dry_run,
                                                    source=f"DTSEN {period} ({file.name})")

    try:
        report = run(command)
    except InvalidInput as e:  # a PilarError, but its fields say more than its text
        raise click.ClickException(json.dumps(e.errors)) from None
    click.echo(json.dumps(report, indent=2))
    if report["problems"]:
        raise SystemExit(1)
