"""The reading form when the month is already closed: the message, nothing stored; with the
profile's ``next_month``, the reading is accepted for the next month and the page says so."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from meterdesk.billing.models import AccountClose
from meterdesk.metering import check
from meterdesk.metering.models import Reading
from meterdesk.testing import ReadingFactory, moscow

pytestmark = pytest.mark.django_db

NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)


@pytest.fixture
def anna(client, customer):
    """Anna, logged in on 20 November 2026 (the window is open), November already closed."""
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    zero = Decimal(0)
    AccountClose.objects.create(
        account=meter.account,
        period=NOVEMBER,
        basis="average",
        opening_balance=zero,
        charges=zero,
        recalculations=zero,
        payments=zero,
        penalty=zero,
        closing_balance=zero,
        due_date=date(2026, 12, 10),
        closed_at=timezone.now(),
    )
    client.force_login(user)
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20, 12)):
        yield user, meter


def _post(client, meter, language="en", **extra):
    client.cookies["django_language"] = language
    return client.post(f"/meters/{meter.pk}/readings/new/", {"t1": "1300", "t2": "650"}, **extra)


def test_the_form_says_the_month_is_closed(client, anna):
    response = _post(client, anna[1])
    assert response.status_code == 422
    assert (
        "Readings for November 2026 are no longer accepted: that month has already been billed. "
        "Submit your next reading in the next month&#x27;s window."
    ) in response.content.decode()
    assert not Reading.objects.filter(period__gte=NOVEMBER).exists()


def test_in_russian(client, anna):
    response = _post(client, anna[1], language="ru")
    assert response.status_code == 422
    assert "Показания за ноябрь 2026 больше не принимаются" in response.content.decode()


def test_with_next_month_it_is_accepted_for_december_and_says_so(client, anna, monkeypatch):
    real = check.profile_load
    monkeypatch.setattr(
        check,
        "profile_load",
        lambda code: dataclasses.replace(real(code), closed_month_readings="next_month"),
    )
    response = _post(client, anna[1], follow=True)
    assert response.status_code == 200
    assert (
        "November 2026 has already been billed, so this reading counts for December 2026."
        in response.content.decode()
    )
    assert Reading.objects.get(period__gte=NOVEMBER).period == DECEMBER
