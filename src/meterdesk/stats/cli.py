"""`meterdesk stats --from --to`: the figures of a period, as text, JSON or CSV files."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import click

from meterdesk.cliutil import django_setup_migrated


def _day(_ctx: object, _param: object, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"a day as YYYY-MM-DD, e.g. 2026-12-01; got {value!r}") from None


@click.command(
    name="stats",
    help="The figures of a period: readings by channel and day, billing, payments, support, phone, mail, terminals.",
)
@click.option(
    "--from", "first", required=True, callback=_day, help="The first day, YYYY-MM-DD (the utility's)."
)
@click.option("--to", "last", required=True, callback=_day, help="The last day, YYYY-MM-DD, inclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (readings_by_channel: channel → count, …).")
@click.option(
    "--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path), help="Write each table here."
)
def stats_command(first: date, last: date, as_json: bool, csv_dir: Path | None) -> None:
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    django_setup_migrated()
    from meterdesk.stats.figures import figures_of, tables

    figures = figures_of(first, last)
    if csv_dir is not None:
        csv_dir.mkdir(parents=True, exist_ok=True)
        for name, (header, rows) in tables(figures).items():
            with (csv_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(header)
                writer.writerows(rows)
    if as_json:
        click.echo(json.dumps(figures.as_json(), ensure_ascii=False, indent=1))
        return
    click.echo(f"{first} – {last}")
    click.echo("Readings by channel:")
    for channel, n in sorted(figures.readings_by_channel.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {channel:<10} {n:>10}")
    share = figures.inside_window_share
    click.echo(
        f"Customers' readings: {figures.customer_readings}, inside the window: {figures.inside_window}"
        + (f" ({share:.1%})" if share is not None else "")
    )
    for month, row in sorted(figures.billed_by_basis.items()):
        click.echo(f"Billed {month}: " + ", ".join(f"{b} {n}" for b, n in sorted(row.items())))
    click.echo(f"True-ups: {figures.true_ups} ({figures.true_ups_amount:.2f})")
    for way, row in sorted(figures.payments_by_way.items()):
        click.echo(f"Payments {way}: {row['count']} ({row['amount']:.2f})")
    if figures.support:
        click.echo("Support: " + ", ".join(f"{k} {v}" for k, v in figures.support.items()))
        click.echo(
            "Support open now by age: " + ", ".join(f"{k} {v}" for k, v in figures.support_ages.items())
        )
    if figures.phone:
        click.echo("Phone line: " + ", ".join(f"{k} {v}" for k, v in figures.phone.items()))
    if figures.letters:
        click.echo("Letters: " + ", ".join(f"{k} {v}" for k, v in figures.letters.items()))
    if figures.terminal:
        click.echo("Terminals: " + ", ".join(f"{k} {v}" for k, v in figures.terminal.items()))
    if csv_dir is not None:
        click.echo(f"CSV files: {csv_dir}")
