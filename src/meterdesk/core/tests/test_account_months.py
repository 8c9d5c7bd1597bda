"""Whether the month's readings are in (core.accounts.month_readings) and the months of an
account's history with what each was billed (core.accounts.history_months)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from unittest import mock

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.selectors import statements_of
from meterdesk.core.accounts import history_months, meter_card, month_readings, window_state
from meterdesk.metering.models import MeterStatus
from meterdesk.metering.selectors import account_history
from meterdesk.testing import MeterFactory, ReadingFactory, make_tariff, moscow

pytestmark = pytest.mark.django_db

NOVEMBER = date(2026, 11, 1)


def _readings(meter_list, today):
    account = meter_list[0].account
    cards = [meter_card(m, account, today) for m in meter_list]
    return month_readings(cards, window_state(today=today), today)


def test_month_readings_given_when_every_meter_has_the_months_reading(customer):
    _user, meter = customer
    second = MeterFactory(account=meter.account, zones=1)
    ReadingFactory(meter=meter, period=date(2026, 10, 1), submitted_at=moscow(2026, 10, 20))
    today = date(2026, 11, 20)

    before = _readings([meter, second], today)
    assert before.period == NOVEMBER
    assert not before.given
    assert [c.meter for c in before.missing] == [meter, second]
    assert before.given_on is None
    assert before.window.open

    ReadingFactory(meter=meter, period=NOVEMBER, submitted_at=moscow(2026, 11, 18, 9))
    half = _readings([meter, second], today)
    assert not half.given
    assert [c.meter for c in half.missing] == [second]
    assert half.given_on == moscow(2026, 11, 18, 9)

    ReadingFactory(meter=second, period=NOVEMBER, t1=1200, submitted_at=moscow(2026, 11, 19, 9))
    both = _readings([meter, second], today)
    assert both.given and both.missing == []
    assert both.given_on == moscow(2026, 11, 19, 9)


def test_month_readings_leave_out_meters_that_take_none(customer):
    _user, meter = customer
    meter.status = MeterStatus.LOST
    meter.save()
    status = _readings([meter], date(2026, 11, 20))
    assert status.meters == []
    assert not status.given  # nothing to read is not "given"


def test_month_readings_outside_the_window_name_the_next_one(customer):
    _user, meter = customer
    status = _readings([meter], date(2026, 11, 28))
    assert not status.window.open
    assert status.window.opens_on == date(2026, 12, 15)
    assert status.period == NOVEMBER


@pytest.fixture
def billed_history(customer):
    """Readings in July 2025, June and July 2026; July 2026 closed (120 / 50 kWh since June:
    120 × 9.45 + 50 × 4.08 = 1338.00)."""
    _user, meter = customer
    make_tariff(prices=("7.87",))  # the close needs the single rate too
    ReadingFactory(meter=meter, period=date(2025, 7, 1), t1=1050, t2=520)
    ReadingFactory(meter=meter, period=date(2026, 6, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 7, 1), t1=1220, t2=600)
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 8, 1)):
        billing_close(date(2026, 7, 1))
    return meter.account


def test_history_months_bill_closed_months_and_estimate_the_others(billed_history):
    account = billed_history
    months = history_months(account_history(account, until=date(2026, 8, 1)), statements_of(account))
    by_period = {m.period: m for m in months}
    assert [m.period for m in months[:3]] == [date(2026, 8, 1), date(2026, 7, 1), date(2026, 6, 1)]

    july = by_period[date(2026, 7, 1)]
    assert july.billed == Decimal("1338.00")
    assert july.estimate is None
    assert july.amount == Decimal("1338.00")
    assert july.kwh == Decimal(170)

    # June is not closed: its charge by the readings (50 / 30 kWh since July 2025), marked so.
    june = by_period[date(2026, 6, 1)]
    assert june.billed is None
    assert june.estimate == Decimal("594.90")  # 50 × 9.45 + 30 × 4.08
    assert june.amount == june.estimate

    # August: neither billed nor read.
    august = by_period[date(2026, 8, 1)]
    assert august.billed is None and august.estimate is None and august.amount is None


def test_history_months_put_the_same_month_a_year_before_beside_each(billed_history):
    account = billed_history
    months = history_months(account_history(account, until=date(2026, 8, 1)), statements_of(account))
    by_period = {m.period: m for m in months}
    july = by_period[date(2026, 7, 1)]
    assert july.year_before is not None
    assert july.year_before.period == date(2025, 7, 1)
    assert july.year_before.kwh == Decimal(70)  # 50 + 20 since installation
    assert july.year_before.billed is None
    # The account opened in January 2024: its first year has no year before.
    assert by_period[date(2024, 6, 1)].year_before is None
    year_before = by_period[date(2025, 6, 1)].year_before
    assert year_before is not None and year_before.period == date(2024, 6, 1)
