"""The bill shows, beside each meter's lines, the readings the close billed: the month's reading
that counts (the latest by day; an inspector's control reading only when later or the same day)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.documents.selectors import bill_data
from meterdesk.documents.tests.conftest import JUL, reading
from meterdesk.metering.models import ReadingKind
from meterdesk.testing import make_tariff, moscow

pytestmark = pytest.mark.django_db

D = Decimal
JUN = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("control_day", "current", "kind", "basis"),
    [
        (10, (D(1700), D(830)), ReadingKind.CUSTOMER, "actual"),  # the household's of the 20th
        (20, (D(1650), D(810)), ReadingKind.CONTROL, "control"),  # the same day: the inspector's
        (25, (D(1650), D(810)), ReadingKind.CONTROL, "control"),
    ],
)
def test_the_bill_shows_the_reading_that_was_billed(customer, utility, control_day, current, kind, basis):
    _user, meter = customer
    make_tariff(prices=("7.87",))
    reading(meter, JUN, 1600, 800, submitted_at=moscow(2025, 6, 20))
    reading(meter, JUL, 1650, 810, kind=ReadingKind.CONTROL, submitted_at=moscow(2025, 7, control_day, 9))
    reading(meter, JUL, 1700, 830, submitted_at=moscow(2025, 7, 20, 18))
    billing_close(JUL)
    data = bill_data(meter.account, JUL)
    assert data is not None
    assert {line.basis for line in data.statement.lines} == {basis}
    shown = data.readings[meter.pk]
    assert (shown.previous, shown.current, shown.current_kind) == ((D(1600), D(800)), current, kind)
