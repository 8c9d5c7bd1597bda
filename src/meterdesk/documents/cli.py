"""`meterdesk export bill` (one account's bill of a closed month as a PDF) and
`meterdesk documents send-bills` (the e-bills of a closed month)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import click

from meterdesk.cliutil import django_setup_migrated, money, output_open, period_option
from meterdesk.dataio.cli import export_group


@export_group.command(
    name="bill", help="One account's monthly bill (ЕПД) of a closed month as a PDF, with the payment QR code."
)
@click.option("--account", "number", required=True, help="The 10-digit account number.")
@click.option("--period", required=True, callback=period_option, help="The closed month, YYYY-MM.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PDF file to write.",
)
def export_bill(number: str, period: date, output: Path) -> None:
    number = number.strip()
    if not re.fullmatch(r"\d{10}", number):
        raise click.BadParameter(
            f"an account number has exactly 10 digits; got {number!r}", param_hint="--account"
        )
    django_setup_migrated()
    from meterdesk.dataio.exporter import ExportError, month_closed_check
    from meterdesk.documents.render import bill_pdf
    from meterdesk.documents.selectors import account_by_number, bill_data

    account = account_by_number(number)
    if account is None:
        raise click.ClickException(f"there is no account {number}")
    try:
        month_closed_check(period)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    data = bill_data(account, period)
    if data is None:
        raise click.ClickException(
            f"account {number} has no statement for {period:%Y-%m} (it was not billed then)"
        )
    content = bill_pdf(data)
    with output_open(output, "wb") as out:
        out.write(content)
    click.echo(
        f"The bill of account {number} for {period:%Y-%m} ({money(data.total_due)} due) written to {output} "
        f"({len(content)} bytes)",
        err=True,
    )


@click.group(name="documents", help="Documents: e-mail the bills of a closed month.")
def documents_group() -> None:
    pass


@documents_group.command(
    name="send-bills",
    help="E-mail the bill (PDF) of a closed month to every customer who chose bills by e-mail. Each "
    "bill goes once to each address: run it again and only what was not sent yet is sent.",
)
@click.option("--period", required=True, callback=period_option, help="The closed month, YYYY-MM.")
def send_bills(period: date) -> None:
    django_setup_migrated()
    from meterdesk.documents.services import MonthNotClosed, ebill_send

    try:
        summary = ebill_send(period=period)
    except MonthNotClosed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Bills of {period:%Y-%m} by e-mail: {summary.sent} sent now, {summary.already_sent} sent before."
    )
    if summary.failed:
        for item in summary.failed:
            click.echo(f"  not sent: {item}", err=True)
        raise click.ClickException(f"{len(summary.failed)} bill(s) could not be sent; run the command again")
