"""The programme as the personal account shows it: the programme in force, an account's months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Max, Q

from meterdesk.billing.models import AccountClose
from meterdesk.domain.periods import month_start
from meterdesk.programme.models import Draw, Programme
from meterdesk.programme.rules import MonthFlags, month_flags, streak


@dataclass(frozen=True)
class Standing:
    flags: list[MonthFlags]  # newest first
    streak: int  # months in a row that counted, up to the latest billed month
    needed: int  # the programme's months in a row


def programme_current(today: date) -> Programme | None:
    """The programme in force in ``today``'s month (the newest if several)."""
    month = month_start(today)
    return (
        Programme.objects.filter(starts_on__lte=month)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=month))
        .order_by("-starts_on", "-pk")
        .first()
    )


def account_standing(programme: Programme, account_id: int, count: int = 6) -> Standing | None:
    """The account's latest ``count`` billed months under ``programme``; None before its first bill."""
    last = AccountClose.objects.filter(account_id=account_id).aggregate(last=Max("period"))["last"]
    if last is None:
        return None
    flags = [f for f in month_flags(programme, account_id, last, count) if f.period >= programme.starts_on]
    return Standing(flags, streak(flags), programme.months)


def draws_of(programme: Programme, limit: int = 6) -> tuple[list[Draw], list[Draw]]:
    """The announced draws not held yet, and the latest held ones."""
    draws = Draw.objects.filter(programme=programme).order_by("-period")
    return list(draws.filter(held_at__isnull=True)), list(
        draws.filter(held_at__isnull=False).prefetch_related("winners__account")[:limit]
    )
