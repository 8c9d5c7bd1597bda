"""Which reading counts for a month, and a statement whose words match its money, in the close
(through the engine, and on PostgreSQL with the fast path asked for) and in the rebill.

One one-zone meter of a gas-stove flat at 7.87 ₽/kWh (from 2025-07-01): July's reading 1150, then
August's readings on the days given. The latest reading counts; an inspector's control reading
only when it is the later one or on the same day. A month billed from a control reading is a
charge ("by the inspector's control reading"); only what the inspector's value takes back from
values billed before is a recalculation.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from django.utils import translation

from meterdesk.api.present import ledger_line_out
from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import statement_get
from meterdesk.billing.services import account_rebill
from meterdesk.billing.tests.helpers import D, lines, month
from meterdesk.core.accounts import statement_lines
from meterdesk.documents.render import _line_basis
from meterdesk.metering.models import Meter, Reading, ReadingKind
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory

pytestmark = pytest.mark.django_db

JAN, JUL, AUG, SEP = (month(2025, m) for m in (1, 7, 8, 9))


def given(meter: Meter, period: date, value: int, day: int, kind: str = ReadingKind.CUSTOMER) -> Reading:
    """An accepted reading given on ``day`` of its month, at noon in Moscow."""
    moment = datetime.combine(period.replace(day=day), time(12), tzinfo=MOSCOW)
    return ReadingFactory(meter=meter, period=period, t1=D(value), kind=kind, submitted_at=moment)


def statement(meter: Meter, period: date) -> tuple[str, D, D, D]:
    close = AccountClose.objects.get(account=meter.account, period=period)
    return close.basis, close.charges, close.recalculations, close.closing_balance


def words(meter: Meter, period: date, language: str = "en") -> list[tuple[str, str, D]]:
    """(kind, words, amount) of the month's statement lines, as the personal account words them;
    the API and the printed bill word them alike."""
    found = statement_get(meter.account, period)
    assert found is not None
    entries = sorted(found.lines, key=lambda e: e.pk)
    control = {(e.period, e.meter_id) for e in entries if e.basis == "control"}
    with translation.override(language):
        portal = [line.words for line in statement_lines(found)]
        assert [ledger_line_out(e, control)["words"] for e in entries] == portal
        assert [_line_basis(line) for line in statement_lines(found)] == [
            w[:1].upper() + w[1:] for w in portal
        ]
    return [(e.kind, w, e.amount) for e, w in zip(entries, portal, strict=True)]


@pytest.fixture
def meter(prices):
    meter = MeterFactory(zones=1)
    given(meter, JUL, 1150, 20)
    return meter


class TestWhichReadingCounts:
    def test_control_on_the_10th_then_the_household_on_the_20th(self, meter):
        given(meter, AUG, 1250, 10, ReadingKind.CONTROL)
        given(meter, AUG, 1300, 20)
        billing_close(AUG)
        # The household's later reading: 1300 − 1150 = 150 kWh × 7.87 = 1180.50
        assert lines(meter.account, AUG) == [
            ("actual", meter.pk, 1, 1, D("150.000"), D("7.87"), D("1180.50"))
        ]
        assert statement(meter, AUG) == ("actual", D("1180.50"), D("0.00"), D("1180.50"))

    def test_household_on_the_20th_then_control_on_the_22nd(self, meter):
        given(meter, AUG, 1300, 20)
        given(meter, AUG, 1250, 22, ReadingKind.CONTROL)
        billing_close(AUG)
        # The inspector's later reading: 1250 − 1150 = 100 kWh × 7.87 = 787.00, a charge
        assert lines(meter.account, AUG) == [
            ("control", meter.pk, 1, 1, D("100.000"), D("7.87"), D("787.00"))
        ]
        assert statement(meter, AUG) == ("control", D("787.00"), D("0.00"), D("787.00"))
        assert words(meter, AUG) == [("charge", "by the inspector's control reading", D("787.00"))]
        assert words(meter, AUG, "ru") == [("charge", "по контрольным показаниям проверяющего", D("787.00"))]

    def test_on_the_same_day_the_control_reading_counts(self, meter):
        given(meter, AUG, 1250, 21, ReadingKind.CONTROL)
        given(meter, AUG, 1300, 21)
        billing_close(AUG)
        assert lines(meter.account, AUG) == [
            ("control", meter.pk, 1, 1, D("100.000"), D("7.87"), D("787.00"))
        ]
        assert statement(meter, AUG) == ("control", D("787.00"), D("0.00"), D("787.00"))

    def test_a_control_reading_agreeing_with_the_households_later_one_recalculates_nothing(self, meter):
        given(meter, AUG, 1300, 10, ReadingKind.CONTROL)
        given(meter, AUG, 1300, 20)
        billing_close(AUG)
        assert lines(meter.account, AUG) == [
            ("actual", meter.pk, 1, 1, D("150.000"), D("7.87"), D("1180.50"))
        ]
        assert statement(meter, AUG) == ("actual", D("1180.50"), D("0.00"), D("1180.50"))
        assert not LedgerEntry.objects.filter(kind=EntryKind.RECALCULATION).exists()


class TestTheStatementsWordsMatchItsMoney:
    def test_a_control_reading_below_the_values_billed_before_is_a_recalculation(self, prices):
        """July billed to the household's 1300; in August only the inspector, who reads 1250: the
        household had reported 50 kWh too many, credited at August's price (p.61)."""
        meter = MeterFactory(zones=1)
        given(meter, month(2025, 6), 1000, 20)
        given(meter, JUL, 1300, 20)
        billing_close(JUL)
        given(meter, AUG, 1250, 12, ReadingKind.CONTROL)
        billing_close(AUG)
        # −50 kWh × 7.87 = −393.50
        assert lines(meter.account, AUG) == [
            ("control", meter.pk, 1, 1, D("-50.000"), D("7.87"), D("-393.50"))
        ]
        close = AccountClose.objects.get(account=meter.account, period=AUG)
        assert (close.charges, close.recalculations) == (D("0.00"), D("-393.50"))
        assert close.closing_balance == close.opening_balance - D("393.50")
        assert words(meter, AUG) == [
            (
                "recalculation",
                "recalculation after the inspector's control reading: the meter shows less than "
                "the readings billed before",
                D("-393.50"),
            )
        ]

    def test_after_estimated_months_the_control_month_is_a_charge_and_the_estimates_a_recalculation(
        self, prices
    ):
        """Readings January to July (700 kWh over the six months from January: 116.667 a month),
        none in August (by average), the inspector in September: the consumption since July is
        charged, the August estimate reversed."""
        meter = MeterFactory(zones=1, installed_on=date(2024, 12, 20), initial_t1=D(0))
        for number, value in enumerate((100, 220, 330, 450, 560, 680, 800), start=1):
            given(meter, month(2025, number), value, 20)
        billing_close(AUG)
        assert lines(meter.account, AUG) == [
            ("average", meter.pk, 1, 1, D("116.667"), D("7.87"), D("918.17"))
        ]
        given(meter, SEP, 1050, 15, ReadingKind.CONTROL)
        billing_close(SEP)
        # 1050 − 800 = 250 kWh × 7.87 = 1967.50; −116.667 × 7.87 = −918.17
        assert lines(meter.account, SEP) == [
            ("control", meter.pk, 1, 1, D("250.000"), D("7.87"), D("1967.50")),
            ("recalculation", meter.pk, 1, 1, D("-116.667"), D("7.87"), D("-918.17")),
        ]
        assert statement(meter, SEP)[:3] == ("control", D("1967.50"), D("-918.17"))
        assert words(meter, SEP) == [
            (
                "charge",
                "by the inspector's control reading: the consumption over 2 months since the reading of 07.2025",
                D("1967.50"),
            ),
            (
                "recalculation",
                "recalculation of the estimated month 08.2025 after the inspector's control reading",
                D("-918.17"),
            ),
        ]


class TestTheRebillChoosesTheSame:
    def test_an_earlier_control_reading_found_later_changes_nothing(self, meter):
        given(meter, AUG, 1300, 20)
        billing_close(AUG)
        given(meter, AUG, 1250, 10, ReadingKind.CONTROL)  # before the household's: it does not count
        assert account_rebill(account=meter.account, period=AUG, reason="control reading of 10.08") == []

    def test_a_later_control_reading_found_later_is_posted(self, meter):
        given(meter, AUG, 1300, 20)
        billing_close(AUG)
        given(meter, AUG, 1250, 25, ReadingKind.CONTROL)
        entries = account_rebill(account=meter.account, period=AUG, reason="control reading of 25.08")
        assert sorted((e.detail["basis"], e.volume, e.amount) for e in entries) == [
            ("actual", D("-150.000"), D("-1180.50")),
            ("control", D("100.000"), D("787.00")),
        ]
