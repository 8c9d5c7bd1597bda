"""`meterdesk notify …`: the readings reminders by hand or from a daily schedule (docs/notifications.md)."""

from __future__ import annotations

import sys
import time as clock
from datetime import date

import click

from meterdesk.cliutil import database_current, django_setup


@click.group(name="notify", help="Reminders to households: prepare them, send them.")
def notify_group() -> None:
    pass


def _ready() -> None:
    django_setup()
    if not database_current():
        click.echo("The database is not up to date: run `meterdesk migrate` first.", err=True)
        sys.exit(2)


def _day(_ctx: object, _param: object, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"a day as YYYY-MM-DD, e.g. 2026-12-15; got {value!r}") from None


DAY = click.option("--date", "day", callback=_day, help="The day (YYYY-MM-DD, the utility's); default today.")


def _today(day: date | None) -> date:
    from meterdesk.utility.selectors import utility_now

    return day or utility_now().date()


def _prepare(topic: str, day: date) -> None:
    from meterdesk.notify.prepare import reminders_prepare

    done = reminders_prepare(topic, day)
    click.echo(
        f"{topic} {day:%Y-%m}: {done.households} households to remind; {done.created} notices stored now, "
        f"{done.existing} stored before."
    )


def _send_all() -> None:
    from meterdesk.notify.send import notices_send

    total = retried = given_up = 0
    while True:
        batch = notices_send()
        if batch.claimed == 0:
            break
        total, retried, given_up = total + batch.sent, retried + batch.retried, given_up + batch.given_up
    click.echo(f"Sent {total}; to try again later {retried}; given up {given_up}.")


@notify_group.command(name="window-open", help="Remind the households that the readings window is open.")
@DAY
def window_open(day: date | None) -> None:
    _ready()
    _prepare("window_open", _today(day))
    _send_all()


@notify_group.command(
    name="window-closing", help="Remind those still to give readings that the window closes soon."
)
@DAY
def window_closing(day: date | None) -> None:
    _ready()
    _prepare("window_closing", _today(day))
    _send_all()


@notify_group.command(help="Whatever today calls for (run it daily): the reminders due, then the sending.")
@DAY
def today(day: date | None) -> None:
    from meterdesk.notify.prepare import reminders_due

    _ready()
    when = _today(day)
    due = reminders_due(when)
    if not due:
        click.echo(f"{when}: no reminder is due today.")
    for topic in due:
        _prepare(topic, when)
    _send_all()


@notify_group.command(help="Send the notices due (e-mails, SMS); --follow keeps sending as they come.")
@click.option("--follow", is_flag=True, help="Keep running, looking every --every seconds.")
@click.option("--every", default=30.0, show_default=True, type=click.FloatRange(min=1))
def send(follow: bool, every: float) -> None:
    _ready()
    _send_all()
    while follow:
        clock.sleep(every)
        _send_all()
