"""A reading for a month that is already closed: refused with ``month_closed`` (nothing stored),
or, if the rules profile says ``closed_month_readings: next_month``, stored for the next open
month and the submitter told so."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from meterdesk.billing.models import AccountClose, BillingRun, RunStatus
from meterdesk.core.readings import reading_submit
from meterdesk.domain.profiles import PROFILE_DIR, ProfileError, profile_codes, profile_load, profile_parse
from meterdesk.metering import check
from meterdesk.metering.check import MonthClosed
from meterdesk.metering.messages import month_closed_message, month_moved_message
from meterdesk.metering.models import Channel, Reading, ReadingKind, ReadingStatus
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, moscow

pytestmark = pytest.mark.django_db

NOW = moscow(2026, 11, 20)  # inside the 15-26 window
OCTOBER, NOVEMBER, DECEMBER, JANUARY = (
    date(2026, 10, 1),
    date(2026, 11, 1),
    date(2026, 12, 1),
    date(2027, 1, 1),
)


def submit(meter, values, **kwargs):
    kwargs.setdefault("channel", Channel.WEB)
    kwargs.setdefault("now", NOW)
    return reading_submit(meter_id=meter.pk, values=values, **kwargs)


def close_account(account, period):
    """The account's statement of ``period``, as the close writes it."""
    return AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=Decimal(0),
        charges=Decimal(0),
        recalculations=Decimal(0),
        payments=Decimal(0),
        penalty=Decimal(0),
        closing_balance=Decimal(0),
        due_date=date(2026, 12, 10),
        closed_at=timezone.now(),
    )


def run_of(period, status=RunStatus.DONE):
    return BillingRun.objects.create(
        period=period, rules_profile="ru-354-current", status=status, started_at=timezone.now(), chunk_size=10
    )


@pytest.fixture
def meter(customer):
    meter = customer[1]
    ReadingFactory(meter=meter, period=OCTOBER, t1=1200, t2=600)
    return meter


@pytest.fixture
def next_month(monkeypatch):
    """The utility's rules profile with ``closed_month_readings: next_month``."""
    real = check.profile_load

    def load(code: str):
        return dataclasses.replace(real(code), closed_month_readings="next_month")

    monkeypatch.setattr(check, "profile_load", load)


class TestRefused:
    def test_a_closed_statement_of_the_account_refuses_the_reading(self, meter):
        close_account(meter.account, NOVEMBER)
        before = Reading.objects.count()
        with pytest.raises(MonthClosed) as caught:
            submit(meter, ["1300", "650"])
        assert caught.value.code == "month_closed"
        assert caught.value.period == NOVEMBER
        assert Reading.objects.count() == before

    def test_a_finished_run_of_the_month_refuses_the_reading(self, meter):
        run_of(NOVEMBER)
        with pytest.raises(MonthClosed):
            submit(meter, ["1300", "650"])
        assert not Reading.objects.filter(period=NOVEMBER).exists()

    def test_a_run_still_running_does_not_refuse_an_account_it_has_not_closed(self, meter):
        run_of(NOVEMBER, status=RunStatus.RUNNING)
        assert submit(meter, ["1300", "650"]).reading.period == NOVEMBER

    def test_another_accounts_statement_does_not_refuse_it(self, meter):
        close_account(AccountFactory(), NOVEMBER)
        assert submit(meter, ["1300", "650"]).reading.period == NOVEMBER

    def test_the_previous_months_statement_does_not_refuse_it(self, meter):
        close_account(meter.account, OCTOBER)
        run_of(OCTOBER)
        assert submit(meter, ["1300", "650"]).reading.period == NOVEMBER

    def test_an_inspectors_control_reading_is_refused_too(self, meter):
        close_account(meter.account, NOVEMBER)
        with pytest.raises(MonthClosed):
            submit(
                meter,
                ["1300", "650"],
                kind=ReadingKind.CONTROL,
                channel=Channel.INSPECTOR,
                now=moscow(2026, 11, 28),
            )
        assert not Reading.objects.filter(period=NOVEMBER).exists()

    def test_the_accepted_reading_of_the_month_stays(self, meter):
        first = submit(meter, ["1300", "650"]).reading
        close_account(meter.account, NOVEMBER)
        with pytest.raises(MonthClosed):
            submit(meter, ["1310", "655"])
        first.refresh_from_db()
        assert first.status == ReadingStatus.ACCEPTED

    def test_the_message_in_english_and_russian(self):
        with translation.override("en"):
            assert month_closed_message(NOVEMBER) == (
                "Readings for November 2026 are no longer accepted: that month has already been billed. "
                "Submit your next reading in the next month's window."
            )
        with translation.override("ru"):
            assert month_closed_message(NOVEMBER) == (
                "Показания за ноябрь 2026 больше не принимаются: счёт за этот месяц уже выставлен. "
                "Передайте следующие показания в период приёма следующего месяца."
            )


class TestNextMonth:
    def test_the_reading_counts_for_the_next_month(self, meter, next_month):
        close_account(meter.account, NOVEMBER)
        result = submit(meter, ["1300", "650"])
        assert result.reading.period == DECEMBER
        assert result.moved_from == NOVEMBER
        assert result.reading.status == ReadingStatus.ACCEPTED
        assert result.charge.period == DECEMBER
        # Consumption since October's reading (two months: November was billed without it).
        assert result.charge.consumption == (Decimal(100), Decimal(50))
        assert result.charge.months == 2

    def test_past_every_closed_month(self, meter, next_month):
        close_account(meter.account, NOVEMBER)
        run_of(DECEMBER)
        assert submit(meter, ["1300", "650"]).reading.period == JANUARY

    def test_an_open_month_is_not_moved(self, meter, next_month):
        result = submit(meter, ["1300", "650"])
        assert (result.reading.period, result.moved_from) == (NOVEMBER, None)

    def test_a_second_reading_replaces_the_first_in_the_next_month(self, meter, next_month):
        close_account(meter.account, NOVEMBER)
        first = submit(meter, ["1300", "650"]).reading
        second = submit(meter, ["1310", "655"])
        assert second.replaced == first
        assert second.reading.period == DECEMBER

    def test_the_message_in_english_and_russian(self):
        with translation.override("en"):
            assert month_moved_message(NOVEMBER, DECEMBER) == (
                "November 2026 has already been billed, so this reading counts for December 2026."
            )
        with translation.override("ru"):
            assert month_moved_message(NOVEMBER, DECEMBER) == (
                "Счёт за ноябрь 2026 уже выставлен, поэтому эти показания учтены за декабрь 2026."
            )


class TestProfileOption:
    def test_the_shipped_profiles_refuse(self):
        for code in profile_codes():
            assert profile_load(code).closed_month_readings == "refuse"

    def test_refuse_by_default(self):
        data = _profile_data()
        del data["closed_month_readings"]
        assert profile_parse(data).closed_month_readings == "refuse"

    def test_next_month(self):
        data = _profile_data()
        data["closed_month_readings"] = "next_month"
        assert profile_parse(data).closed_month_readings == "next_month"

    def test_anything_else_is_refused(self):
        data = _profile_data()
        data["closed_month_readings"] = "ignore"
        with pytest.raises(ProfileError, match="closed_month_readings must be refuse or next_month"):
            profile_parse(data)


def _profile_data():
    import json

    return json.loads((PROFILE_DIR / "ru-354-current.json").read_text(encoding="utf-8"))


def test_a_meter_of_another_account_is_not_refused(meter):
    close_account(meter.account, NOVEMBER)
    other = MeterFactory(zones=2)
    ReadingFactory(meter=other, period=OCTOBER, t1=1200, t2=600)
    assert submit(other, ["1300", "650"]).reading.period == NOVEMBER
