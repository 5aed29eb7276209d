"""`pilar import`, `pilar import-template` and `pilar export`: bringing a regency's existing lists
in, and its cases and aid out, through the same application service and rules as the API
(pilar/api/bulk/). Progress goes to stderr: updated in place on a terminal, a line every few seconds
otherwise (a log)."""

import getpass
import json
import sys
import time
from pathlib import Path

import click

from pilar.api.bulk import export as exporting
from pilar.api.bulk.importer import BadImport, prepare
from pilar.api.bulk.report import fixable
from pilar.api.bulk.sheets import FORMATS, write_csv, write_xlsx
from pilar.api.bulk.templates import KINDS
from pilar.bootstrap import Services
from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cli_users import run

PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal


def _actor(services: Services, username: str | None) -> Actor:
    """The active user `username`, as their token would make them; none named: the OS user, as a
    Dinas Sosial supervisor (whoever runs `pilar` on the server reads its keys and database anyway)."""
    if username is None:
        return Actor(f"os:{getpass.getuser()}", "supervisor", None, client="local")
    user = services.cases.user(username)
    if user is None or not user.active:
        raise click.BadParameter(f"no active user {username!r}", param_hint="--as")
    return user.actor()


class _Progress:
    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = self.last = time.monotonic()

    def __call__(self, counts: dict[str, int], done: bool) -> None:
        now = time.monotonic()
        if not self.tty and not done and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        rate = counts["rows_read"] / max(now - self.started, 1e-6)
        line = (f"{counts['rows_read']} rows: {counts['imported']} imported, {counts['matched']} matched, "
                f"{counts['already']} already imported, {counts['invalid']} invalid ({rate:.0f} rows/s)")
        click.echo(("\r" + line) if self.tty else line, err=True, nl=done or not self.tty)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="Which template the file follows.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--all-or-nothing", is_flag=True, help="Refuse the whole file (write nothing) if any row is bad.")
@click.option("--as", "username", default=None, help="Import as this user (a supervisor); default: the OS user.")
@click.option("--source", default=None, help="The list's name, part of each row's key (default: the file's name): "
                                             "importing the same source again writes nothing twice.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the bad rows with their problems, as a CSV to fix and import again "
                   "(default: FILE.report.csv, when a row is bad).")
def import_command(file: Path, kind: str, dry_run: bool, all_or_nothing: bool, username: str | None,
                   source: str | None, report_path: Path | None) -> None:
    """Import FILE (CSV or XLSX; the header is row 1) of beneficiaries, cases or aid already given."""
    def go(services: Services) -> dict:
        actor = _actor(services, username)
        try:
            prepared = prepare(kind, file, source or file.name)
        except BadImport as bad:
            raise click.ClickException(str(bad)) from None
        import_id = services.imports.start(actor, prepared, dry_run=dry_run, all_or_nothing=all_or_nothing)
        click.echo(f"import {import_id}: {kind} from {prepared.source}{' (dry run)' if dry_run else ''}", err=True)
        report = services.imports.run(import_id, actor, prepared, dry_run=dry_run, all_or_nothing=all_or_nothing,
                                      progress=_Progress())
        if report["counts"]["invalid"]:
            target = report_path or file.with_name(file.name + ".report.csv")
            header, rows = fixable(prepared, report)
            with open(target, "w", encoding="utf-8", newline="") as out:
                out.writelines(write_csv(header, rows))
            click.echo(f"bad rows, with their problems, written to {target}", err=True)
        return report

    report = run(go)
    click.echo(json.dumps(report, indent=1))
    if report["status"] == "refused" or report["counts"]["invalid"]:
        sys.exit(1)


@click.command("import-template")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def template_command(kind: str, fmt: str, output: Path) -> None:
    """Write the empty template of KIND (its header row) to a file."""
    header = KINDS[kind].header
    if fmt == "csv":
        output.write_text("".join(write_csv(header, [])), encoding="utf-8")
    else:
        with open(output, "wb") as out:
            write_xlsx(header, [], out, text_columns=exporting.TEXT_COLUMNS)
    click.echo(f"{kind} template written to {output}")


@click.command("export")
@click.option("--pillar", required=True, help="The pillar whose cases and aid to export.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--as", "username", required=True, help="Export as this user: their scope and masking apply.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_command(pillar: str, fmt: str, username: str, output: Path) -> None:
    """Export a pillar's cases and their aid in the import templates' columns (masked without `pii`)."""
    def go(services: Services) -> int:
        actor = _actor(services, username)
        policy.require(policy.read_pillar(actor, pillar))
        header, rows = exporting.case_rows(services, actor, pillar)
        counted = exporting.Counted(rows)
        if fmt == "csv":
            with open(output, "w", encoding="utf-8", newline="") as out:
                out.writelines(write_csv(header, counted))
        else:
            with open(output, "wb") as out:
                write_xlsx(header, counted, out, text_columns=exporting.TEXT_COLUMNS)
        return counted.count

    count = run(go)
    click.echo(f"{count} rows written to {output}")
