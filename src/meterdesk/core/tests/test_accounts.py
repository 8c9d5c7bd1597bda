"""The account views every channel shows (core.accounts): the window, a meter card, the money,
a statement: its totals, its lines with their basis in words, its payments and penalty."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import translation

from meterdesk.billing.close import billing_close
from meterdesk.billing.messages import penalty_words
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import statement_get
from meterdesk.billing.services import payment_post
from meterdesk.core.accounts import (
    control_months,
    control_months_of,
    meter_card,
    money_summary,
    price_rows,
    statement_lines,
    statement_totals,
    statement_view,
    window_state,
)
from meterdesk.domain import billing as engine
from meterdesk.domain.tariffs import TariffSpec
from meterdesk.metering.messages import window_message
from meterdesk.metering.models import MeterStatus
from meterdesk.tariffs.selectors import tariff_in_force
from meterdesk.testing import ReadingFactory, UserFactory, make_tariff, moscow
from meterdesk.utility.selectors import reading_window_get, utility_get

D = Decimal
pytestmark = pytest.mark.django_db


JULY = date(2026, 7, 1)


def _bill_july(meter):
    """1100 / 550 in June, 1220 / 600 in July 2026; July closed: 120 × 9.45 + 50 × 4.08 = 1338.00."""
    make_tariff(prices=("7.87",))
    ReadingFactory(meter=meter, period=date(2026, 6, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=JULY, t1=1220, t2=600)
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 8, 1)):
        billing_close(JULY)


def _post_to_july(meter, kind, amount, posted_on, detail=None):
    """A ledger line of July posted by hand (a correction after the close, a penalty)."""
    LedgerEntry.objects.create(
        account=meter.account, period=JULY, posted_on=posted_on, kind=kind, amount=amount, detail=detail or {}
    )


def _july_statement(meter):
    statement = statement_get(meter.account, JULY)
    assert statement is not None
    return statement


@pytest.fixture
def july_billed(customer):
    _user, meter = customer
    _bill_july(meter)
    return customer


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
    assert card.labels == [label for label, _value in card.last_values]
    assert [row.zone for row in card.prices] == [1, 2]
    assert (card.overdue, card.failed, card.accepts_readings) == (False, False, True)
    # The tariff from the prices in memory is the one the database holds in force that day.
    in_force = tariff_in_force(
        region=utility_get().tariff_region, category=meter.account.category, zones=2, on=date(2026, 6, 20)
    )
    assert card.tariff == in_force.tariff


def test_meter_card_overdue_failed_and_out_of_service(customer):
    _user, meter = customer
    due = meter.verification_due
    overdue = meter_card(meter, meter.account, due + timedelta(days=1))
    assert (overdue.overdue, overdue.failed, overdue.accepts_readings) == (True, True, True)
    on_the_day = meter_card(meter, meter.account, due)
    assert (on_the_day.overdue, on_the_day.failed) == (False, False)
    meter.status = MeterStatus.FAILED
    marked = meter_card(meter, meter.account, due)
    assert (marked.overdue, marked.failed, marked.accepts_readings) == (False, True, True)
    for status in (MeterStatus.REMOVED, MeterStatus.LOST):
        meter.status = status
        assert not meter_card(meter, meter.account, due).accepts_readings


def test_price_rows_band_by_band_with_the_upper_limits():
    spec = TariffSpec(
        zones=2,
        prices={(1, 1): D("5.00"), (2, 1): D("2.00"), (1, 2): D("7.00"), (2, 2): D("3.00")},
        band_limits=(D(3900), None),
    )
    with translation.override("en"):
        rows = price_rows(spec)
    assert [(r.zone, r.band, r.upper_kwh, r.price) for r in rows] == [
        (1, 1, D(3900), D("5.00")),
        (2, 1, D(3900), D("2.00")),
        (1, 2, None, D("7.00")),
        (2, 2, None, D("3.00")),
    ]
    assert [r.label for r in rows] == ["T1 (day)", "T2 (night)", "T1 (day)", "T2 (night)"]


def test_meter_card_without_readings_or_tariff(customer):
    _user, meter = customer
    card = meter_card(meter, meter.account, date(2000, 1, 1))  # before any tariff
    assert (card.last, card.last_values, card.tariff, card.prices) == (None, [], None, [])
    assert len(card.labels) == 2


def test_money_summary_debt_last_payment_and_latest_bill(july_billed):
    user, meter = july_billed
    payment_post(account=meter.account, amount=D("338.00"), paid_on=date(2026, 8, 5), external_id="b-1")
    with translation.override("en"):
        money = money_summary(user, meter.account.number)
    assert money is not None
    assert (money.balance, money.debt, money.credit) == (D("1000.00"), D("1000.00"), D(0))
    assert money.balance_text == "You owe 1,000.00\u00a0₽"
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
    statement = _july_statement(meter)
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


@pytest.fixture
def july_paid(customer):
    """As ``july_billed``, with 338 ₽ paid in July before the close and a correction of -12.34 ₽
    posted to July after it."""
    _user, meter = customer
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 7, 10)):
        payment_post(account=meter.account, amount=D("338.00"), paid_on=date(2026, 7, 10), external_id="p-1")
    _bill_july(meter)
    _post_to_july(meter, EntryKind.CORRECTION, D("-12.34"), date(2026, 8, 20))
    return customer


def test_statement_view_totals_lines_and_payments(july_paid):
    _user, meter = july_paid
    statement = _july_statement(meter)
    with translation.override("en"):
        view = statement_view(statement)
    close = statement.close
    assert view.period == view.totals.period == date(2026, 7, 1)
    totals = view.totals
    assert (totals.opening_balance, totals.charges, totals.recalculations) == (D(0), D("1338.00"), D(0))
    assert (totals.billed, totals.paid, totals.penalty) == (D("1338.00"), D("338.00"), D(0))
    assert (totals.closing_balance, totals.due, totals.due_date) == (
        D("1000.00"),
        D("1000.00"),
        close.due_date,
    )
    assert (totals.basis, totals.closed_at) == (close.basis, close.closed_at)
    # The lines as ``statement_lines`` words them; their total counts the later correction.
    assert [line.entry.pk for line in view.lines] == [line.entry.pk for line in statement_lines(statement)]
    assert [line.basis for line in view.lines] == ["actual", "actual", engine.CORRECTION]
    assert view.lines_total == D("1325.66")
    assert [(p.on, p.amount) for p in view.payments] == [(date(2026, 7, 10), D("338.00"))]
    assert view.penalties == []


def test_statement_view_penalty_with_its_reasons(july_paid):
    _user, meter = july_paid
    detail = {
        "parts": [{"period": "2026-05-01", "overdue": "100.00", "days": 12, "divisor": 300, "rate": "9.5"}]
    }
    _post_to_july(meter, EntryKind.PENALTY, D("0.32"), date(2026, 7, 31), detail)
    statement = _july_statement(meter)
    with translation.override("en"):
        view = statement_view(statement)
        words = penalty_words(detail)
    assert [(line.amount, line.parts) for line in view.penalties] == [(D("0.32"), words)]
    assert words  # the reasons are worded, not left out


def test_statement_totals_of_a_credit_ask_nothing(july_paid):
    _user, meter = july_paid
    close = AccountClose.objects.get(account=meter.account, period=date(2026, 7, 1))
    close.closing_balance = D("-5.00")
    totals = statement_totals(close)
    assert (totals.closing_balance, totals.due) == (D("-5.00"), D("0.00"))
