"""`meterdesk rebill`: bill a closed month of one account again and carry it through the later
months (docs/billing.md, "Rebilling a past month"). Django is set up inside; output is English."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING

import click

from meterdesk.cliutil import django_setup_migrated, money, period_option, staff_get
from meterdesk.domain.billing import REBILL_CAUSES

if TYPE_CHECKING:
    from meterdesk.billing.models import LedgerEntry


def _line(entry: LedgerEntry) -> str:
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    basis = str(detail.get("basis", ""))
    if entry.volume is None:
        return f"  {basis:<15}{'':<28}{money(entry.amount):>16}"
    meter = f"meter {entry.meter.serial}" if entry.meter is not None else "no meter"
    zone = f"T{entry.zone}" if entry.zone else "single"
    volume = f"{entry.volume:+} kWh × {entry.price}"
    return f"  {basis:<15}{meter + ' ' + zone:<28}{money(entry.amount):>16}   {volume}"


@click.command(
    name="rebill",
    help="Bill a closed month of one account again with the data as it is now (a corrected reading, "
    "the residents, a control reading found late), carry it through every later closed month "
    "(averages, true-ups, norm months, penalties) and post each month's difference once, at that "
    "month's prices, on the next bill. Run again with the same data, it posts nothing.",
)
@click.option("--account", "number", required=True, help="The account number (10 digits).")
@click.option(
    "--period",
    "month",
    required=True,
    callback=period_option,
    help="The first month to bill again, YYYY-MM (closed).",
)
@click.option("--reason", required=True, help="Why, in words (shown with the corrections on the bill).")
@click.option(
    "--cause", type=click.Choice(REBILL_CAUSES), default="other", show_default=True, help="What changed."
)
@click.option("--by", "by_email", default=None, help="The e-mail of the member of staff who asked.")
@click.option("--dry-run", is_flag=True, help="Show what would be posted; post nothing.")
def rebill_command(
    number: str, month: date, reason: str, cause: str, by_email: str | None, dry_run: bool
) -> None:
    if not reason.strip():
        raise click.BadParameter("give the reason in words", param_hint="--reason")
    django_setup_migrated()
    from django.db import transaction

    from meterdesk.billing.rebill import RebillError
    from meterdesk.billing.services import account_rebill
    from meterdesk.customers.models import Account

    account = Account.objects.filter(number=number.strip()).first()
    if account is None:
        raise click.BadParameter(f"no account {number!r}", param_hint="--account")
    user = staff_get(by_email)
    try:
        with transaction.atomic():
            entries = account_rebill(account=account, period=month, reason=reason, cause=cause, user=user)
            if dry_run:
                transaction.set_rollback(True)
    except RebillError as error:
        raise click.ClickException(f"{error} ({error.code})") from error
    if not entries:
        click.echo(f"Account {account.number} from {month:%Y-%m}: nothing differs; nothing was posted.")
        return
    posted = "would be posted" if dry_run else "posted"
    click.echo(f"Account {account.number} from {month:%Y-%m} ({cause}: {reason.strip()}):")
    by_month: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_month[str(entry.detail["period"])].append(entry)
    for label in sorted(by_month):
        lines = by_month[label]
        click.echo(f"{label}: {money(sum(e.amount for e in lines))}")
        for entry in lines:
            click.echo(_line(entry))
    total = sum(e.amount for e in entries)
    click.echo(
        f"Total {money(total)} in {len(entries)} corrections, {posted} to {entries[0].period:%Y-%m} "
        "(the next bill)."
    )
    if dry_run:
        click.echo("Dry run: nothing was posted.")
