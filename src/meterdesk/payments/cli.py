"""`meterdesk payments …`: card payments (reconcile) and bank registries (import-registry).

The subcommands register on ``payments_group`` from their own modules (payments, registries)."""

from __future__ import annotations

import click


@click.group("payments", help="Card payments and bank registries of payments.")
def payments_group() -> None:
    pass
