"""`meterdesk api-purge`: forget the API's stored Idempotency-Key answers older than N days."""

from __future__ import annotations

from datetime import timedelta

import click

from meterdesk.cliutil import django_setup_migrated


@click.command(
    name="api-purge",
    help="Delete the API's stored Idempotency-Key answers older than --days (daily from cron).",
)
@click.option("--days", type=click.IntRange(1, None, clamp=True), default=7, show_default=True)
def api_purge(days: int) -> None:
    django_setup_migrated()
    from meterdesk.api.idempotency import idempotency_purge

    deleted = idempotency_purge(older_than=timedelta(days=days))
    click.echo(f"deleted {deleted} idempotency records older than {days} days")
