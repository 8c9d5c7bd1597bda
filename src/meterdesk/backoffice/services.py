"""The back office's writes: each one recorded in the audit trail (``audit.change_record``) in
the same transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from auditlog.models import LogEntry
from django.db import transaction
from django.utils import timezone

from meterdesk.backoffice.audit import change_record, diff
from meterdesk.core.readings import SubmissionResult, reading_submit
from meterdesk.customers.models import Account, User
from meterdesk.metering.models import Channel, Meter
from meterdesk.utility.selectors import utility_now, utility_zone

#: The channels of readings keyed in by staff: a paper slip, or a customer's call to an operator.
KEYED_CHANNELS = (Channel.PAPER, Channel.OPERATOR)

#: What an operator may correct in an account's details (the residents go by the rules' own
#: procedure, which is not here yet).
CORRECTABLE = ("holder_name", "address", "area", "rooms")


class ReasonRequired(ValueError):
    """A correction without a reason."""

    code = "reason_required"


def account_correct(*, staff: User, account: Account, values: dict[str, Any], reason: str) -> LogEntry | None:
    """Correct the account's details (``CORRECTABLE``) to ``values``, with ``reason``; None if
    nothing changed."""
    if set(values) - set(CORRECTABLE):
        raise ValueError(f"not correctable here: {sorted(set(values) - set(CORRECTABLE))}")
    if not reason.strip():
        raise ReasonRequired("a correction needs a reason")
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        changes = diff(locked, values)
        if not changes:
            return None
        for name, (_before, after) in changes.items():
            setattr(locked, name, after)
        locked.full_clean()
        locked.save(update_fields=list(changes))
        return change_record(
            actor=staff, instance=locked, account=locked, changes=changes, reason=reason.strip()
        )


def slip_moment(slip_date: date, now: datetime | None = None) -> datetime:
    """The moment a reading given on ``slip_date`` counts as given: now if that is today (in the
    utility's zone), else noon of that day there."""
    now = now or timezone.now()
    if slip_date == utility_now(now=now).date():
        return now
    return datetime.combine(slip_date, time(12), tzinfo=utility_zone())


def reading_key(
    *,
    staff: User,
    meter: Meter,
    values: Sequence[str | Decimal | None],
    channel: str,
    slip_date: date,
    confirmed: Collection[str] = (),
    reason: str = "",
) -> SubmissionResult:
    """Store a reading keyed in by ``staff`` from a slip or a call, through the core as every
    channel does (``core.readings.reading_submit``: the same rules and confirmations), given on
    ``slip_date``: the window and the month are those of that day, not of the day it was keyed.
    A reading that replaces the month's accepted one is a correction: it needs ``reason``
    (ReasonRequired, and nothing is stored). Raises what ``reading_submit`` raises."""
    if channel not in KEYED_CHANNELS:
        raise ValueError(f"not a keyed channel: {channel}")
    now = timezone.now()
    if slip_date > utility_now(now=now).date():
        raise ValueError("a slip cannot be dated in the future")
    with transaction.atomic():
        result = reading_submit(
            meter_id=meter.pk,
            values=values,
            channel=channel,
            confirmed=confirmed,
            now=slip_moment(slip_date, now),
        )
        replaced = result.replaced
        if replaced is not None and not reason.strip():
            raise ReasonRequired("a reading that replaces the month's reading needs a reason")
        new = result.reading.values
        old = replaced.values if replaced is not None else ()
        changes = {
            f"t{zone}": (old[zone - 1] if zone <= len(old) else None, value)
            for zone, value in enumerate(new, start=1)
        }
        change_record(
            actor=staff,
            instance=result.reading,
            account=meter.account,
            changes=changes,
            action=LogEntry.Action.CREATE,
            reason=reason.strip(),
            extra={
                "channel": channel,
                "slip_date": slip_date.isoformat(),
                "meter": meter.serial,
                "confirmation": result.reading.confirmation,
                "replaces": replaced.confirmation if replaced is not None else None,
            },
        )
    return result
