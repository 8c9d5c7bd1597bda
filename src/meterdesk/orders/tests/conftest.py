"""Fixtures of the orders' tests: the catalogue, a household with an account and a meter."""

from __future__ import annotations

from datetime import date

import pytest

from meterdesk.billing import close as close_module
from meterdesk.domain.periods import add_months, month_start
from meterdesk.orders.catalogue import services_load
from meterdesk.testing import MeterFactory, UserFactory, link, make_tariff
from meterdesk.utility.selectors import utility_now


@pytest.fixture(autouse=True)
def _fresh_pricing_cache():
    """The close caches prices per run id; ids are reused when a test's transaction rolls back."""
    cache = getattr(close_module, "_PRICING", None)
    if isinstance(cache, dict):
        cache.clear()
    yield
    if isinstance(cache, dict):
        cache.clear()


def past_month(back: int = 2) -> date:
    """A month ``back`` months before this one (its window is over: the close may bill it)."""
    return add_months(month_start(utility_now().date()), -back)


@pytest.fixture
def household(db):
    """A login with one account (a two-zone meter, its tariff) and the demo catalogue."""
    services_load(since=date(2024, 1, 1))
    user = UserFactory(email="anna@example.com", email_verified_at=utility_now())
    meter = MeterFactory(zones=2, installed_on=add_months(past_month(), -3), account__number="1000000042")
    link(user, meter.account)
    make_tariff(prices=("9.45", "4.08"))
    make_tariff(prices=("7.87",))
    return user, meter
