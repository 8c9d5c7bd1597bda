"""The statistics of a period (the utility's days ``first`` to ``last``), each table one grouped query.

* **readings** by channel, in all and per day (``Reading.submitted_at`` in the utility's time), and
  the customers' readings given inside the window of their month: one query grouped by day,
  channel, kind and month, read from the covering index ``reading_submitted_covering``;
* the **accounts billed by basis** (actual, average, norm …) for the months the period touches;
* **true-ups** (recalculation lines) and **payments by way** (the ledger's source of each payment):
  one query over the partial index ``ledger_money_posted``;
* the **support queue**: questions asked and closed in the period, and the open ones now, by age;
* the **phone line** as the utility reports it (``phone.selectors.call_figures``), the **letters**
  understood or not and the **terminals' use** (read by name, ``apps.get_model``: the mail channel
  and the terminals sit above this module).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Trunc, TruncDate
from django.utils import timezone

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.domain.periods import add_months, month_start
from meterdesk.metering.models import Channel, Reading, ReadingKind
from meterdesk.phone.models import Call
from meterdesk.phone.selectors import call_figures
from meterdesk.support.due import OPEN
from meterdesk.support.models import Status, Thread
from meterdesk.utility.selectors import reading_window_get, utility_zone

#: Every channel a reading can come by, in the order the tables show them.
CHANNELS: tuple[str, ...] = tuple(Channel.values)
#: The ages of the open support questions: (name, from, to).
AGES: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("under_1_day", timedelta(0), timedelta(days=1)),
    ("1_to_3_days", timedelta(days=1), timedelta(days=3)),
    ("3_to_7_days", timedelta(days=3), timedelta(days=7)),
    ("over_7_days", timedelta(days=7), None),
)


@dataclass
class Figures:
    first: date
    last: date
    readings_by_channel: dict[str, int] = field(default_factory=dict)  # every channel, 0 included
    readings_by_day: dict[str, dict[str, int]] = field(default_factory=dict)  # every day and channel
    customer_readings: int = 0
    inside_window: int = 0
    billed_by_basis: dict[str, dict[str, int]] = field(default_factory=dict)  # month → basis → accounts
    true_ups: int = 0
    true_ups_amount: Decimal = Decimal(0)
    payments_by_way: dict[str, dict[str, Any]] = field(default_factory=dict)  # way → count, amount
    support: dict[str, int] = field(default_factory=dict)
    support_ages: dict[str, int] = field(default_factory=dict)  # the open questions now, by age
    phone: dict[str, int] = field(default_factory=dict)
    letters: dict[str, int] = field(default_factory=dict)
    terminal: dict[str, int] = field(default_factory=dict)

    @property
    def inside_window_share(self) -> float | None:
        return round(self.inside_window / self.customer_readings, 4) if self.customer_readings else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["first"], data["last"] = f"{self.first}", f"{self.last}"
        data["inside_window_share"] = self.inside_window_share
        data["true_ups_amount"] = f"{self.true_ups_amount:.2f}"
        for way in data["payments_by_way"].values():
            way["amount"] = f"{way['amount']:.2f}"
        return data


def _span(first: date, last: date) -> tuple[datetime, datetime]:
    zone = utility_zone()
    return datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone)


def _months(first: date, last: date) -> list[date]:
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def _readings(figures: Figures, begin: datetime, stop: datetime) -> None:
    """By channel, by day and channel, and the customers' readings inside their month's window,
    from one query grouped by (hour or day, channel, kind, month): the window is whole days, so a
    group is inside it or not as a whole. COUNT(*) lets PostgreSQL read the covering index alone."""
    by_channel = dict.fromkeys(CHANNELS, 0)
    days: dict[str, dict[str, int]] = {}
    day = figures.first
    while day <= figures.last:
        days[f"{day}"] = dict.fromkeys(CHANNELS, 0)
        day += timedelta(days=1)
    window = reading_window_get()
    bounds: dict[date, tuple[date, date]] = {}
    customers = inside = 0
    zone = utility_zone()
    for when, channel, kind, period, n in grouped_readings(figures.first, figures.last, begin, stop):
        day = when.astimezone(zone).date() if isinstance(when, datetime) else when
        by_channel[channel] = by_channel.get(channel, 0) + n
        row = days.setdefault(f"{day}", dict.fromkeys(CHANNELS, 0))
        row[channel] = row.get(channel, 0) + n
        if kind != ReadingKind.CUSTOMER:
            continue
        customers += n
        if period not in bounds:
            bounds[period] = window.bounds(period.year, period.month)
        start, end = bounds[period]
        if start <= day <= end:
            inside += n
    figures.readings_by_channel, figures.readings_by_day = by_channel, days
    figures.customer_readings, figures.inside_window = customers, inside


def _whole_hours(first: date, last: date, zone: tzinfo) -> bool:
    """Whether the zone is a whole number of hours from UTC on every day of the period (and the
    next): then each UTC hour lies within one of the utility's days."""
    day = first
    while day <= last + timedelta(days=1):
        offset = datetime.combine(day, time.min, zone).utcoffset() or timedelta(0)
        if offset % timedelta(hours=1):
            return False
        day += timedelta(days=1)
    return True


def grouped_readings(first: date, last: date, begin: datetime, stop: datetime) -> QuerySet[Reading, Any]:
    """The readings of the period counted by (UTC hour or the utility's day, channel, kind, month).
    Grouping by the UTC hour spares the database a time-zone conversion a reading (about a third
    of the query on a large table); the hours are then put in their days here. A zone with a
    half-hour offset gets its days from the database."""
    zone = utility_zone()
    when = (
        Trunc("submitted_at", "hour", tzinfo=UTC)
        if _whole_hours(first, last, zone)
        else TruncDate("submitted_at", tzinfo=zone)
    )
    return (
        Reading.objects.filter(submitted_at__gte=begin, submitted_at__lt=stop)
        .annotate(when=when)
        .values("when", "channel", "kind", "period")
        .annotate(n=Count("*"))
        .order_by()
        .values_list("when", "channel", "kind", "period", "n")
    )


def _ledger(figures: Figures, first: date, last: date) -> None:
    billed: dict[str, dict[str, int]] = {}
    for period, basis, n in (
        AccountClose.objects.filter(period__in=_months(first, last))
        .values("period", "basis")
        .annotate(n=Count("*"))
        .order_by("period", "basis")
        .values_list("period", "basis", "n")
    ):
        billed.setdefault(f"{period:%Y-%m}", {})[basis] = n
    figures.billed_by_basis = billed
    true_ups, true_ups_amount = 0, Decimal(0)
    payments: dict[str, dict[str, Any]] = {}
    for kind, reason, n, amount in (
        LedgerEntry.objects.filter(
            posted_on__gte=first, posted_on__lte=last, kind__in=(EntryKind.PAYMENT, EntryKind.RECALCULATION)
        )
        .values("kind", "reason")
        .annotate(n=Count("*"), amount=Sum("amount"))
        .order_by("kind", "reason")
        .values_list("kind", "reason", "n", "amount")
    ):
        if kind == EntryKind.RECALCULATION:
            true_ups, true_ups_amount = true_ups + n, true_ups_amount + (amount or Decimal(0))
        else:
            way = payments.setdefault(reason or "other", {"count": 0, "amount": Decimal(0)})
            way["count"] += n
            way["amount"] -= amount or Decimal(0)
    figures.true_ups, figures.true_ups_amount, figures.payments_by_way = true_ups, true_ups_amount, payments


def _support(figures: Figures, begin: datetime, stop: datetime, now: datetime) -> None:
    """Asked and closed in the period; the queue (every question not closed) as it stands now."""
    figures.support = Thread.objects.aggregate(
        asked=Count("pk", filter=Q(created_at__gte=begin, created_at__lt=stop)),
        closed=Count("pk", filter=Q(closed_at__gte=begin, closed_at__lt=stop)),
        open=Count("pk", filter=~Q(status=Status.CLOSED)),
        waiting_for_customer=Count("pk", filter=Q(status=Status.WAITING)),
        overdue=Count("pk", filter=Q(status__in=OPEN, due_at__lt=now)),
        escalated=Count("pk", filter=Q(status__in=OPEN, escalated_at__isnull=False)),
    )
    ages = {}
    for name, young, old in AGES:
        since = Q(created_at__lte=now - young)
        if old is not None:
            since &= Q(created_at__gt=now - old)
        ages[name] = Count("pk", filter=since)
    figures.support_ages = Thread.objects.exclude(status=Status.CLOSED).aggregate(**ages)


def _phone(figures: Figures, begin: datetime, stop: datetime) -> None:
    figures.phone = call_figures(Call.objects.filter(started_at__gte=begin, started_at__lt=stop))


def _letters(figures: Figures, begin: datetime, stop: datetime) -> None:
    if not apps.is_installed("meterdesk.mail"):
        return
    letters = apps.get_model("mail", "Letter").objects.filter(received_at__gte=begin, received_at__lt=stop)
    figures.letters = letters.aggregate(
        letters=Count("pk"),
        understood=Count("pk", filter=Q(outcome__in=("accepted", "partly", "refused"))),
        not_understood=Count("pk", filter=Q(outcome="not_understood")),
        automatic=Count("pk", filter=Q(outcome="automatic")),
        waiting=Count("pk", filter=Q(status="received")),
    )


def _terminal(figures: Figures, begin: datetime, stop: datetime) -> None:
    """The terminals' sessions in the period; the readings given at them are the channel
    ``terminal`` of the readings' table."""
    if not apps.is_installed("meterdesk.terminal"):
        return
    sessions = apps.get_model("terminal", "TerminalSession").objects.filter(
        started_at__gte=begin, started_at__lt=stop
    )
    figures.terminal = sessions.aggregate(
        sessions=Count("pk"),
        terminals=Count("terminal", distinct=True),
        accounts=Count("account", distinct=True),
        finished=Count("pk", filter=Q(end="finish")),
        timed_out=Count("pk", filter=Q(end="timeout")),
    )
    figures.terminal["readings"] = figures.readings_by_channel.get(Channel.TERMINAL, 0)


def figures_of(first: date, last: date, *, now: datetime | None = None) -> Figures:
    """The statistics of the utility's days ``first`` to ``last`` (the support queue as of ``now``)."""
    if last < first:
        raise ValueError("the period ends before it begins")
    begin, stop = _span(first, last)
    figures = Figures(first, last)
    _readings(figures, begin, stop)
    _ledger(figures, first, last)
    _support(figures, begin, stop, now or timezone.now())
    _phone(figures, begin, stop)
    _letters(figures, begin, stop)
    _terminal(figures, begin, stop)
    return figures


def _pairs(row: dict[str, Any]) -> list[list[Any]]:
    return [[k, v] for k, v in row.items()]


def tables(figures: Figures) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The tables of the figures, as the CSV files are written: name → (header, rows)."""
    share = figures.inside_window_share
    return {
        "readings_by_channel": (
            ["channel", "readings"],
            [[c, n] for c, n in figures.readings_by_channel.items()],
        ),
        "readings_by_day": (
            ["day", *CHANNELS],
            [
                [day, *(row.get(c, 0) for c in CHANNELS)]
                for day, row in sorted(figures.readings_by_day.items())
            ],
        ),
        "window": (
            ["figure", "value"],
            [
                ["customer_readings", figures.customer_readings],
                ["inside_window", figures.inside_window],
                ["inside_window_share", "" if share is None else share],
            ],
        ),
        "billed_by_basis": (
            ["month", "basis", "accounts"],
            [[m, b, n] for m, row in sorted(figures.billed_by_basis.items()) for b, n in sorted(row.items())],
        ),
        "true_ups": (
            ["figure", "value"],
            [["lines", figures.true_ups], ["amount", f"{figures.true_ups_amount:.2f}"]],
        ),
        "payments_by_way": (
            ["way", "payments", "amount"],
            [[w, v["count"], f"{v['amount']:.2f}"] for w, v in sorted(figures.payments_by_way.items())],
        ),
        "support": (["figure", "value"], _pairs(figures.support)),
        "support_ages": (["age", "open"], _pairs(figures.support_ages)),
        "phone": (["figure", "value"], _pairs(figures.phone)),
        "letters": (["figure", "value"], _pairs(figures.letters)),
        "terminal": (["figure", "value"], _pairs(figures.terminal)),
    }
