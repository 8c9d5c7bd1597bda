"""`meterdesk payments reconcile`: settle the payments still open by asking their provider;
`meterdesk payments autopay`: pay the bills of the accounts with autopayment on."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from meterdesk.cliutil import django_setup
from meterdesk.payments.cli import payments_group


@payments_group.command(
    "reconcile",
    help=(
        "Ask the provider about every card payment still waiting, and record those that succeeded "
        "(once: running it again changes nothing). Prints a summary."
    ),
)
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(0, 60 * 24 * 365),
    default=None,
    metavar="MINUTES",
    help="Only payments started at least this many minutes ago.",
)
def reconcile(older_than: int | None) -> None:
    django_setup()
    from meterdesk.payments.services import payments_reconcile

    summary = payments_reconcile(older_than=timedelta(minutes=older_than) if older_than is not None else None)
    click.echo(f"Card payments checked:  {summary.checked}")
    click.echo(f"  paid:                 {summary.paid} (recorded in the ledger now: {summary.recorded})")
    click.echo(f"  cancelled:            {summary.cancelled}")
    click.echo(f"  waiting for the bank: {summary.waiting}")
    click.echo(f"  not started yet:      {summary.not_started}")
    click.echo(f"  could not be checked: {summary.errors}")
    if summary.errors:
        raise SystemExit(1)


@payments_group.command(
    "autopay",
    help=(
        "Autopayment: schedule the bills of the accounts with autopayment on, e-mail the notices "
        "(from METERDESK_AUTOPAY_NOTICE_DAYS days before the due date), pay the bills due with the "
        "saved cards, settle the payments still open and e-mail the receipts and the declines. Run "
        "it daily (from cron); running it again changes nothing. Prints a summary."
    ),
)
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Act as on this day (the utility's date; default: today).",
)
def autopay(day: datetime | None) -> None:
    django_setup()
    from meterdesk.payments.autopay import autopay_run

    summary = autopay_run(today=day.date() if day is not None else None)
    click.echo(f"Bills scheduled now:        {summary.scheduled}")
    click.echo(f"Notices e-mailed:           {summary.notices}")
    click.echo(f"Bills charged now:          {summary.tried}")
    click.echo(f"  paid:                     {summary.paid}")
    click.echo(f"  declined, tried again:    {summary.declined}")
    click.echo(f"  declined, given up:       {summary.given_up}")
    click.echo(f"  waiting for the bank:     {summary.waiting}")
    click.echo(f"Nothing left to pay:        {summary.skipped}")
    click.echo(f"Receipts and notes mailed:  {summary.mails}")
    click.echo(f"Could not be done now:      {summary.errors}")
    if summary.errors:
        raise SystemExit(1)
