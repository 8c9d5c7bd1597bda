"""`meterdesk schedule`: the routine that runs by itself (``meterdesk serve`` starts it)."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from meterdesk.cliutil import django_setup_migrated


@click.command(
    name="schedule", help="Run the scheduled jobs (autopayment, reminders, reconciling) until stopped."
)
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option(
    "--parent", type=int, default=None, help="Stop when this process is gone (used by `meterdesk serve`)."
)
def schedule_command(once: bool, parent: int | None) -> None:
    django_setup_migrated()
    from meterdesk.core.confirmations import parent_watch
    from meterdesk.schedule.jobs import jobs_in_force, schedule_loop, tick

    if once:
        ran = tick()
        click.echo(f"Ran: {', '.join(ran) if ran else 'nothing was due'}.")
        return
    stop = threading.Event()

    def stopped(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    if parent is not None:
        parent_watch(parent, stop)
    names = ", ".join(job.name for job in jobs_in_force())
    click.echo(f"Scheduler: {names or 'no job'}.", err=True)
    schedule_loop(stop)
