"""A month's draw that anyone can check.

1. **Announce** (before the month's close): a random seed is made and published on the
   programme's page (``draw_announce``).
2. **Hold** (after the close): the eligible accounts are found by the rules (``rules.eligible``);
   each gets the id ``sha256("meterdesk-programme:" + account number)`` and the ticket
   ``sha256(seed + ":" + id)``; the ``prizes`` smallest tickets win, in that order (``draw_hold``).
3. **Publish**: the draw's file (``draw_export``) holds the rules, the seed, every eligible id
   (sorted) and the winners' ids and tickets. Anyone can recompute the winners from it
   (``draw_verify``, or ``meterdesk programme verify FILE``), and each customer can find their own
   id in it by hashing their account number.

Winners are told by notices (each verified login linked to the account, by its channels), once;
each winner keeps the prize the rules promised, and a prize in money is credited to the account.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation

from meterdesk.billing.messages import month_name
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import Account, AccountLink
from meterdesk.domain.periods import add_months
from meterdesk.notify.models import Topic
from meterdesk.notify.prepare import Event, notices_store
from meterdesk.programme.models import Draw, Programme, Winner
from meterdesk.programme.rules import eligible, months_of
from meterdesk.utility.selectors import utility_now

ALGORITHM = (
    'id = sha256("meterdesk-programme:" + account number); ticket = sha256(seed + ":" + id); '
    "the `prizes` smallest tickets win, smallest first"
)


class DrawError(Exception):
    """A draw that cannot be announced or held now; the message says why."""


def account_id_hash(number: str) -> str:
    return hashlib.sha256(f"meterdesk-programme:{number}".encode()).hexdigest()


def ticket(seed: str, ident: str) -> str:
    return hashlib.sha256(f"{seed}:{ident}".encode()).hexdigest()


def winners_of(seed: str, idents: list[str], prizes: int) -> list[tuple[str, str]]:
    """(id, ticket) of the winners among ``idents``, in order of their places."""
    tickets = sorted((ticket(seed, ident), ident) for ident in set(idents))
    return [(ident, t) for t, ident in tickets[:prizes]]


def list_hash(idents: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(idents)).encode()).hexdigest()


def draw_announce(programme: Programme, period: date) -> Draw:
    """Publish the seed of the draw for ``period`` (the same draw again if announced already)."""
    if period < programme.starts_on or (programme.ends_on is not None and period > programme.ends_on):
        raise DrawError(f"{period:%Y-%m} is outside the programme {programme.code}")
    try:
        with transaction.atomic():
            return Draw.objects.create(
                programme=programme, period=period, seed=secrets.token_hex(16), announced_at=timezone.now()
            )
    except IntegrityError:
        return Draw.objects.get(programme=programme, period=period)


def draw_hold(programme: Programme, period: date) -> Draw:
    """Hold the announced draw for ``period``: find the eligible accounts, choose the winners,
    tell them. Held already: the draw as it was (nothing chosen again)."""
    draw = Draw.objects.filter(programme=programme, period=period).first()
    if draw is None:
        raise DrawError(f"the draw for {period:%Y-%m} was not announced: announce its seed first")
    if draw.held_at is not None:
        return draw
    first = months_of(programme, period)[0]
    if first < programme.starts_on:
        raise DrawError(
            f"the programme {programme.code} has fewer than {programme.months} months by {period:%Y-%m}"
        )
    if not AccountClose.objects.filter(period=period).exists():
        raise DrawError(
            f"{period:%Y-%m} is not closed yet: run `meterdesk bill --period {period:%Y-%m}` first"
        )
    accounts = dict(Account.objects.filter(pk__in=eligible(programme, period)).values_list("number", "pk"))
    idents = {account_id_hash(number): number for number in accounts}
    chosen = winners_of(draw.seed, list(idents), programme.prizes)
    with transaction.atomic():
        locked = Draw.objects.select_for_update().get(pk=draw.pk)
        if locked.held_at is not None:  # held meanwhile by another run
            return locked
        winners = Winner.objects.bulk_create(
            Winner(
                draw=locked,
                place=place,
                account_id=accounts[idents[ident]],
                ticket=t,
                prize=programme.prize_ru,
            )
            for place, (ident, t) in enumerate(chosen, start=1)
        )
        if programme.prize_amount:
            for winner in winners:
                winner.credit = _credit(locked, winner, programme.prize_amount)
                winner.save(update_fields=["credit"])
        locked.eligible = len(idents)
        locked.list_sha256 = list_hash(list(idents))
        locked.held_at = timezone.now()
        locked.save(update_fields=["eligible", "list_sha256", "held_at"])
    winners_notify(locked)
    return locked


def _credit(draw: Draw, winner: Winner, amount: Decimal) -> LedgerEntry:
    """Credit a money prize to the winner's account: a correction line (negative) in its first
    month not closed, with the draw as its reason; once per draw and place."""
    external = f"programme:{draw.pk}:{winner.place}"
    existing = LedgerEntry.objects.filter(external_id=external).first()
    if existing is not None:
        return existing
    last = AccountClose.objects.filter(account_id=winner.account_id).aggregate(p=Max("period"))["p"]
    period = add_months(max(last or draw.period, draw.period), 1)
    with translation.override("ru"):
        reason = f"{draw.programme.name_ru}: {month_name(draw.period)}, {winner.place}"
    return LedgerEntry.objects.create(
        account_id=winner.account_id,
        period=period,
        posted_on=utility_now().date(),
        kind=EntryKind.CORRECTION,
        reason="programme_prize",
        amount=-amount,
        detail={"reason": reason, "draw": draw.pk, "place": winner.place},
        external_id=external,
    )


def winners_notify(draw: Draw) -> int:
    """Tell each winner not told yet by notices (topic ``programme_win``: every verified login
    linked to the account, by its channels; stored once per draw, place, login and channel). The
    number of logins told."""
    programme = draw.programme
    winners = list(draw.winners.select_related("account").filter(notified_at__isnull=True).order_by("place"))
    events = []
    for winner in winners:
        logins = AccountLink.objects.filter(
            account_id=winner.account_id, user__is_active=True, user__email_verified_at__isnull=False
        ).values_list("user_id", "user__email", "user__language")
        for user_id, email, language in logins.order_by("user_id"):
            english = (language or "ru").startswith("en")
            values = {
                "number": winner.account.number,
                "month": draw.period,
                "programme": programme.name_en if english else programme.name_ru,
                "prize": (programme.prize_en if english else programme.prize_ru) or winner.prize,
            }
            events.append(
                Event(user_id, winner.account_id, f"{draw.pk}:{winner.place}", email, language, values)
            )
    notices_store(Topic.PROGRAMME_WIN, events)
    Winner.objects.filter(pk__in=[w.pk for w in winners]).update(notified_at=timezone.now())
    return len(events)


def draw_export(draw: Draw) -> dict[str, Any]:
    """The draw's public file: enough to recompute its winners."""
    programme = draw.programme
    data: dict[str, Any] = {
        "programme": programme.code,
        "rules": {
            "on_time_readings": programme.on_time_readings,
            "no_debt": programme.no_debt,
            "months": programme.months,
            "prizes": programme.prizes,
        },
        "period": f"{draw.period:%Y-%m}",
        "seed": draw.seed,
        "announced_at": draw.announced_at.isoformat(),
        "algorithm": ALGORITHM,
        "held_at": draw.held_at.isoformat() if draw.held_at else None,
    }
    if draw.held_at is None:
        return data
    numbers = Account.objects.filter(pk__in=eligible(programme, draw.period)).values_list("number", flat=True)
    idents = sorted(account_id_hash(number) for number in numbers)
    data["eligible"] = idents
    data["eligible_sha256"] = list_hash(idents)
    data["winners"] = [
        {"place": w.place, "id": account_id_hash(w.account.number), "ticket": w.ticket}
        for w in draw.winners.select_related("account").order_by("place")
    ]
    return data


def draw_verify(data: dict[str, Any]) -> list[str]:
    """What does not add up in a draw's file (empty: the winners follow from the seed and list)."""
    problems = []
    idents = data.get("eligible") or []
    if data.get("eligible_sha256") and list_hash(idents) != data["eligible_sha256"]:
        problems.append("the list of eligible ids does not match its SHA-256")
    expected = winners_of(str(data.get("seed", "")), idents, int(data.get("rules", {}).get("prizes", 0)))
    stated = [(w.get("id"), w.get("ticket")) for w in data.get("winners") or []]
    if stated != expected:
        problems.append("the winners are not the smallest tickets of the eligible ids under the seed")
    return problems
