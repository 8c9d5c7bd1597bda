"""Reads of the phone line's calls: the statistics of a period, as the seed's table has them
(callers, readings given, balance, tariff, office, operator transfers, abandoned calls)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet

from meterdesk.phone.models import Call, Outcome
from meterdesk.utility.selectors import utility_get


@dataclass(frozen=True)
class CallStats:
    day: str  # the day, or "from–to" for the whole period
    calls: int
    callers: int
    readings: int
    balance: int
    tariff: int
    office: int
    operator: int
    abandoned: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def call_figures(calls: QuerySet[Call]) -> dict[str, int]:
    """The seed's figures of ``calls``: calls, callers, readings, balance, tariff, office, operator,
    abandoned."""
    return calls.aggregate(
        calls=Count("pk"),
        callers=Count("caller", distinct=True),
        readings=Count("pk", filter=Q(readings__gt=0)),
        balance=Count("pk", filter=Q(topics__contains="balance")),
        tariff=Count("pk", filter=Q(topics__contains="tariff")),
        office=Count("pk", filter=Q(topics__contains="office")),
        operator=Count("pk", filter=Q(outcome=Outcome.OPERATOR)),
        abandoned=Count("pk", filter=Q(outcome=Outcome.ABANDONED)),
    )


def call_stats(first: date, last: date, *, per_day: bool = False) -> list[CallStats]:
    """The figures of the days ``first`` to ``last`` (the utility's days), then, with
    ``per_day``, of each day."""
    zone = ZoneInfo(utility_get().time_zone)

    def between(a: date, b: date) -> QuerySet[Call]:
        start = datetime.combine(a, time(0), zone)
        end = datetime.combine(b + timedelta(days=1), time(0), zone)
        return Call.objects.filter(started_at__gte=start, started_at__lt=end)

    rows = [CallStats(f"{first}–{last}", **call_figures(between(first, last)))]
    day = first
    while per_day and day <= last:
        rows.append(CallStats(str(day), **call_figures(between(day, day))))
        day += timedelta(days=1)
    return rows
