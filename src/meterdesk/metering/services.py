"""Writes of readings. ``reading_submit`` is the one way a reading enters meterdesk: the web form,
the API, e-mail, the phone line, the terminal and the back office all call it."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from meterdesk.customers.models import User
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import CLOSED_MONTH_NEXT, RulesProfile, profile_load
from meterdesk.domain.readings import CheckedReading, Issue
from meterdesk.domain.window import ReadingWindow
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.metering.selectors import (
    ChargePreview,
    Prefetched,
    month_closed,
    month_closed_sql,
    reading_charge,
    submission_check,
    submission_history,
)
from meterdesk.sqlrows import Rows
from meterdesk.utility.selectors import reading_window_get, reference_get, utility_now

log = logging.getLogger(__name__)


class ReadingError(Exception):
    """A reading was not accepted; nothing was stored. ``code`` is stable for the channels."""

    code = "reading_error"


class WindowClosed(ReadingError):
    code = "window_closed"

    def __init__(self, window: ReadingWindow, opens_on: date, closes_on: date) -> None:
        super().__init__(f"readings are accepted from day {window.start_day} to day {window.end_day}")
        self.window = window
        self.opens_on = opens_on
        self.closes_on = closes_on


class MeterNotInService(ReadingError):
    code = "meter_not_in_service"

    def __init__(self, meter: Meter) -> None:
        super().__init__(f"meter {meter.serial} is {meter.status}")
        self.meter = meter


class MonthClosed(ReadingError):
    """The month the reading is for is already closed (billed) for the meter's account."""

    code = "month_closed"

    def __init__(self, period: date) -> None:
        super().__init__(f"{period:%Y-%m} is already closed")
        self.period = period


class ReadingInvalid(ReadingError):
    code = "validation_error"

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(", ".join(f"zone {i.zone}: {i.code}" for i in issues))
        self.issues = tuple(issues)

    @property
    def codes(self) -> set[str]:
        return {i.code for i in self.issues}


class NeedsConfirmation(ReadingError):
    code = "needs_confirmation"

    def __init__(self, issues: Sequence[Issue], checked: CheckedReading) -> None:
        super().__init__(", ".join(f"zone {i.zone}: {i.code}" for i in issues))
        self.issues = tuple(issues)
        self.checked = checked

    @property
    def codes(self) -> set[str]:
        return {i.code for i in self.issues}


@dataclass(frozen=True)
class SubmissionResult:
    reading: Reading
    replaced: Reading | None
    previous_values: tuple[Decimal, ...]
    charge: ChargePreview
    #: The closed month the reading was given for, when it counts for the next open month
    #: instead (the rules profile's ``closed_month_readings: next_month``); None otherwise.
    moved_from: date | None = None


_READING = Rows(Reading, "r")
_SUPERSEDE_SQL = "UPDATE metering_reading SET status = %s WHERE id = %s AND status = %s"


def _open_period(
    account_id: int, period: date, profile: RulesProfile, closed: bool | None
) -> tuple[date, date | None]:
    """The month a reading given for ``period`` counts for, and the closed month it was moved
    from (None if ``period`` is open). A closed month is refused (MonthClosed) unless the profile
    moves such readings to the next open month. ``closed``: ``month_closed`` of ``period`` if the
    caller has read it with the meter (None: read it here)."""
    if not (month_closed(account_id, period) if closed is None else closed):
        return period, None
    if profile.closed_month_readings != CLOSED_MONTH_NEXT:
        raise MonthClosed(period)
    month = add_months(period, 1)
    while month_closed(account_id, month):  # closed ahead (a forced close of a future month)
        month = add_months(month, 1)
    return month, period


def _supersede(reading: Reading) -> bool:
    """Mark the month's accepted reading superseded, if it still is (one statement, by hand)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SUPERSEDE_SQL, [ReadingStatus.SUPERSEDED.value, reading.pk, ReadingStatus.ACCEPTED.value]
        )
        changed = cursor.rowcount == 1
    if changed:
        reading.status = ReadingStatus.SUPERSEDED
    return changed


def _new_confirmation_number() -> str:
    """A random 12-digit number (unique: the insert skips a taken one, and the caller tries again)."""
    return f"{secrets.randbelow(10**12):012d}"


def reading_submit(
    *,
    meter: Meter,
    values: Sequence[str | int | Decimal | None],
    channel: str,
    submitted_by: User | None = None,
    confirmed: Collection[str] = (),
    kind: str = ReadingKind.CUSTOMER,
    now: datetime | None = None,
    language: str | None = None,
    locked: bool = False,
    prefetched: Prefetched | None = None,
) -> SubmissionResult:
    """Check and store one reading of every zone of ``meter`` for the current month.

    Raises WindowClosed (customer readings outside the window), MeterNotInService, MonthClosed
    (the month is already closed for the account, unless the rules profile moves such a reading
    to the next open month: ``SubmissionResult.moved_from``),
    ReadingInvalid (the values break a rule) or NeedsConfirmation (a rollover or an unusually
    high consumption that the submitter has not confirmed in ``confirmed``: tokens naming the
    code, zone and value confirmed, ``high_consumption:1=98765``, from
    ``CheckedReading.token``; a changed value is asked about again). On any
    error nothing is stored. A second accepted submission for the same month supersedes the
    first; both stay in history. The submitter gets an e-mail with the confirmation number
    once the transaction has committed.

    ``locked``: the caller has read ``meter`` (with its account) by ``select_for_update`` in the
    transaction it is in, and rolls that transaction back on any error; the meter is then used
    as it is (no second read, no savepoint). Otherwise the meter is read again and locked here.
    ``prefetched``: what ``meter_lock_for_user`` read with the meter (with ``locked``).
    """
    if locked and not connection.in_atomic_block:
        raise RuntimeError("locked=True needs the caller's transaction that locked the meter")
    if prefetched is not None and not locked:
        raise RuntimeError("prefetched goes with locked=True: it was read with the meter's lock")
    reference = reference_get() if prefetched is None else reference_get(stamp=prefetched.stamp)
    utility = reference.utility
    moment = now or timezone.now()
    local = utility_now(utility, moment)
    today = local.date()
    period = today.replace(day=1)
    if kind == ReadingKind.CUSTOMER:
        window = reading_window_get(utility)
        if not window.is_open(today):
            opens_on = window.next_opening(today)
            raise WindowClosed(window, opens_on, window.bounds(opens_on.year, opens_on.month)[1])

    # Whether the month is closed for the account, if read with the meter (else below).
    closed = prefetched.month_closed if prefetched is not None and prefetched.period == period else None
    with transaction.atomic(savepoint=not locked):
        # Serialise submissions for one meter (PostgreSQL row lock; SQLite's IMMEDIATE
        # transactions already serialise writers).
        if not locked:
            # With whether the month is closed, in the same statement.
            day = connection.ops.adapt_datefield_value(period)
            meter = (
                Meter.objects.select_for_update()
                .select_related("account")
                .annotate(
                    # The SQL is built from the models' names; the month is a parameter.
                    month_closed=RawSQL(month_closed_sql(f"{Meter._meta.db_table}.account_id"), [day, day])  # noqa: S611
                )
                .get(pk=meter.pk)
            )
            closed = bool(meter.month_closed)  # type: ignore[attr-defined]
        if meter.status in (MeterStatus.REMOVED, MeterStatus.LOST):
            raise MeterNotInService(meter)
        profile = profile_load(utility.rules_profile)
        period, moved_from = _open_period(meter.account_id, period, profile, closed)
        # The meter's readings, read once (under the meter's lock) for the previous values, the
        # average, the month's reading to supersede and the charge.
        accepted, earlier = submission_history(meter, period)
        checked, previous = submission_check(
            meter=meter, values=values, period=period, at=moment, kind=kind, history=(accepted, earlier)
        )
        if not checked.ok:
            raise ReadingInvalid(checked.errors)
        missing = checked.unconfirmed(frozenset(confirmed))
        if missing:
            raise NeedsConfirmation(missing, checked)

        existing = next((r for r in accepted if r.period == period and r.kind == kind), None)
        # Only a reading still accepted is superseded (the row lock of the UPDATE waits for any
        # other writer of it, as SELECT … FOR UPDATE did).
        if existing is not None and not _supersede(existing):
            existing = None  # pragma: no cover - changed by another writer meanwhile
        padded = [*checked.values, None, None][:3]
        reading = Reading(
            meter=meter,
            account=meter.account,
            period=period,
            t1=checked.values[0],
            t2=padded[1],
            t3=padded[2],
            kind=kind,
            channel=channel,
            status=ReadingStatus.ACCEPTED,
            submitted_at=moment,
            submitted_by=submitted_by,
            replaces=existing,
            confirmed=",".join(sorted({c.code for c in checked.confirmations})),
            rolled_over=any(checked.rolled_over),
        )
        # Stored as save() would (Reading has no signal receivers), by hand: on the hot path. A
        # confirmation number already taken (one chance in 10^12 per reading stored) stores
        # nothing; the next number is tried.
        while True:
            reading.confirmation = _new_confirmation_number()
            if _READING.insert_unless_taken(reading, "confirmation") is not None:
                break
        reading.meter = meter
        # The month's charge by the billing engine, as the bill will show it.
        charge = reading_charge(
            reading, history=(accepted, earlier), reference=reference, prefetched=prefetched
        )
        if submitted_by is not None and submitted_by.email:
            lang = language or submitted_by.language or settings.LANGUAGE_CODE
            _confirmation_enqueue(reading, charge, submitted_by.email, lang)
    return SubmissionResult(reading, existing, previous.values, charge, moved_from)


def _confirmation_enqueue(reading: Reading, charge: ChargePreview, email: str, language: str) -> None:
    """Have the confirmation e-mailed once the transaction has committed.

    Where tasks run on workers (the database task backend: production), the mail is stored in the
    outbox (``metering.outbox``) in this very transaction: it exists if and only if the reading
    does, costs one insert instead of rendering and sending the mail while the customer waits, and
    the senders send it in a batch, retrying if the mail server refuses. With any other backend
    (the immediate one of the tests and one-off scripts) it is sent on commit, so a reading that is
    rolled back never sends a mail.
    """
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
    from django_tasks_db import DatabaseBackend

    from meterdesk.metering.outbox import charge_dumps, outbox_add

    if isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        outbox_add(reading, charge_dumps(charge), email, language, now=reading.submitted_at)
    else:
        transaction.on_commit(lambda: confirmation_send(reading, charge, email, language))


def confirmation_send(reading: Reading, charge: ChargePreview, email: str, language: str) -> None:
    """E-mail the customer's proof of submission at once (without the outbox: tests, one-off
    scripts). A mail failure never undoes the reading: it is logged."""
    from meterdesk.metering.outbox import confirmation_message

    try:
        confirmation_message(reading, charge, email, language).send()
    except Exception:
        log.exception("could not e-mail the confirmation of reading %s", reading.pk)
