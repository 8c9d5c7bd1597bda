"""How a reading enters meterdesk, the same for every channel.

``reading_check``: every read and rule, no writes; the outcome is the reading's charge, or the
rule it breaks with its stable code, and the confirmations it still needs. ``reading_submit``:
the same check with the meter locked, then ``metering.services.reading_store`` and the
confirmation e-mail, in one transaction. A channel parses its input, calls one of the two and
words the outcome (``metering.messages``); its contract is tests/test_channel_contract.py.

The rules are metering's (``metering.check.reading_rules``), the charge is billing's
(``billing.preview``): this module is where the two meet. The meter is read with what both need
besides, in one statement: its account, the stored billing state before the month, the reference
data's stamp and whether the month is closed (the API's hot path, docs/benchmarks.md).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from meterdesk.billing.preview import ChargePreview, StoredState, charge_preview, state_before_sql
from meterdesk.billing.selectors import month_closed, month_closed_sql
from meterdesk.core.confirmations import confirmation_enqueue
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.domain.readings import CheckedReading, Issue
from meterdesk.metering.check import ReadingError, Ruling, reading_rules
from meterdesk.metering.models import Meter, Reading, ReadingKind
from meterdesk.metering.services import reading_store
from meterdesk.sqlrows import Rows
from meterdesk.utility.selectors import (
    REFERENCE_STAMP_SUBQUERY,
    Reference,
    reference_get,
    reference_peek,
    utility_now,
)

#: The code of an outcome that breaks no rule and needs no confirmation.
ACCEPTED = "accepted"


@dataclass(frozen=True)
class ReadingOutcome:
    """What ``reading_check`` found: the rules' ``ruling`` and, unless a rule is broken, the
    month's ``charge`` as the bill will show it."""

    ruling: Ruling
    charge: ChargePreview | None

    @property
    def meter(self) -> Meter:
        return self.ruling.meter

    @property
    def period(self) -> date:
        """The month the reading counts for."""
        return self.ruling.period

    @property
    def error(self) -> ReadingError | None:
        """The rule broken (the meter, the month, the values), the window aside."""
        return self.ruling.error

    @property
    def checked(self) -> CheckedReading | None:
        return self.ruling.checked

    @property
    def needed(self) -> tuple[Issue, ...]:
        """The confirmations not given yet."""
        return self.ruling.needed

    @property
    def refusal(self) -> ReadingError | None:
        """Why a submission of the reading now is refused (``Ruling.refusal``); None: accepted."""
        return self.ruling.refusal

    @property
    def code(self) -> str:
        """The stable code of the outcome of a submission: ``accepted`` or the refusal's."""
        refusal = self.refusal
        return ACCEPTED if refusal is None else refusal.code


@dataclass(frozen=True)
class SubmissionResult:
    reading: Reading
    replaced: Reading | None
    previous_values: tuple[Decimal, ...]
    charge: ChargePreview
    #: The closed month the reading was given for, when it counts for the next open month
    #: instead (the rules profile's ``closed_month_readings: next_month``); None otherwise.
    moved_from: date | None = None


@dataclass(frozen=True)
class _Read:
    """The meter with what its check needs besides, read in one statement for ``period``."""

    meter: Meter
    period: date
    stored: StoredState
    reference: Reference
    closed: bool  # whether ``period`` is closed for the meter's account

    def month_closed(self, period: date) -> bool:
        return self.closed if period == self.period else month_closed(self.meter.account_id, period)


_METER = Rows(Meter, "m")
_ACCOUNT = Rows(Account, "a")


@functools.cache
def _read_sql(vendor: str, of_login: bool, lock: bool) -> str:
    # Names from the models; the values are parameters.
    sql = (
        f"SELECT {_METER.columns}, {_ACCOUNT.columns}, {state_before_sql('m.id')}, "  # noqa: S608
        f"{REFERENCE_STAMP_SUBQUERY}, {month_closed_sql('m.account_id')} "
        f"FROM {Meter._meta.db_table} m JOIN {Account._meta.db_table} a ON a.id = m.account_id "
        "WHERE m.id = %s"
    )
    if of_login:
        sql += (
            f" AND EXISTS (SELECT 1 FROM {AccountLink._meta.db_table} l "  # noqa: S608
            "WHERE l.account_id = m.account_id AND l.user_id = %s)"
        )
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF m"  # the meter's row only: not the account, which a rebill locks
    elif lock and connection.features.has_select_for_update:  # pragma: no cover - no such backend
        sql += " FOR UPDATE"
    return sql


def _read(meter_id: int, login: User | None, at: datetime, *, lock: bool) -> _Read | None:
    """The meter ``meter_id``, None if there is none (or, ``login`` given, if the meter is not
    of one of its accounts); locked for the rest of the transaction if ``lock`` (submissions for
    one meter queue here; SQLite's IMMEDIATE transactions already serialise writers)."""
    # The month as the process's copy of the reference data has it (the time zone does not
    # change in practice; were it to, the facts are read again for the month the rules judge).
    period = utility_now(reference_peek().utility, at).date().replace(day=1)
    day = connection.ops.adapt_datefield_value(period)
    params: list[Any] = [day, day, day, meter_id]
    if login is not None:
        params.append(login.pk)
    with connection.cursor() as cursor:
        cursor.execute(_read_sql(connection.vendor, login is not None, lock), params)
        row = cursor.fetchone()
    if row is None:
        return None
    meter = _METER.build(row)
    meter.account = _ACCOUNT.build(row, _METER.width)
    at_column = _METER.width + _ACCOUNT.width
    state, stamp, closed = row[at_column : at_column + 3]
    reference = reference_get(stamp=None if stamp is None else int(stamp))
    return _Read(meter, period, StoredState(period, state), reference, bool(closed))


def _missing(meter_id: int, login: User | None) -> Meter.DoesNotExist:
    return Meter.DoesNotExist(f"no meter {meter_id}" + ("" if login is None else " of the login's accounts"))


def _ruling(
    read: _Read,
    values: Sequence[str | int | Decimal | None],
    kind: str,
    confirmed: Collection[str],
    at: datetime,
) -> Ruling:
    return reading_rules(
        meter=read.meter,
        values=values,
        at=at,
        reference=read.reference,
        month_closed=read.month_closed,
        kind=kind,
        confirmed=confirmed,
    )


def _charge(read: _Read, ruling: Ruling) -> ChargePreview:
    return charge_preview(
        meter=ruling.meter,
        values=ruling.values,
        period=ruling.period,
        kind=ruling.kind,
        at=ruling.at,
        history=ruling.history,
        reference=read.reference,
        stored=read.stored,
    )


def reading_check(
    *,
    meter_id: int,
    values: Sequence[str | int | Decimal | None],
    login: User | None = None,
    kind: str = ReadingKind.CUSTOMER,
    confirmed: Collection[str] = (),
    now: datetime | None = None,
) -> ReadingOutcome:
    """Check a reading of every zone of meter ``meter_id`` as a submission given ``now``
    would be checked, and price its month, without writing anything.

    ``login``: the customer's login the meter must belong to (Meter.DoesNotExist if it does not,
    as if there were no such meter); None for a staff channel. ``confirmed``: the confirmation
    tokens sent (``CheckedReading.token``). The outcome's ``charge`` is None when a rule is broken
    (``error``); a closed window and missing confirmations still come with the charge."""
    at = now or timezone.now()
    read = _read(meter_id, login, at, lock=False)
    if read is None:
        raise _missing(meter_id, login)
    ruling = _ruling(read, values, kind, confirmed, at)
    return ReadingOutcome(ruling, None if ruling.error is not None else _charge(read, ruling))


def reading_submit(
    *,
    meter_id: int,
    values: Sequence[str | int | Decimal | None],
    channel: str,
    submitted_by: User | None = None,
    login: User | None = None,
    confirmed: Collection[str] = (),
    kind: str = ReadingKind.CUSTOMER,
    now: datetime | None = None,
    language: str | None = None,
) -> SubmissionResult:
    """Check and store one reading of every zone of meter ``meter_id``, given now.

    Raises the refusal of ``reading_check`` (a ``ReadingError``: WindowClosed for a customer's
    reading outside the window, MeterNotInService, MonthClosed, ReadingInvalid, or
    NeedsConfirmation for a rollover or an unusually high consumption not confirmed in
    ``confirmed``), or Meter.DoesNotExist (``login`` as for ``reading_check``); then nothing is
    stored. A reading for a closed month counts for the next open month if the rules profile
    says so (``SubmissionResult.moved_from``). A second accepted submission for the same month
    supersedes the first; both stay in history. ``submitted_by`` gets an e-mail with the
    confirmation number, in ``language`` (else theirs), once the transaction has committed.
    """
    at = now or timezone.now()
    # In a caller's transaction (the API stores its idempotent answer in it) no savepoint is
    # taken, on the hot path: a refusal is raised once the block is left, so that the caller's
    # transaction stays usable (any other error leaves it to be rolled back).
    with transaction.atomic(savepoint=False):
        read = _read(meter_id, login, at, lock=True)
        ruling = None if read is None else _ruling(read, values, kind, confirmed, at)
        if read is not None and ruling is not None and ruling.refusal is None:
            # The month's charge by the billing engine, as the bill will show it.
            charge = _charge(read, ruling)
            stored = reading_store(ruling=ruling, channel=channel, submitted_by=submitted_by)
            if submitted_by is not None and submitted_by.email:
                lang = language or submitted_by.language or settings.LANGUAGE_CODE
                confirmation_enqueue(stored.reading, charge, submitted_by.email, lang)
    if ruling is None:
        raise _missing(meter_id, login)
    if ruling.refusal is not None:
        raise ruling.refusal
    assert ruling.previous is not None  # noqa: S101 - an accepted reading was checked against it
    return SubmissionResult(
        stored.reading, stored.replaced, ruling.previous.values, charge, ruling.moved_from
    )
