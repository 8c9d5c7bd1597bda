"""`meterdesk payments reconcile`: settle the card payments still open by asking their provider."""

from __future__ import annotations

from datetime import timedelta

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
