"""The statistics of a period (the utility's days ``first`` to ``last``), each a grouped query.

* **readings by channel**, in all and per day (``Reading.submitted_at`` in the utility's time);
* the share of the **customers' readings given inside the window** of their month;
* the **accounts billed by basis** (actual, average, norm …) for the months the period touches;
* **true-ups** (recalculation lines) and **payments by way** (the ledger's source of each payment);
* the **phone line** as the seed reports it (``phone.selectors.call_figures``) and the **letters**
  understood or not (read by name, ``apps.get_model``: the mail channel sits above this module).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.domain.periods import add_months, month_start
from meterdesk.metering.models import Reading, ReadingKind
from meterdesk.phone.models import Call
from meterdesk.phone.selectors import call_figures
from meterdesk.utility.selectors import reading_window_get, utility_zone


@dataclass
class Figures:
    first: date
    last: date
    readings_by_channel: dict[str, int] = field(default_factory=dict)
    readings_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    customer_readings: int = 0
    inside_window: int = 0
    billed_by_basis: dict[str, dict[str, int]] = field(default_factory=dict)  # month → basis → accounts
    true_ups: int = 0
    true_ups_amount: Decimal = Decimal(0)
    payments_by_way: dict[str, dict[str, Any]] = field(default_factory=dict)  # way → count, amount
    phone: dict[str, int] = field(default_factory=dict)
    letters: dict[str, int] = field(default_factory=dict)

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


def _readings(figures: Figures, readings: QuerySet[Reading]) -> None:
    figures.readings_by_channel = dict(
        readings.values("channel").annotate(n=Count("pk")).order_by("channel").values_list("channel", "n")
    )
    days: dict[str, dict[str, int]] = {}
    per_day = (
        readings.annotate(day=TruncDate("submitted_at", tzinfo=utility_zone()))
        .values("day", "channel")
        .annotate(n=Count("pk"))
        .order_by("day", "channel")
        .values_list("day", "channel", "n")
    )
    for day, channel, n in per_day:
        days.setdefault(f"{day}", {})[channel] = n
    figures.readings_by_day = days


def _window(figures: Figures, readings: QuerySet[Reading]) -> None:
    """Customers' readings of the period, and those given inside their month's window."""
    customers = readings.filter(kind=ReadingKind.CUSTOMER)
    figures.customer_readings = customers.count()
    window = reading_window_get()
    inside = Q()
    for month in customers.values_list("period", flat=True).distinct():
        start, end = window.bounds(month.year, month.month)
        begin, stop = _span(start, end)
        inside |= Q(period=month, submitted_at__gte=begin, submitted_at__lt=stop)
    figures.inside_window = customers.filter(inside).count() if inside else 0


def _ledger(figures: Figures, first: date, last: date) -> None:
    months = _months(first, last)
    billed: dict[str, dict[str, int]] = {}
    for period, basis, n in (
        AccountClose.objects.filter(period__in=months)
        .values("period", "basis")
        .annotate(n=Count("pk"))
        .order_by("period", "basis")
        .values_list("period", "basis", "n")
    ):
        billed.setdefault(f"{period:%Y-%m}", {})[basis] = n
    figures.billed_by_basis = billed
    entries = LedgerEntry.objects.filter(posted_on__gte=first, posted_on__lte=last)
    true_ups = entries.filter(kind=EntryKind.RECALCULATION).aggregate(n=Count("pk"), amount=Sum("amount"))
    figures.true_ups, figures.true_ups_amount = true_ups["n"], true_ups["amount"] or Decimal(0)
    figures.payments_by_way = {
        way or "other": {"count": n, "amount": -(amount or Decimal(0))}
        for way, n, amount in entries.filter(kind=EntryKind.PAYMENT)
        .values("reason")
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by("reason")
        .values_list("reason", "n", "amount")
    }


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


def figures_of(first: date, last: date) -> Figures:
    """The statistics of the utility's days ``first`` to ``last``."""
    if last < first:
        raise ValueError("the period ends before it begins")
    begin, stop = _span(first, last)
    figures = Figures(first, last)
    readings = Reading.objects.filter(submitted_at__gte=begin, submitted_at__lt=stop)
    _readings(figures, readings)
    _window(figures, readings)
    _ledger(figures, first, last)
    _phone(figures, begin, stop)
    _letters(figures, begin, stop)
    return figures


#: The tables of the figures, as CSV files are written: (file name, header, rows of a Figures).
def tables(figures: Figures) -> dict[str, tuple[list[str], list[list[Any]]]]:
    channels = sorted({c for day in figures.readings_by_day.values() for c in day})
    return {
        "readings_by_channel": (
            ["channel", "readings"],
            [[c, n] for c, n in sorted(figures.readings_by_channel.items())],
        ),
        "readings_by_day": (
            ["day", *channels],
            [
                [day, *(row.get(c, 0) for c in channels)]
                for day, row in sorted(figures.readings_by_day.items())
            ],
        ),
        "billed_by_basis": (
            ["month", "basis", "accounts"],
            [[m, b, n] for m, row in sorted(figures.billed_by_basis.items()) for b, n in sorted(row.items())],
        ),
        "payments_by_way": (
            ["way", "payments", "amount"],
            [[w, v["count"], f"{v['amount']:.2f}"] for w, v in sorted(figures.payments_by_way.items())],
        ),
        "phone": (["figure", "value"], [[k, v] for k, v in figures.phone.items()]),
        "letters": (["figure", "value"], [[k, v] for k, v in figures.letters.items()]),
    }
