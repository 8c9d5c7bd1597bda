"""The account views every channel shows (core.accounts): the window, a meter card, the money,
a statement's lines with their basis in words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import translation

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.selectors import statement_get
from meterdesk.billing.services import payment_post
from meterdesk.core.accounts import (
    control_months,
    control_months_of,
    meter_card,
    money_summary,
    statement_lines,
    window_state,
)
from meterdesk.domain import billing as engine
from meterdesk.metering.messages import window_message
from meterdesk.testing import ReadingFactory, UserFactory, make_tariff, moscow
from meterdesk.utility.selectors import reading_window_get

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def july_billed(customer):
    """1100 / 550 in June, 1220 / 600 in July 2026; July closed: 120 × 9.45 + 50 × 4.08 = 1338.00."""
    user, meter = customer
    make_tariff(prices=("7.87",))
    ReadingFactory(meter=meter, period=date(2026, 6, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 7, 1), t1=1220, t2=600)
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 8, 1)):
        billing_close(date(2026, 7, 1))
    return user, meter


def test_window_open_on_its_first_day_and_closed_the_day_after_its_last(db):
    window = reading_window_get()
    first = window_state(today=date(2026, 11, window.start_day))
    assert first.open
    assert first.opens_on == date(2026, 11, window.start_day)
    assert first.closes_on == date(2026, 11, window.end_day)
    assert (first.start_day, first.end_day) == (window.start_day, window.end_day)
    assert first.text == window_message(window.start_day, window.end_day)
    after = window_state(today=date(2026, 11, window.end_day + 1))
    assert not after.open
    assert after.opens_on == date(2026, 12, window.start_day)
    assert after.closes_on == date(2026, 12, window.end_day)


def test_meter_card_has_the_last_reading_by_zone_and_the_tariff_in_force(customer):
    _user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 6, 1), t1=1100, t2=550)
    with translation.override("en"):
        card = meter_card(meter, meter.account, date(2026, 6, 20))
    assert card.last is not None and card.last.period == date(2026, 6, 1)
    assert [value for _label, value in card.last_values] == [D(1100), D(550)]
    assert len({label for label, _value in card.last_values}) == 2
    assert card.tariff is not None
    assert [(row.band, row.upper_kwh, row.price) for row in card.prices] == [
        (1, None, D("9.45")),
        (1, None, D("4.08")),
    ]
    assert [row.label for row in card.prices] == [label for label, _value in card.last_values]
    assert not card.failed


def test_meter_card_without_readings_or_tariff(customer):
    _user, meter = customer
    card = meter_card(meter, meter.account, date(2000, 1, 1))  # before any tariff
    assert (card.last, card.last_values, card.tariff, card.prices) == (None, [], None, [])


def test_money_summary_debt_last_payment_and_latest_bill(july_billed):
    user, meter = july_billed
    payment_post(account=meter.account, amount=D("338.00"), paid_on=date(2026, 8, 5), external_id="b-1")
    with translation.override("en"):
        money = money_summary(user, meter.account.number)
    assert money is not None
    assert (money.balance, money.debt, money.credit) == (D("1000.00"), D("1000.00"), D(0))
    assert money.balance_text == "You owe 1,000.00 ₽"
    assert money.last_payment_amount == D("338.00")
    assert money.latest is not None and money.latest.period == date(2026, 7, 1)
    assert money.latest_due == D("1338.00")


def test_money_summary_credit_and_nothing_yet(customer):
    user, meter = customer
    money = money_summary(user, meter.account.number)
    assert money is not None
    assert (money.balance, money.last_payment, money.latest, money.latest_due) == (D(0), None, None, D(0))
    payment_post(account=meter.account, amount=D("50"), paid_on=date(2026, 8, 5), external_id="b-2")
    money = money_summary(user, meter.account.number)
    assert money is not None and (money.debt, money.credit) == (D(0), D("50.00"))


def test_money_summary_of_someone_elses_account_is_none(customer):
    _user, meter = customer
    assert money_summary(UserFactory(email="boris@example.com"), meter.account.number) is None


def test_statement_lines_in_the_order_written_with_their_basis_in_words(july_billed):
    _user, meter = july_billed
    statement = statement_get(meter.account, date(2026, 7, 1))
    assert statement is not None
    with translation.override("en"):
        lines = statement_lines(statement)
    assert [line.entry.pk for line in lines] == sorted(e.pk for e in statement.lines)
    assert [(line.basis, line.meter, line.amount) for line in lines] == [
        ("actual", meter.serial, D("1134.00")),
        ("actual", meter.serial, D("204.00")),
    ]
    assert all(line.words == "by your readings" for line in lines)
    assert len({line.zone for line in lines}) == 2
    assert control_months(statement.lines) == set()


def test_control_months_of_the_ledger_in_the_periods_asked(july_billed):
    _user, meter = july_billed
    july = date(2026, 7, 1)
    assert control_months_of(meter.account, [july]) == set()
    LedgerEntry.objects.filter(account=meter.account, period=july).update(basis=engine.CONTROL)
    assert control_months_of(meter.account, [july]) == {(july, meter.pk)}
    assert control_months_of(meter.account, [date(2026, 6, 1)]) == set()
    statement = statement_get(meter.account, july)
    assert statement is not None and control_months(statement.lines) == {(july, meter.pk)}
