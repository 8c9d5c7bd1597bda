"""`meterdesk import` and `meterdesk export` (click commands; Django is set up inside them)."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from meterdesk.cliutil import django_setup_migrated, output_open, period_option

if TYPE_CHECKING:
    from meterdesk.dataio.importer import ImportResult


class _Progress:
    """One line on standard error, rewritten in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, what: str, count: int, done: bool) -> None:
        text = "  " + what.format(n=f"{count:,}")
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done else ""))
            self.stream.flush()
        elif done:
            self.stream.write(text + "\n")


@click.command(
    name="import",
    help="Load a dataset (a directory or .zip of CSV files, see docs/import-format.md). Every file is "
    "checked first; if anything is wrong, every problem is listed and nothing is loaded.",
)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and load in a transaction that is then rolled back.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the problems to this CSV file (file;row;column;value;problem;code).",
)
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(100, 100_000))
def import_command(path: Path, dry_run: bool, report: Path | None, batch_size: int) -> None:
    django_setup_migrated()
    from meterdesk.dataio.importer import dataset_import
    from meterdesk.dataio.source import dataset_open

    err = sys.stderr
    # Opened first, so that a report that cannot be written stops the command before anything loads.
    out = output_open(report, "w", encoding="utf-8-sig", newline="") if report is not None else None
    click.echo(f"Importing {path}{' (dry run)' if dry_run else ''}", err=True)
    with dataset_open(path) as dataset:
        result = dataset_import(dataset, dry_run=dry_run, batch_size=batch_size, progress=_Progress(err))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if out is not None:
        with out:
            _write_report(out, result)
    if not result.ok:
        for problem in result.problems:
            click.echo(str(problem), err=True)
        by_file = Counter(p.file for p in result.problems)
        rows = len({(p.file, p.row) for p in result.problems})
        files = ", ".join(f"{name}: {n}" for name, n in sorted(by_file.items()))
        click.echo(
            f"{len(result.problems)} problem(s) in {rows} row(s) ({files}). Nothing was loaded.",
            err=True,
        )
        sys.exit(1)
    _print_summary(result)


def _write_report(out: TextIO, result: ImportResult) -> None:
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["file", "row", "column", "value", "problem", "code"])
    for p in result.problems:
        writer.writerow([p.file, p.row or "", p.field, p.shown_value, p.message, p.code])


def _print_summary(result: ImportResult) -> None:
    created = sum(r.created + r.updated for r in result.sections.values())
    if not created:
        click.echo("Nothing new: everything in the dataset is already stored.")
    verb = "Would load (dry run: nothing was kept)" if result.dry_run else "Loaded"
    click.echo(f"{verb}:")
    click.echo(f"  {'section':<14}{'created':>10}{'skipped':>10}")
    for section, res in result.sections.items():
        if section == "utility":
            click.echo(f"  {'utility':<14}{res.updated:>10} setting(s) changed")
            continue
        extra = ", ".join(f"{n} {what}" for what, n in res.extra.items())
        click.echo(f"  {section:<14}{res.created:>10}{res.skipped:>10}" + (f"   ({extra})" if extra else ""))
    if any(r.skipped for r in result.sections.values()):
        click.echo("Skipped: already stored with the same data (nothing was duplicated).")


@click.group(name="export", help="Export the charges of a closed month, or one account's statement.")
def export_group() -> None:
    pass


def _open_output(output: str, encoding: str, newline: str | None) -> TextIO:
    if output == "-":
        return sys.stdout
    return output_open(output, "w", encoding=encoding, newline=newline)


@export_group.command(
    name="charges",
    help="Every ledger line of a closed month: account, meter serial, kind, basis, zone, band, volume, "
    "price, amount, reason. CSV is ';'-separated UTF-8 with a header (and a byte-order mark when "
    "written to a file, for Excel); JSON is one array, JSONL one object per line.",
)
@click.option("--period", required=True, callback=period_option, help="The closed month, YYYY-MM.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="csv", show_default=True
)
@click.option("-o", "--output", default="-", show_default=True, help="File to write ('-': standard output).")
@click.option(
    "--decimal-comma", is_flag=True, help="CSV: write 12,34 instead of 12.34 (Russian-locale Excel)."
)
def export_charges(period: date, fmt: str, output: str, decimal_comma: bool) -> None:
    django_setup_migrated()
    from meterdesk.dataio.exporter import ExportError, charges_write, month_closed_check

    try:
        month_closed_check(period)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    to_file = output != "-"
    encoding = "utf-8-sig" if fmt == "csv" and to_file else "utf-8"
    out = _open_output(output, encoding, "" if fmt == "csv" else None)
    try:
        count = charges_write(period, out, fmt, decimal_comma=decimal_comma)
    finally:
        if to_file:
            out.close()
        else:
            out.flush()
    if to_file:
        click.echo(f"{count} ledger line(s) of {period:%Y-%m} written to {output}", err=True)


@export_group.command(name="statement", help="One account's monthly statement (a closed month).")
@click.option("--account", "number", required=True, help="The 10-digit account number.")
@click.option("--period", required=True, callback=period_option, help="The closed month, YYYY-MM.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", default="-", show_default=True, help="File to write ('-': standard output).")
def export_statement(number: str, period: date, fmt: str, output: str) -> None:
    if not re.fullmatch(r"\d{10}", number.strip()):
        raise click.BadParameter(
            f"an account number has exactly 10 digits; got {number!r}", param_hint="--account"
        )
    django_setup_migrated()
    from meterdesk.dataio.exporter import ExportError, statement_data, statement_text

    try:
        data = statement_data(number.strip(), period)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n" if fmt == "json" else statement_text(data)
    out = _open_output(output, "utf-8", None)
    try:
        out.write(text)
    finally:
        if output != "-":
            out.close()
