"""`meterdesk send-confirmations`: the sender of the confirmation e-mails' outbox
(``core.confirmations``). ``meterdesk serve`` starts one beside the web server."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import click

from meterdesk.cliutil import django_setup


@click.command(
    name="send-confirmations",
    help="Send the readings' confirmation e-mails waiting in the outbox, in batches, until stopped "
    "(SIGTERM or Ctrl-C), deleting those sent more than --keep-days ago once an hour; with --once, "
    "send what is due and exit; with --prune DAYS, delete the mails sent more than DAYS days ago "
    "and exit.",
)
@click.option(
    "--batch", type=click.IntRange(1, 10_000), default=None, help="Mails claimed at once (default 200)."
)
@click.option(
    "--idle",
    type=click.FloatRange(0, None),
    default=1.0,
    show_default=True,
    help="Seconds between looks at an empty outbox.",
)
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--prune",
    type=click.IntRange(1, None),
    default=None,
    metavar="DAYS",
    help="Delete the mails sent more than DAYS days ago, then exit.",
)
@click.option(
    "--parent",
    type=int,
    default=None,
    metavar="PID",
    help="Stop when process PID is no longer this one's parent (meterdesk serve passes its own: "
    "a sender never outlives its server, even one killed with kill -9).",
)
@click.option(
    "--keep-days",
    type=click.IntRange(0, None),
    default=None,
    help="While running, delete the mails sent more than this many days ago, once an hour "
    "(default 30; 0: keep them all).",
)
def send_confirmations(
    batch: int | None, idle: float, once: bool, prune: int | None, parent: int | None, keep_days: int | None
) -> None:
    django_setup()
    from meterdesk.core.confirmations import (
        DEFAULT_BATCH,
        KEEP_SENT,
        SendSummary,
        confirmations_loop,
        confirmations_send,
        outbox_prune,
        parent_watch,
    )

    batch = DEFAULT_BATCH if batch is None else batch
    keep_days = KEEP_SENT.days if keep_days is None else keep_days
    if prune is not None:
        deleted = outbox_prune(older_than=timedelta(days=prune))
        click.echo(f"deleted {deleted} confirmation e-mails sent more than {prune} days ago")
        return
    if once:
        total = SendSummary()
        while True:
            summary = confirmations_send(batch=batch)
            total = total + summary
            if summary.claimed < batch:
                break
        click.echo(f"sent {total.sent}, to try again {total.retried}, given up {total.given_up}")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_a: stop.set())
    if parent is not None:
        parent_watch(parent, stop)
    click.echo(f"sending confirmation e-mails in batches of up to {batch}")
    keep = timedelta(days=keep_days) if keep_days else None
    confirmations_loop(batch=batch, idle=idle, keep=keep, stop=stop)
