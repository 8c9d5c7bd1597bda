"""A change in the number of residents: counted from its day when reported in time, else from the
report; the account's count and history updated; a closed month rebilled by the norm."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from unittest import mock

import pytest

from meterdesk.billing import close as close_module
from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.core.residents import ResidentsInvalid, residents_report
from meterdesk.customers.models import ResidentsChange
from meterdesk.tariffs.models import Norm
from meterdesk.testing import MOSCOW, AccountFactory, make_tariff

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 12, 14, 12, tzinfo=MOSCOW)


@pytest.fixture(autouse=True)
def _fresh_pricing_cache():
    """The close caches prices per run id, and run ids come again when a test's transaction rolls back."""
    close_module._PRICING.clear()
    yield
    close_module._PRICING.clear()


@pytest.fixture(autouse=True)
def _today():
    with mock.patch("django.utils.timezone.now", return_value=TODAY):
        yield


@pytest.fixture
def unmetered():
    return AccountFactory(residents=2, opened_on=date(2025, 1, 1))


def test_reported_in_time_it_counts_from_its_day(unmetered):
    result = residents_report(account=unmetered, residents=3, changed_on=date(2026, 12, 8), channel="web")
    assert (result.effective_from, result.late, result.rebilled) == (date(2026, 12, 8), False, [])
    change = ResidentsChange.objects.get()
    assert (change.residents, change.reported_on) == (3, date(2026, 12, 14))
    unmetered.refresh_from_db()
    assert unmetered.residents == 3


def test_reported_late_it_counts_from_the_report(unmetered):
    result = residents_report(account=unmetered, residents=1, changed_on=date(2026, 11, 20), channel="web")
    assert (result.effective_from, result.late) == (date(2026, 12, 14), True)


@pytest.mark.parametrize(
    ("residents", "changed_on", "code"),
    [
        (-1, date(2026, 12, 8), "residents_invalid"),
        (21, date(2026, 12, 8), "residents_invalid"),
        (2, date(2026, 12, 15), "date_in_future"),
        (2, date(2024, 12, 31), "date_too_early"),
    ],
)
def test_a_bad_report_is_refused_and_changes_nothing(unmetered, residents, changed_on, code):
    with pytest.raises(ResidentsInvalid) as error:
        residents_report(account=unmetered, residents=residents, changed_on=changed_on, channel="web")
    assert error.value.code == code and not ResidentsChange.objects.exists()


def test_a_change_in_a_closed_month_rebills_it_by_the_norm(unmetered, settings):
    make_tariff(prices=("6.43",), category=unmetered.category)
    Norm.objects.create(
        region="moscow",
        category=unmetered.category,
        rooms=unmetered.rooms,
        residents=1,
        kwh_per_person=Decimal("100"),
        valid_from=date(2024, 1, 1),
    )
    billing_close(date(2026, 11, 1), force=True, reason="test", forced_by="test")
    before = LedgerEntry.objects.filter(account=unmetered, kind=EntryKind.CHARGE).count()
    assert before >= 1
    result = residents_report(
        account=unmetered,
        residents=4,
        changed_on=date(2026, 12, 8),
        channel="web",
        reported_on=date(2026, 12, 8),
    )
    assert result.rebilled == []  # December is not closed
    late_in_november = residents_report(
        account=unmetered,
        residents=4,
        changed_on=date(2026, 11, 16),
        reported_on=date(2026, 11, 20),
        channel="operator",
    )
    assert late_in_november.effective_from == date(2026, 11, 16)
    assert late_in_november.rebilled and all(e.period >= date(2026, 11, 1) for e in late_in_november.rebilled)
