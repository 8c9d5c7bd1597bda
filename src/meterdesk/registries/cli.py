"""`meterdesk payments import-registry | registry-formats | unmatched | resolve` (docs/registries.md).

The commands register on ``payments_group``; Django is set up inside them. Output is English."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from django.utils import translation

from meterdesk.cliutil import django_setup_migrated, money, output_open, staff_get
from meterdesk.payments.cli import payments_group

if TYPE_CHECKING:
    from meterdesk.registries.services import LoadResult


def _english() -> translation.override:
    return translation.override("en")


@payments_group.command(
    name="import-registry",
    help="Load a bank's registry of payments (FILE) in the given layout (--format). The whole file is "
    "checked first; if anything is wrong, every problem is listed with its line and nothing is loaded. "
    "A file, and a payment, is loaded once.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "layout_name",
    required=True,
    help="The layout of the file, e.g. sberbank (see `meterdesk payments registry-formats`).",
)
@click.option("--dry-run", is_flag=True, help="Check and match, report, and keep nothing.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the problems to this CSV file (file;line;field;value;problem).",
)
@click.option("--by", "by_email", help="The e-mail of the member of staff loading it (recorded).")
def import_registry(
    file: Path, layout_name: str, dry_run: bool, report: Path | None, by_email: str | None
) -> None:
    django_setup_migrated()
    from meterdesk.registries.layouts import LayoutError, layout_get

    # Opened first, so that a report that cannot be written stops the command before anything loads.
    out = output_open(report, "w", encoding="utf-8-sig", newline="") if report is not None else None
    from meterdesk.registries.services import registry_load

    with _english():
        try:
            layout = layout_get(layout_name)
        except LayoutError as exc:
            raise click.ClickException(str(exc)) from exc
        user = staff_get(by_email)
        click.echo(f"Loading {file.name} as {layout.name}{' (dry run)' if dry_run else ''}", err=True)
        result = registry_load(
            data=file.read_bytes(), name=file.name, layout=layout, dry_run=dry_run, user=user
        )
    if out is not None:
        with out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(["file", "line", "field", "value", "problem"])
            for p in result.problems:
                writer.writerow([p.file, p.row or "", p.field, p.value or "", p.message])
    if not result.ok:
        for problem in result.problems:
            click.echo(str(problem), err=True)
        lines = len({p.row for p in result.problems if p.row is not None})
        click.echo(
            f"{len(result.problems)} problem(s)"
            + (f" in {lines} line(s)" if lines else "")
            + ". Nothing was loaded.",
            err=True,
        )
        sys.exit(1)
    _print_summary(result)


def _print_summary(result: LoadResult) -> None:
    from meterdesk.registries.models import UnmatchedReason

    s = result.summary
    if s is None:  # pragma: no cover - a good result always has a summary
        raise click.ClickException("nothing to summarise")
    if result.dry_run:
        click.echo("Dry run: the file is good; nothing was kept. It would load:")
    elif result.registry is not None:
        click.echo(f"Loaded as registry #{result.registry.pk}:")
    click.echo(f"  rows            {s.rows:>8}   {money(s.amount):>18}")
    click.echo(f"  matched         {s.matched:>8}   {money(s.matched_amount):>18}")
    click.echo(f"  unmatched       {s.unmatched:>8}   {money(s.unmatched_amount):>18}")
    if s.duplicate:
        click.echo(f"  already loaded  {s.duplicate:>8}   {money(s.duplicate_amount):>18}")
    click.echo(f"  bank commission {'':>8}   {money(s.commission):>18}")
    with _english():
        for reason, count in sorted(s.by_reason.items()):
            click.echo(f"    {UnmatchedReason(reason).label}: {count}")
    for line, where in result.duplicates:
        click.echo(f"  line {line}: already loaded ({where}); not counted again")
    if s.unmatched and not result.dry_run:
        click.echo("The unmatched rows wait for staff: `meterdesk payments unmatched`.")


@payments_group.command(name="registry-formats", help="List the registry layouts (--format) known.")
def registry_formats() -> None:
    django_setup_migrated()
    from meterdesk.registries.layouts import LayoutError, layouts_available

    try:
        layouts = layouts_available()
    except LayoutError as exc:
        raise click.ClickException(str(exc)) from exc
    for layout in layouts.values():
        click.echo(f"{layout.name:<20} {layout.encoding:<8} {layout.title}")
        click.echo(f"{'':<20} {layout.source}")


@payments_group.command(name="unmatched", help="List the registry rows waiting for an account.")
@click.option("--registry", "registry_id", type=int, help="Only the rows of this registry (its #).")
def unmatched(registry_id: int | None) -> None:
    django_setup_migrated()
    from meterdesk.registries.selectors import unmatched_rows

    rows = list(unmatched_rows(registry=registry_id))
    if not rows:
        click.echo("No unmatched rows.")
        return
    click.echo(
        f"{'row':>7}  {'registry':<24} {'line':>5}  {'paid on':<10}  {'account':<12} {'amount':>14}  why, payer"
    )
    with _english():
        for row in rows:
            click.echo(
                f"{row.pk:>7}  {('#' + str(row.registry_id) + ' ' + row.registry.name)[:24]:<24} {row.line:>5}  "
                f"{row.paid_on:%d.%m.%Y}  {row.account_number[:12]:<12} {money(row.amount):>14}  "
                f"{row.get_reason_display()}, {row.payer}"
            )
    total = sum(r.amount for r in rows)
    click.echo(f"{len(rows)} row(s), {money(total)}. Resolve one: meterdesk payments resolve ROW --account N")


@payments_group.command(
    name="resolve",
    help="Resolve an unmatched registry row: post its payment to an account (--account), or return it "
    "to the bank (--reject REASON).",
)
@click.argument("row_id", metavar="ROW", type=int)
@click.option("--account", "number", help="The 10-digit account number to credit.")
@click.option(
    "--reject", "reason", help="Reject the row (the money goes back to the bank), with this reason."
)
@click.option("--note", default="", help="A note kept with the assignment.")
@click.option("--by", "by_email", help="The e-mail of the member of staff resolving it (recorded).")
def resolve(row_id: int, number: str | None, reason: str | None, note: str, by_email: str | None) -> None:
    if (number is None) == (reason is None):
        raise click.UsageError("give either --account N or --reject REASON")
    django_setup_migrated()
    from meterdesk.customers.models import Account
    from meterdesk.registries.selectors import row_get
    from meterdesk.registries.services import RowResolveError, row_assign, row_reject

    with _english():
        row = row_get(row_id)
        if row is None:
            raise click.ClickException(f"no registry row {row_id}")
        user = staff_get(by_email)
        try:
            if number is not None:
                account = Account.objects.filter(number=number.strip()).first()
                if account is None:
                    raise click.ClickException(f"no account {number}")
                entry = row_assign(row=row, account=account, user=user, note=note)
                click.echo(
                    f"Row {row.pk} (line {row.line} of registry #{row.registry_id}): {money(row.amount)} "
                    f"posted to account {account.number} on {entry.posted_on:%d.%m.%Y} (ledger entry {entry.pk})."
                )
                if account.closed_on is not None:
                    click.echo(f"Note: account {account.number} was closed on {account.closed_on:%d.%m.%Y}.")
            elif reason is not None:
                row_reject(row=row, reason=reason, user=user)
                click.echo(
                    f"Row {row.pk} (line {row.line} of registry #{row.registry_id}) rejected: "
                    f"{money(row.amount)} to be returned to the bank."
                )
        except RowResolveError as exc:
            raise click.ClickException(str(exc)) from exc
