"""``meterdesk manage send_confirmations``: the sender of the confirmation e-mails' outbox
(``metering.outbox``). ``meterdesk serve`` starts one beside the web server."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meterdesk.metering.outbox import (
    DEFAULT_BATCH,
    KEEP_SENT,
    SendSummary,
    confirmations_loop,
    confirmations_send,
    outbox_prune,
    parent_watch,
)


class Command(BaseCommand):
    help = (
        "Send the readings' confirmation e-mails waiting in the outbox, in batches, until stopped "
        "(SIGTERM or Ctrl-C), deleting those sent more than --keep-days ago once an hour; with "
        "--once, send what is due and exit; with --prune DAYS, delete the mails sent more than DAYS "
        "days ago and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="mails claimed at once")
        parser.add_argument(
            "--idle", type=float, default=1.0, help="seconds between looks at an empty outbox"
        )
        parser.add_argument("--once", action="store_true", help="send what is due now, then exit")
        parser.add_argument(
            "--prune", type=int, metavar="DAYS", help="delete mails sent more than DAYS days ago"
        )
        parser.add_argument(
            "--parent",
            type=int,
            metavar="PID",
            help="stop when process PID is no longer this one's parent (meterdesk serve passes "
            "its own: a sender never outlives its server, even one killed with kill -9)",
        )
        parser.add_argument(
            "--keep-days",
            type=int,
            default=KEEP_SENT.days,
            help="while running, delete the mails sent more than this many days ago, once an hour "
            "(0: keep them all)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch = int(options["batch"])
        if not 1 <= batch <= 10_000:
            raise CommandError("--batch must be between 1 and 10000")
        keep_days = int(options["keep_days"])
        if keep_days < 0:
            raise CommandError("--keep-days must be 0 (keep all) or more")
        keep = timedelta(days=keep_days) if keep_days else None
        if options["prune"] is not None:
            days = int(options["prune"])
            if days < 1:
                raise CommandError("--prune must be at least 1 (day)")
            deleted = outbox_prune(older_than=timedelta(days=days))
            self.stdout.write(f"deleted {deleted} confirmation e-mails sent more than {days} days ago")
            return
        if options["once"]:
            total = SendSummary()
            while True:
                summary = confirmations_send(batch=batch)
                total = total + summary
                if summary.claimed < batch:
                    break
            self.stdout.write(f"sent {total.sent}, to try again {total.retried}, given up {total.given_up}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_a: stop.set())
        if options["parent"] is not None:
            parent_watch(int(options["parent"]), stop)
        self.stdout.write(f"sending confirmation e-mails in batches of up to {batch}")
        self.stdout.flush()
        confirmations_loop(batch=batch, idle=float(options["idle"]), keep=keep, stop=stop)
