"""Fixtures of the documents tests: the utility's bank details, a customer with a closed history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing import close as close_module
from meterdesk.billing.close import billing_close
from meterdesk.billing.services import payment_post
from meterdesk.seed import DEMO_UTILITY_DETAILS
from meterdesk.testing import ReadingFactory, make_tariff
from meterdesk.utility.selectors import utility_get

D = Decimal
JUL, AUG, SEP, OCT = (date(2025, m, 1) for m in (7, 8, 9, 10))


@pytest.fixture(autouse=True)
def _fresh_pricing_cache():
    """The close caches prices per run id; ids are reused when a test's transaction rolls back."""
    cache = getattr(close_module, "_PRICING", None)
    if isinstance(cache, dict):
        cache.clear()
    yield
    if isinstance(cache, dict):
        cache.clear()


@pytest.fixture
def utility(db):
    utility = utility_get()
    for field, value in DEMO_UTILITY_DETAILS.items():
        setattr(utility, field, value)
    utility.save()
    return utility


def reading(meter, period, t1, t2, **kwargs):
    return ReadingFactory(meter=meter, period=period, t1=D(t1), t2=D(t2), **kwargs)


@pytest.fixture
def history(customer, utility):
    """Anna's two-zone meter (9.45 / 4.08 ₽): readings every month of the first half of 2025, July
    read (1700/800), August estimated from the average, September read (2000/950) so that August is
    recalculated; a payment of 1000 ₽ in September. July, August and September are closed."""
    user, meter = customer
    make_tariff(prices=("7.87",))
    account = meter.account
    account.holder_name = "Сидорова Анна Петровна"
    account.address = "г. Москва, ул. Тестовая, д. 7, кв. 12"
    account.save()
    for month in range(1, 7):
        reading(meter, date(2025, month, 1), 1000 + 100 * month, 500 + 50 * month)
    reading(meter, JUL, 1700, 830)
    billing_close(JUL, force=True)
    billing_close(AUG)
    payment_post(
        account=account, amount=D("1000.00"), paid_on=date(2025, 9, 5), external_id="card-42", source="card"
    )
    reading(meter, SEP, 2000, 950, confirmation="100000000001")
    billing_close(SEP)
    return user, meter
