"""``meterdesk manage issue_registration_codes``: one-time registration codes for the bills."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meterdesk.customers.models import Account
from meterdesk.customers.services import registration_code_issue


class Command(BaseCommand):
    help = (
        "Issue one-time registration codes, printed on the next bills while METERDESK_REGISTRATION_CODE "
        "is on. Without --account: every open account that has no unused code (run it before the bills)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", action="append", default=[], metavar="NUMBER", help="this account (repeatable)"
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="a new code for every open account, even one with an unused code",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        numbers: list[str] = options["account"]
        if numbers:
            accounts = Account.objects.filter(number__in=numbers)
            missing = sorted(set(numbers) - set(accounts.values_list("number", flat=True)))
            if missing:
                raise CommandError(f"no such account: {', '.join(missing)}")
        else:
            accounts = Account.objects.filter(closed_on__isnull=True)
            if not options["all"]:
                accounts = accounts.exclude(
                    registration_code__used_at__isnull=True, registration_code__isnull=False
                )
        count = 0
        for account in accounts.order_by("pk").iterator(chunk_size=2000):
            registration_code_issue(account=account)
            count += 1
        self.stdout.write(f"{count} registration code(s) issued")
