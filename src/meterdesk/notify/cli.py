"""`meterdesk notify …`: the readings reminders by hand or from a daily schedule (docs/notifications.md)."""

from __future__ import annotations

import time as clock
from datetime import date, timedelta
from typing import Any

import click

from meterdesk.cliutil import django_setup_migrated, period_option


@click.group(name="notify", help="Reminders to households: prepare them, send them.")
def notify_group() -> None:
    pass


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


def _said(topic: str, done: Any) -> None:
    click.echo(
        f"{topic}: {done.households} events; {done.created} notices stored now, {done.existing} stored before."
    )


def _prepare(topic: str, day: date) -> None:
    from meterdesk.notify.prepare import reminders_prepare

    _said(topic, reminders_prepare(topic, day))


def _events(topic: str, *args: Any) -> None:
    from meterdesk.notify.prepare import SOURCES, notices_store

    _said(topic, notices_store(topic, SOURCES[topic](*args)))


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
    django_setup_migrated()
    _prepare("window_open", _today(day))
    _send_all()


@notify_group.command(
    name="window-closing", help="Remind those still to give readings that the window closes soon."
)
@DAY
def window_closing(day: date | None) -> None:
    django_setup_migrated()
    _prepare("window_closing", _today(day))
    _send_all()


@notify_group.command(name="bill-ready", help="Tell the households of a closed month that its bill is ready.")
@click.option("--period", required=True, callback=period_option, help="The month, YYYY-MM.")
def bill_ready(period: date) -> None:
    django_setup_migrated()
    _events("bill_ready", period)
    _send_all()


@notify_group.command(help="Tell the households of the payments their ledgers recorded lately.")
@click.option("--since-hours", default=25, show_default=True, type=click.IntRange(min=1, max=24 * 31))
def payments(since_hours: int) -> None:
    from django.utils import timezone

    django_setup_migrated()
    _events("payment_received", timezone.now() - timedelta(hours=since_hours))
    _send_all()


@notify_group.command(help="Tell the households whose meters must be verified within --days.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1, max=365))
@DAY
def verification(days: int, day: date | None) -> None:
    django_setup_migrated()
    _events("verification_due", _today(day), days)
    _send_all()


@notify_group.command(
    help="Whatever today calls for (run it daily): the reminders, payments, verifications, then sending."
)
@DAY
def today(day: date | None) -> None:
    from django.utils import timezone

    from meterdesk.notify.prepare import reminders_due

    django_setup_migrated()
    when = _today(day)
    due = reminders_due(when)
    if not due:
        click.echo(f"{when}: no readings reminder is due today.")
    for topic in due:
        _prepare(topic, when)
    _events("payment_received", timezone.now() - timedelta(hours=25))
    _events("verification_due", when, 30)
    _send_all()


@notify_group.command(
    help="Debt warnings after a month's close, and the open debt cases moved on (pp. 117-119)."
)
@click.option("--period", required=True, callback=period_option, help="The month closed, YYYY-MM.")
@DAY
def debts(period: date, day: date | None) -> None:
    from meterdesk.notify.debts import debt_cases_advance, debt_cases_open

    django_setup_migrated()
    opened = debt_cases_open(period)
    _send_all()
    run = debt_cases_advance(_today(day))  # the warnings just sent count as delivered
    click.echo(
        f"Debt cases: {opened} opened now; delivered, time running {run.delivered}; restriction possible "
        f"{run.restriction_due}; suspension possible {run.suspension_due}; paid now {run.paid}."
    )


@notify_group.command(help="Send the notices due (e-mails, SMS); --follow keeps sending as they come.")
@click.option("--follow", is_flag=True, help="Keep running, looking every --every seconds.")
@click.option("--every", default=30.0, show_default=True, type=click.FloatRange(min=1))
def send(follow: bool, every: float) -> None:
    django_setup_migrated()
    _send_all()
    while follow:
        clock.sleep(every)
        _send_all()
