"""`meterdesk issue-registration-codes`: one-time registration codes for the bills."""

from __future__ import annotations

import click

from meterdesk.cliutil import django_setup_migrated


@click.command(
    name="issue-registration-codes",
    help="Issue one-time registration codes, printed on the next bills while "
    "METERDESK_REGISTRATION_CODE is on. Without --account: every open account that has no unused "
    "code (run it before the bills).",
)
@click.option("--account", "numbers", multiple=True, metavar="NUMBER", help="This account (repeatable).")
@click.option(
    "--all", "every", is_flag=True, help="A new code for every open account, even one with an unused code."
)
def issue_registration_codes(numbers: tuple[str, ...], every: bool) -> None:
    django_setup_migrated()
    from meterdesk.customers.models import Account
    from meterdesk.customers.services import registration_code_issue

    if numbers:
        accounts = Account.objects.filter(number__in=numbers)
        missing = sorted(set(numbers) - set(accounts.values_list("number", flat=True)))
        if missing:
            raise click.ClickException(f"no such account: {', '.join(missing)}")
    else:
        accounts = Account.objects.filter(closed_on__isnull=True)
        if not every:
            accounts = accounts.exclude(
                registration_code__used_at__isnull=True, registration_code__isnull=False
            )
    count = 0
    for account in accounts.order_by("pk").iterator(chunk_size=2000):
        registration_code_issue(account=account)
        count += 1
    click.echo(f"{count} registration code(s) issued")
