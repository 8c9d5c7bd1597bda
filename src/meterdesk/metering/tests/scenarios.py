"""Billing histories shared by the metering and portal tests: readings, then closed months."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from meterdesk.billing.close import billing_close
from meterdesk.customers.models import Account, PremisesCategory
from meterdesk.metering.models import Meter
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, make_tariff

D = Decimal


def moscow_tariffs() -> None:
    """The Moscow gas-stove prices used throughout: two-zone 9.45 / 4.08 and single-rate 7.87
    (the monthly close always needs the single rate, for a norm)."""
    make_tariff(category=PremisesCategory.GAS_STOVE, prices=("9.45", "4.08"))
    make_tariff(category=PremisesCategory.GAS_STOVE, prices=("7.87",))


@dataclass
class Estimated:
    account: Account
    meter: Meter


def three_estimated_months(
    *, tariffs: bool = True, before_close: Callable[[date], None] | None = None
) -> Estimated:
    """A two-zone meter installed on 2026-01-10 (initial 1000 / 500) with monthly readings from
    February to July 2026 (July: 1620 / 800), then no readings; July to October 2026 are closed.

    - July is billed by the readings: 120 × 9.45 + 50 × 4.08 = 1134.00 + 204.00 = 1338.00;
    - August, September and October by the average since the installation, 620 / 6 = 103.333
      and 300 / 6 = 50 kWh a month: 103.333 × 9.45 = 976.50 (976.49685), 50 × 4.08 = 204.00,
      1180.50 each.

    ``before_close`` is called with each month just before it is closed (to post a payment).
    """
    if tariffs:
        moscow_tariffs()
    account = AccountFactory(opened_on=date(2026, 1, 1), number="7700000001")
    meter = MeterFactory(
        account=account, zones=2, serial="EST-2026", installed_on=date(2026, 1, 10), initial_t1=D(1000)
    )
    for month, (t1, t2) in zip(
        range(2, 8),
        [(1100, 550), (1200, 600), (1300, 650), (1400, 700), (1500, 750), (1620, 800)],
        strict=True,
    ):
        ReadingFactory(meter=meter, period=date(2026, month, 1), t1=D(t1), t2=D(t2))
    for month in (7, 8, 9, 10):
        if before_close is not None:
            before_close(date(2026, month, 1))
        billing_close(date(2026, month, 1))
    return Estimated(account, meter)
