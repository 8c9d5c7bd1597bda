"""A reading for a closed month through the API: 422 ``month_closed`` in the request's language,
nothing stored; with the profile's ``next_month`` it is stored for the next month and says so."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from meterdesk.api.schemas import SubmissionOut
from meterdesk.billing.models import AccountClose
from meterdesk.domain.periods import add_months
from meterdesk.metering import check
from meterdesk.metering.models import Reading
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def _this_month() -> date:
    return utility_now().date().replace(day=1)


def _close(account, period: date) -> None:
    zero = Decimal(0)
    AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=zero,
        charges=zero,
        recalculations=zero,
        payments=zero,
        penalty=zero,
        closing_balance=zero,
        due_date=add_months(period, 1).replace(day=10),
        closed_at=timezone.now(),
    )


def _submit(api, meter, **extra):
    return api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1100", "560"]}, **extra)


def test_a_closed_month_is_refused_with_its_code(api, meter):
    month = _this_month()
    _close(meter.account, month)
    response = _submit(api, meter)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "month_closed"
    assert body["details"] == {"period": f"{month:%Y-%m}"}
    assert body["message"] == (
        f"Показания за {_named(month, 'ru')} больше не принимаются: счёт за этот месяц уже выставлен. "
        "Передайте следующие показания в период приёма следующего месяца."
    )
    assert not Reading.objects.exists()


def _named(month, language):
    """``декабрь 2026`` / ``December 2026``."""
    names = {
        "ru": "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
        "en": "January February March April May June July August September October November December",
    }
    return f"{names[language].split()[month.month - 1]} {month.year}"


def test_the_message_in_english(api, meter):
    month = _this_month()
    _close(meter.account, month)
    response = _submit(api, meter, HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["message"] == (
        f"Readings for {_named(month, 'en')} are no longer accepted: that month has already been billed. "
        "Submit your next reading in the next month's window."
    )


def test_an_open_month_answers_without_moved_from(api, meter):
    response = _submit(api, meter)
    assert response.status_code == 201, response.json()
    assert response.json()["moved_from"] is None


def test_with_next_month_it_counts_for_the_next_month(api, meter, monkeypatch):
    real = check.profile_load
    monkeypatch.setattr(
        check,
        "profile_load",
        lambda code: dataclasses.replace(real(code), closed_month_readings="next_month"),
    )
    month = _this_month()
    _close(meter.account, month)
    response = _submit(api, meter)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["period"] == f"{add_months(month, 1):%Y-%m}"
    assert body["moved_from"] == f"{month:%Y-%m}"
    SubmissionOut.model_validate(body)
    assert Reading.objects.get().period == add_months(month, 1)


def _preview(api, meter):
    return api.post_json(f"/meters/{meter.pk}/readings/preview", {"values": ["1100", "560"]})


def test_the_preview_answers_as_the_submission_would(api, meter):
    """The preview is the submission's own check (core.readings.reading_check): a closed month is
    month_closed there too, not a charge for a month that takes no more readings."""
    month = _this_month()
    _close(meter.account, month)
    response = _preview(api, meter)
    assert response.status_code == 422
    assert response.json()["code"] == "month_closed"


def test_with_next_month_the_preview_prices_the_next_month(api, meter, monkeypatch):
    real = check.profile_load
    monkeypatch.setattr(
        check,
        "profile_load",
        lambda code: dataclasses.replace(real(code), closed_month_readings="next_month"),
    )
    month = _this_month()
    _close(meter.account, month)
    response = _preview(api, meter)
    assert response.status_code == 200, response.json()
    assert response.json()["period"] == f"{add_months(month, 1):%Y-%m}"
    assert not Reading.objects.exists()
