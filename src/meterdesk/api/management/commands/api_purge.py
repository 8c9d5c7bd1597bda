"""``meterdesk manage api_purge [--days N]``: forget stored Idempotency-Key answers older than N days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from meterdesk.api.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete the API's stored Idempotency-Key answers older than --days (default 7)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        days = max(1, int(options["days"]))
        deleted = idempotency_purge(older_than=timedelta(days=days))
        self.stdout.write(f"deleted {deleted} idempotency records older than {days} days")
