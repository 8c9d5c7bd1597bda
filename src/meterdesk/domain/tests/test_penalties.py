"""The late-payment penalty (DOMAIN.md rule 7, Housing Code art. 155 p. 14; docs/penalties.md).

Every example is computed by hand in its comments. A penalty day's amount is
overdue * rate% / 100 / divisor, so with the 9.5 % cap and the divisor 300 a day on 1000 ₽ costs
1000 * 9.5 / 30000 = 0.31666... ₽. "Day n" is the n-th day after the due date: days 1..30 are
free, 31..90 are at 1/300, from 91 at 1/130.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterdesk.domain.money import round_money
from meterdesk.domain.penalties import (
    KEY_RATES_PATH,
    NO_PENALTY,
    Debt,
    KeyRateError,
    KeyRateTable,
    Payment,
    PenaltyResult,
    Settlement,
    debts_for_month,
    due_date_for,
    key_rates_load,
    key_rates_parse,
    penalty_for_month,
    penalty_part_amount,
    penalty_settlements,
)
from meterdesk.domain.periods import add_months, month_from_index, month_index
from meterdesk.domain.profiles import profile_load

D = Decimal
RULES = profile_load("ru-354-current").penalty
RATES = key_rates_load()
NO_CAP = dataclasses.replace(RULES, rate_caps=())


def debt(year, month, amount, due_day=10):
    period = date(year, month, 1)
    return Debt(period, due_date_for(period, due_day), D(amount))


def pay(year, month, day, amount):
    return Payment(date(year, month, day), D(amount))


def close(debts, payments, year, month, rules=RULES):
    return penalty_for_month(debts, payments, date(year, month, 1), RATES, rules)


def summary(result):
    """(period, first day, last day, days, overdue, rate, divisor) of each part."""
    return [
        (p.period, p.first_day, p.last_day, p.days, p.overdue, p.rate_percent, p.divisor)
        for p in result.parts
    ]


JAN_2025 = debt(2025, 1, "1000")  # due 2025-02-10; day 31 = 2025-03-13; day 91 = 2025-05-12


class TestDueDate:
    def test_tenth_of_next_month(self):
        assert due_date_for(date(2025, 1, 1), 10) == date(2025, 2, 10)
        assert due_date_for(date(2025, 12, 1), 10) == date(2026, 1, 10)
        assert due_date_for(date(2025, 12, 17), 10) == date(2026, 1, 10)  # any day of the month

    @pytest.mark.parametrize("day", [0, 29, 31])
    def test_due_day_is_checked(self, day):
        with pytest.raises(ValueError, match="due_day"):
            due_date_for(date(2025, 1, 1), day)

    def test_debt_period_is_a_first_day(self):
        with pytest.raises(ValueError, match="first day"):
            Debt(date(2025, 1, 2), date(2025, 2, 10), D(1))

    def test_payment_cannot_be_negative(self):
        with pytest.raises(ValueError, match="payment"):
            Payment(date(2025, 1, 2), D(-1))


class TestGrace:
    def test_paid_within_30_days_after_due_is_free(self):
        # Due 10.02.2025; 12.03.2025 is day 30, the last free day.
        payments = [pay(2025, 3, 12, "1000")]
        for month in (2, 3, 4, 5):
            assert close([JAN_2025], payments, 2025, month) == NO_PENALTY

    def test_paid_on_day_31_is_free(self):
        # A payment on day d stops the accrual from d inclusive: paid on 13.03 (day 31) -> 0 days.
        assert close([JAN_2025], [pay(2025, 3, 13, "1000")], 2025, 3).amount == D("0.00")

    def test_paid_on_day_32_is_one_day(self):
        # Only 13.03 accrues: 1000 * 9.5 / 30000 = 0.31666... -> 0.32.
        result = close([JAN_2025], [pay(2025, 3, 14, "1000")], 2025, 3)
        assert result.amount == D("0.32")
        assert summary(result) == [
            (date(2025, 1, 1), date(2025, 3, 13), date(2025, 3, 13), 1, 1000, 9.5, 300)
        ]

    def test_not_yet_due_is_free(self):
        assert close([JAN_2025], [], 2025, 1) == NO_PENALTY
        assert close([JAN_2025], [], 2025, 2) == NO_PENALTY


class TestFirstAndSecondStage:
    def test_unpaid_for_40_days(self):
        # Paid on 23.03.2025 = day 41: days 31..40 = 13.03..22.03 = 10 days at 1/300.
        # Rate: the key rate on the day of payment is 21 %, capped at 9.5 %.
        # 1000 * 9.5 * 10 / 30000 = 3.1666... -> 3.17.
        result = close([JAN_2025], [pay(2025, 3, 23, "1000")], 2025, 3)
        assert result.amount == D("3.17")
        assert summary(result) == [
            (date(2025, 1, 1), date(2025, 3, 13), date(2025, 3, 22), 10, 1000, 9.5, 300)
        ]
        assert abs(result.parts[0].amount - D(95) / D(30)) < D("1e-25")  # unrounded

    def test_unpaid_whole_months(self):
        # March: 13.03..31.03 = 19 days: 1000 * 9.5 * 19 / 30000 = 6.01666... -> 6.02.
        assert close([JAN_2025], [], 2025, 3).amount == D("6.02")
        # April: days 50..79, all 30 at 1/300: 1000 * 9.5 * 30 / 30000 = 9.50.
        assert close([JAN_2025], [], 2025, 4).amount == D("9.50")

    def test_crossing_day_91_within_the_month(self):
        # May 2025: 01.05 is day 80, 11.05 day 90, 12.05 day 91.
        # 01.05..11.05: 11 days at 1/300: 1000 * 9.5 * 11 / 30000 = 3.48333...
        # 12.05..31.05: 20 days at 1/130: 1000 * 9.5 * 20 / 13000 = 14.61538...
        # Total 18.09871... -> 18.10.
        result = close([JAN_2025], [], 2025, 5)
        assert summary(result) == [
            (date(2025, 1, 1), date(2025, 5, 1), date(2025, 5, 11), 11, 1000, 9.5, 300),
            (date(2025, 1, 1), date(2025, 5, 12), date(2025, 5, 31), 20, 1000, 9.5, 130),
        ]
        assert result.amount == D("18.10")

    def test_payments_after_the_month_are_ignored(self):
        # Paid in April: March still counts the whole debt for 19 days (6.02, as above).
        assert close([JAN_2025], [pay(2025, 4, 2, "1000")], 2025, 3).amount == D("6.02")


class TestPartialPayment:
    def test_partial_payment_mid_month(self):
        # 400 paid on 20.03.2025. 13.03..19.03 (7 days): 1000 overdue; 20.03..31.03 (12 days): 600.
        # Both parts are capped at 9.5 % (key rates 21 % on 20.03 and on 31.03).
        # 1000 * 9.5 * 7 / 30000 = 2.21666...; 600 * 9.5 * 12 / 30000 = 2.28; total 4.49666... -> 4.50.
        result = close([JAN_2025], [pay(2025, 3, 20, "400")], 2025, 3)
        assert summary(result) == [
            (date(2025, 1, 1), date(2025, 3, 13), date(2025, 3, 19), 7, 1000, 9.5, 300),
            (date(2025, 1, 1), date(2025, 3, 20), date(2025, 3, 31), 12, 600, 9.5, 300),
        ]
        assert result.amount == D("4.50")

    def test_each_part_at_the_rate_of_its_calculation_day(self):
        # 2021, no cap. Debt of January 2021, due 10.02.2021, day 31 = 13.03.2021.
        # 400 paid on 20.03.2021 (key rate 4.25 %), 600 unpaid on 31.03.2021 (key rate 4.5 % since 22.03).
        # The 400 accrues 13.03..19.03 at 4.25 %: 400 * 4.25 * 7 / 30000 = 0.39666...
        # The 600 accrues 13.03..31.03 at 4.5 %: 600 * 4.5 * 19 / 30000 = 1.71
        # Total 2.10666... -> 2.11.
        result = close([debt(2021, 1, "1000")], [pay(2021, 3, 20, "400")], 2021, 3)
        assert sorted(summary(result)) == [
            (date(2021, 1, 1), date(2021, 3, 13), date(2021, 3, 19), 7, 400, D("4.25"), 300),
            (date(2021, 1, 1), date(2021, 3, 13), date(2021, 3, 31), 19, 600, D("4.5"), 300),
        ]
        assert result.amount == D("2.11")


class TestFifo:
    def test_payment_goes_to_the_oldest_debt_first(self):
        # January 1000 (due 10.02, day 31 = 13.03) and February 800 (due 10.03, day 31 = 10.04).
        # 1200 paid on 20.04.2025: 1000 closes January, 200 goes to February.
        # January: 01.04..19.04 (days 50..68), 19 days: 1000 * 9.5 * 19 / 30000 = 6.01666...
        # February: 10.04..19.04, 10 days on 800: 800 * 9.5 * 10 / 30000 = 2.53333...
        #           20.04..30.04, 11 days on 600: 600 * 9.5 * 11 / 30000 = 2.09
        # Total 10.64 exactly.
        debts = [debt(2025, 2, "800"), JAN_2025]  # any order
        result = close(debts, [pay(2025, 4, 20, "1200")], 2025, 4)
        assert summary(result) == [
            (date(2025, 1, 1), date(2025, 4, 1), date(2025, 4, 19), 19, 1000, 9.5, 300),
            (date(2025, 2, 1), date(2025, 4, 10), date(2025, 4, 19), 10, 800, 9.5, 300),
            (date(2025, 2, 1), date(2025, 4, 20), date(2025, 4, 30), 11, 600, 9.5, 300),
        ]
        assert result.amount == D("10.64")

    def test_a_payment_for_the_new_bill_pays_the_old_debt(self):
        # The customer pays exactly February's 800 on 05.03, but January is still open: the 800 goes
        # to January, leaving 200 of January and all of February. March: January's 200 for 13.03..31.03:
        # 200 * 9.5 * 19 / 30000 = 1.20333... -> 1.20.
        debts = [JAN_2025, debt(2025, 2, "800")]
        result = close(debts, [pay(2025, 3, 5, "800")], 2025, 3)
        assert summary(result) == [
            (date(2025, 1, 1), date(2025, 3, 13), date(2025, 3, 31), 19, 200, 9.5, 300)
        ]
        assert result.amount == D("1.20")


class TestRate:
    def test_key_rate_above_the_cap(self):
        # April 2025: the key rate is 21 %, the cap 9.5 %: 1000 * 9.5 * 30 / 30000 = 9.50.
        assert RATES.rate_on(date(2025, 4, 30)) == D(21)
        result = close([JAN_2025], [], 2025, 4)
        assert result.parts[0].rate_percent == D("9.5")
        assert result.amount == D("9.50")
        # Without the cap the full key rate: 1000 * 21 * 30 / 30000 = 21.00.
        assert close([JAN_2025], [], 2025, 4, rules=NO_CAP).amount == D("21.00")

    def test_key_rate_below_the_cap(self):
        # January 2023: key rate 7.5 % < 9.5 %: the key rate is used. A debt of November 2022, due
        # 10.12.2022, day 31 = 10.01.2023: 22 days (10.01..31.01): 1000 * 7.5 * 22 / 30000 = 5.50.
        result = close([debt(2022, 11, "1000")], [], 2023, 1)
        assert summary(result) == [
            (date(2022, 11, 1), date(2023, 1, 10), date(2023, 1, 31), 22, 1000, 7.5, 300)
        ]
        assert result.amount == D("5.50")

    def test_no_cap_in_2021_key_rate_of_the_calculation_day(self):
        # Debt of January 2021 unpaid at the end of March 2021: 13.03..31.03 = 19 days at the key rate
        # of 31.03 (4.5 %), also for 13.03..21.03 when 4.25 % was in force: 1000 * 4.5 * 19 / 30000 = 2.85.
        assert close([debt(2021, 1, "1000")], [], 2021, 3).amount == D("2.85")
        # Paid on 20.03.2021 instead: 7 days at the rate of that day, 4.25 %:
        # 1000 * 4.25 * 7 / 30000 = 0.99166... -> 0.99.
        assert close([debt(2021, 1, "1000")], [pay(2021, 3, 20, "1000")], 2021, 3).amount == D("0.99")

    def test_cap_starts_on_28_february_2022(self):
        # Debt of November 2021, due 10.12.2021; February 2022 is days 53..80, all at 1/300.
        # Key rate on 28.02.2022 (the calculation day): 20 %. The cap is in force from 28.02.2022 only:
        # 01.02..27.02 (27 days) at 20 %: 1000 * 20 * 27 / 30000 = 18.00
        # 28.02 (1 day) at 9.5 %: 1000 * 9.5 / 30000 = 0.31666...
        # Total 18.31666... -> 18.32.
        result = close([debt(2021, 11, "1000")], [], 2022, 2)
        assert summary(result) == [
            (date(2021, 11, 1), date(2022, 2, 1), date(2022, 2, 27), 27, 1000, 20, 300),
            (date(2021, 11, 1), date(2022, 2, 28), date(2022, 2, 28), 1, 1000, 9.5, 300),
        ]
        assert result.amount == D("18.32")


class TestMoratorium:
    # Debt of January 2020, due 10.02.2020 (2020 is a leap year): day 31 = 12.03.2020.
    DEBT = debt(2020, 1, "1000")

    def test_before_the_moratorium(self):
        # March 2020: 12.03..31.03 = 20 days at 6 % (key rate on 31.03.2020): 1000 * 6 * 20 / 30000 = 4.00.
        assert close([self.DEBT], [], 2020, 3).amount == D("4.00")

    def test_moratorium_starts_on_6_april_2020(self):
        # April 2020: only 01.04..05.04 accrue (days 51..55), at 5.5 % (key rate on 30.04.2020):
        # 1000 * 5.5 * 5 / 30000 = 0.91666... -> 0.92.
        result = close([self.DEBT], [], 2020, 4)
        assert summary(result) == [
            (date(2020, 1, 1), date(2020, 4, 1), date(2020, 4, 5), 5, 1000, D("5.5"), 300)
        ]
        assert result.amount == D("0.92")

    @pytest.mark.parametrize("month", [5, 6, 7, 8, 9, 10, 11, 12])
    def test_nothing_during_the_moratorium(self, month):
        assert close([self.DEBT], [], 2020, month).amount == D("0.00")

    def test_accrual_resumes_in_2021_with_days_counted_through_the_moratorium(self):
        # 01.01.2021 is day 326 (10.02.2020 + 325 days), so the whole January is at 1/130, at the
        # key rate of 31.01.2021 (4.25 %): 1000 * 4.25 * 31 / 13000 = 10.13461... -> 10.13.
        result = close([self.DEBT], [], 2021, 1)
        assert summary(result) == [
            (date(2020, 1, 1), date(2021, 1, 1), date(2021, 1, 31), 31, 1000, D("4.25"), 130)
        ]
        assert result.amount == D("10.13")


class TestCredit:
    def test_overpayment_pays_the_next_bill(self):
        # 1500 paid on 05.02.2025 for January's 1000: 500 stays as credit and pays February's 1000 in part.
        # February is due 10.03.2025, day 31 = 10.04; May is days 52..82: 31 days at 1/300 on 500:
        # 500 * 9.5 * 31 / 30000 = 4.90833... -> 4.91.
        debts = [JAN_2025, debt(2025, 2, "1000")]
        result = close(debts, [pay(2025, 2, 5, "1500")], 2025, 5)
        assert summary(result) == [(date(2025, 2, 1), date(2025, 5, 1), date(2025, 5, 31), 31, 500, 9.5, 300)]
        assert result.amount == D("4.91")

    def test_recalculation_credit_reduces_the_oldest_debt(self):
        # January 1000 unpaid; March's bill credits 300 (a true-up). The credit pays from the day its
        # bill is issued, 01.04.2025, so March still counts 1000 (6.02, as above) and April 700:
        # 700 * 9.5 * 30 / 30000 = 6.65.
        debts = [JAN_2025, debt(2025, 3, "-300")]
        assert close(debts, [], 2025, 3).amount == D("6.02")
        assert close(debts, [], 2025, 4).amount == D("6.65")

    def test_credit_larger_than_the_debt_is_kept_for_later_bills(self):
        # February's bill credits 1500 from 01.03.2025: 1000 closes January (before its day 31, 13.03)
        # and 500 pays March's 1000 in part. March is due 10.04, day 31 = 11.05; June is days 52..81:
        # 500 * 9.5 * 30 / 30000 = 4.75.
        debts = [JAN_2025, debt(2025, 2, "-1500"), debt(2025, 3, "1000")]
        assert close(debts, [], 2025, 3) == NO_PENALTY
        result = close(debts, [], 2025, 6)
        assert summary(result) == [(date(2025, 3, 1), date(2025, 6, 1), date(2025, 6, 30), 30, 500, 9.5, 300)]
        assert result.amount == D("4.75")


class TestRounding:
    def test_half_up_to_the_kopeck(self):
        # 300 overdue for 3 days (13.03..15.03, paid on 16.03): 300 * 9.5 * 3 / 30000 = 0.285 exactly:
        # half up gives 0.29 (banker's rounding would give 0.28).
        result = close([debt(2025, 1, "300")], [pay(2025, 3, 16, "300")], 2025, 3)
        assert sum(p.amount for p in result.parts) == D("0.285")
        assert result.amount == D("0.29")

    def test_total_is_rounded_not_the_parts(self):
        # Two debts of January (a charge and a correction) of 15.00 each, both paid on 14.03: one day
        # each: 15 * 9.5 / 30000 = 0.00475 per part, which alone would round to 0.00; the total
        # 0.0095 rounds to 0.01.
        debts = [debt(2025, 1, "15.00"), debt(2025, 1, "15.00")]
        result = close(debts, [pay(2025, 3, 14, "30.00")], 2025, 3)
        assert [p.amount for p in result.parts] == [D("0.00475"), D("0.00475")]
        assert result.amount == D("0.01")

    def test_amount_has_two_places(self):
        assert str(close([JAN_2025], [], 2025, 4).amount) == "9.50"
        assert str(close([JAN_2025], [], 2025, 1).amount) == "0.00"


class TestKeyRates:
    def test_shipped_table(self):
        assert RATES.first_day == date(2013, 9, 13)
        assert RATES.last_change >= date(2025, 10, 27)
        assert RATES.rate_on(date(2013, 9, 13)) == D("5.5")
        assert RATES.rate_on(date(2014, 12, 16)) == D(17)
        assert RATES.rate_on(date(2020, 7, 27)) == D("4.25")
        assert RATES.rate_on(date(2022, 2, 27)) == D("9.5")
        assert RATES.rate_on(date(2022, 2, 28)) == D(20)
        assert RATES.rate_on(date(2023, 8, 14)) == D("8.5")
        assert RATES.rate_on(date(2023, 8, 15)) == D(12)
        assert RATES.rate_on(date(2024, 10, 28)) == D(21)
        assert RATES.rate_on(date(2025, 6, 8)) == D(21)
        assert RATES.rate_on(date(2025, 10, 27)) == D("16.5")

    def test_no_rate_before_the_first_entry(self):
        with pytest.raises(KeyRateError, match="no key rate before"):
            RATES.rate_on(date(2013, 9, 12))

    def test_file_is_the_documented_format(self):
        data = json.loads(KEY_RATES_PATH.read_text(encoding="utf-8"))
        assert all(set(item) == {"from", "percent"} and isinstance(item["percent"], str) for item in data)
        assert key_rates_parse(data) == RATES

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"from": "2020-01-01", "percent": "5"}, "list"),
            ([], "empty"),
            ([{"from": "2020-01-01"}], "keys"),
            ([{"from": "2020-01-01", "percent": "5", "note": "x"}], "keys"),
            ([{"from": "01.01.2020", "percent": "5"}], "date"),
            ([{"from": "2020-01-01", "percent": "five"}], "not a number"),
            ([{"from": "2020-01-01", "percent": True}], "string"),
            ([{"from": "2020-01-01", "percent": "0"}], "positive"),
            ([{"from": "2020-01-01", "percent": "-1"}], "positive"),
            ([{"from": "2020-01-01", "percent": "NaN"}], "positive"),
            ([{"from": "2020-01-01", "percent": "5"}, {"from": "2020-01-01", "percent": "6"}], "increase"),
            ([{"from": "2020-02-01", "percent": "5"}, {"from": "2020-01-01", "percent": "6"}], "increase"),
        ],
    )
    def test_malformed_tables_are_refused(self, data, message):
        with pytest.raises(KeyRateError, match=message):
            key_rates_parse(data)

    def test_load_from_a_file(self, tmp_path):
        path = tmp_path / "rates.json"
        path.write_text('[{"from": "2020-01-01", "percent": "5.00"}, {"from": "2020-06-01", "percent": 4.5}]')
        table = key_rates_load(path)
        assert table.rate_on(date(2020, 5, 31)) == D(5)
        assert table.rate_on(date(2030, 1, 1)) == D("4.5")  # the last value applies onwards
        bad = tmp_path / "bad.json"
        bad.write_text("[{")
        with pytest.raises(KeyRateError, match="not valid JSON"):
            key_rates_load(bad)
        with pytest.raises(KeyRateError, match="cannot read"):
            key_rates_load(tmp_path / "missing.json")

    def test_table_from_entries(self):
        table = KeyRateTable([(date(2020, 1, 1), D(5))])
        assert table.rate_on(date(2020, 1, 1)) == D(5)
        with pytest.raises(KeyRateError):
            KeyRateTable([(date(2020, 1, 1), 5)])  # type: ignore[list-item]  # not a Decimal


class TestFastPath:
    def test_account_in_good_standing_returns_the_shared_zero(self):
        periods = [date(2024, m, 1) for m in range(1, 13)]
        debts = [Debt(p, due_date_for(p, 10), D("1234.56")) for p in periods]
        payments = [Payment(d.due_date, d.amount) for d in debts]
        assert close(debts, payments, 2025, 1) is NO_PENALTY
        assert close([], [], 2025, 1) is NO_PENALTY


# A day-by-day reference: explicit FIFO allocation of each payment, then every day of the month and
# every slice of every debt. Slow and plain, to check the run-length computation against.
def reference_penalty(debts, payments, month, rates, rules):
    first = month
    last = add_months(month, 1) - timedelta(days=1)
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    remaining = [d.amount for d in owed]
    allocations: list[list[tuple[date, Decimal]]] = [[] for _ in owed]
    events = [(p.paid_on, p.amount) for p in payments if p.paid_on <= last]
    events += [(add_months(d.period, 1), -d.amount) for d in debts if d.amount < 0]
    for day, amount in sorted((e for e in events if e[0] <= last), key=lambda e: e[0]):
        for i in range(len(owed)):
            take = min(amount, remaining[i])
            if take > 0:
                allocations[i].append((day, take))
                remaining[i] -= take
                amount -= take
    total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for i, d in enumerate(owed):
            day = first
            while day <= last:
                n = (day - d.due_date).days
                frozen = any(a <= day <= b for a, b in rules.moratoria)
                if n > rules.grace_days and not frozen:
                    divisor = rules.first_divisor if n < rules.second_from_day else rules.second_divisor
                    caps = [c.max_percent for c in rules.rate_caps if c.start <= day <= c.end]
                    pieces = [(paid, x) for paid, x in allocations[i] if paid > day] + [(last, remaining[i])]
                    for calc_day, x in pieces:
                        rate = min([rates.rate_on(calc_day), *caps])
                        total += x * rate / 100 / divisor
                day += timedelta(days=1)
    return total


MONTHS = st.integers(month_index(date(2019, 6, 1)), month_index(date(2026, 6, 1)))
AMOUNTS = st.decimals(
    min_value=D("-800"), max_value=D("5000"), places=2, allow_nan=False, allow_infinity=False
)
PAID = st.decimals(min_value=D(0), max_value=D("6000"), places=2, allow_nan=False, allow_infinity=False)
RULE_SETS = st.sampled_from([RULES, NO_CAP, dataclasses.replace(RULES, moratoria=())])


@st.composite
def accounts(draw):
    """Up to 12 monthly debts (some credits) and payments around one base month, and a month to close."""
    base = draw(MONTHS)
    periods = draw(st.lists(st.integers(base - 14, base), min_size=1, max_size=12))
    debts = [Debt(month_from_index(p), due_date_for(month_from_index(p), 10), draw(AMOUNTS)) for p in periods]
    start = month_from_index(base - 14)
    days = st.integers(0, 19 * 31).map(lambda n: start + timedelta(days=n))
    payments = draw(st.lists(st.builds(Payment, days, PAID), max_size=10))
    month = month_from_index(draw(st.integers(base - 12, base + 4)))
    return debts, payments, month


def check_parts(result, month):
    last = add_months(month, 1) - timedelta(days=1)
    for part in result.parts:
        assert month <= part.first_day <= part.last_day <= last
        assert part.days == (part.last_day - part.first_day).days + 1
        assert part.overdue > 0 and part.amount > 0
        exact = part.overdue * part.rate_percent * part.days / (100 * part.divisor)
        assert abs(part.amount - exact) < D("1e-25")
    assert result.amount == round_money(sum((p.amount for p in result.parts), Decimal(0)))


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(accounts(), RULE_SETS)
    def test_matches_the_day_by_day_reference(self, account, rules):
        debts, payments, month = account
        result = penalty_for_month(debts, payments, month, RATES, rules)
        check_parts(result, month)
        expected = reference_penalty(debts, payments, month, RATES, rules)
        assert abs(sum((p.amount for p in result.parts), Decimal(0)) - expected) < D("1e-20")

    @settings(max_examples=200, deadline=None)
    @given(accounts(), RULE_SETS)
    def test_never_negative(self, account, rules):
        debts, payments, month = account
        result = penalty_for_month(debts, payments, month, RATES, rules)
        assert isinstance(result, PenaltyResult)
        assert result.amount >= 0
        assert all(p.amount > 0 for p in result.parts)

    @settings(max_examples=200, deadline=None)
    @given(accounts(), RULE_SETS, st.data())
    def test_monotone_in_the_debt_amount(self, account, rules, data):
        debts, payments, month = account
        positive = [i for i, d in enumerate(debts) if d.amount > 0]
        if not positive:
            return
        i = data.draw(st.sampled_from(positive))
        extra = data.draw(st.decimals(min_value=D("0.01"), max_value=D("3000"), places=2))
        more = list(debts)
        more[i] = dataclasses.replace(debts[i], amount=debts[i].amount + extra)
        before = penalty_for_month(debts, payments, month, RATES, rules)
        after = penalty_for_month(more, payments, month, RATES, rules)
        assert sum((p.amount for p in after.parts), Decimal(0)) >= sum(
            (p.amount for p in before.parts), Decimal(0)
        )
        assert after.amount >= before.amount

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.integers(month_index(date(2019, 1, 1)), month_index(date(2026, 1, 1))),
                st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2),
                st.integers(-60, 30),
            ),
            min_size=1,
            max_size=12,
        ),
        st.integers(0, 20),
        RULE_SETS,
    )
    def test_zero_when_every_debt_is_paid_within_30_days_after_due(self, bills, offset, rules):
        debts, payments = [], []
        for index, amount, days_after_due in bills:
            period = month_from_index(index)
            d = Debt(period, due_date_for(period, 10), amount)
            debts.append(d)
            payments.append(Payment(d.due_date + timedelta(days=days_after_due), amount))
        month = month_from_index(min(i for i, _, _ in bills) + offset)
        assert penalty_for_month(debts, payments, month, RATES, rules).amount == D("0.00")


@st.composite
def long_histories(draw):
    """An account billed every month for up to 30 months (a few credits and empty months among
    them), that paid most of it, in any number of payments, some late, some after the month."""
    month_i = draw(MONTHS)
    months = draw(st.integers(1, 30))
    debts = []
    for k in range(months, 0, -1):
        period = month_from_index(month_i - k)
        amount = draw(
            st.one_of(
                st.decimals(min_value=D("100"), max_value=D("3000"), places=2),
                st.sampled_from([D("0.00"), D("-250.00"), D("-1200.00")]),
            )
        )
        debts.append(Debt(period, due_date_for(period, 10), amount))
    owed = sum((d.amount for d in debts), Decimal(0))
    share = draw(st.sampled_from([D("0"), D("0.5"), D("0.9"), D("1"), D("1.1")]))
    left = max(D(0), (owed * share).quantize(D("0.01")))
    first = month_from_index(month_i)
    payments = []
    while left > 0:
        amount = min(left, draw(st.decimals(min_value=D("0.01"), max_value=D("9000"), places=2)))
        day = first + timedelta(days=draw(st.integers(-31 * months, 45)))
        payments.append(Payment(day, amount))
        left -= amount
    return debts, payments, first


class TestDebtsForMonth:
    """``debts_for_month`` sums the debts paid off before the month into one: the same penalty."""

    @staticmethod
    def rows(debts):
        return [(d.period, d.due_date, d.amount) for d in debts]

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(accounts(), long_histories()), RULE_SETS)
    def test_the_same_penalty_as_every_debt_on_its_own(self, account, rules):
        debts, payments, month = account
        compacted = debts_for_month(self.rows(debts), payments, month)
        assert len(compacted) <= len(debts)
        assert sum((d.amount for d in compacted), Decimal(0)) == sum((d.amount for d in debts), Decimal(0))
        expected = penalty_for_month(debts, payments, month, RATES, rules)
        assert penalty_for_month(compacted, payments, month, RATES, rules) == expected

    def test_paid_off_months_are_one_debt_dated_as_the_newest(self):
        debts = [debt(2025, m, "1000") for m in range(1, 7)]  # 6 000 ₽ billed January to June
        payments = [pay(2025, 3, 5, "2500"), pay(2025, 5, 20, "1600")]  # 4 100 ₽ before August
        compacted = debts_for_month(self.rows(debts), payments, date(2025, 8, 1))
        # January to April (4 000 ₽) are paid off; May is not (100 ₽ of it is paid).
        assert compacted == [
            Debt(date(2025, 4, 1), date(2025, 5, 10), D("4000")),
            debts[4],
            debts[5],
        ]
        assert close(compacted, payments, 2025, 8) == close(debts, payments, 2025, 8)
        assert close(debts, payments, 2025, 8).amount > 0

    def test_a_credit_before_the_month_pays_off_too(self):
        debts = [debt(2025, 1, "1000"), debt(2025, 2, "1000"), debt(2025, 3, "-1000"), debt(2025, 4, "700")]
        compacted = debts_for_month(self.rows(debts), [pay(2025, 2, 1, "1000")], date(2025, 7, 1))
        assert compacted[0] == Debt(date(2025, 2, 1), date(2025, 3, 10), D("2000"))
        assert compacted[1:] == [debts[3], debts[2]]

    def test_a_credit_issued_in_the_month_does_not(self):
        # The March credit counts from 1 April: closing April, it is not "before the month".
        debts = [debt(2025, 1, "1000"), debt(2025, 2, "1000"), debt(2025, 3, "-1000")]
        compacted = debts_for_month(self.rows(debts), [pay(2025, 2, 1, "1000")], date(2025, 4, 1))
        assert compacted == [debts[0], debts[1], debts[2]]

    def test_a_bad_row_is_refused_as_debt_refuses_it(self):
        with pytest.raises(ValueError, match="first day"):
            debts_for_month([(date(2025, 1, 2), date(2025, 2, 10), D("5"))], [], date(2025, 6, 1))


# --- The settlement of a debt paid off (DOMAIN.md rule 7, docs/penalties.md) ----------------------


def accrued_on(debts, payments, months):
    """What the monthly bills of ``months`` ((year, month) pairs) accrue on each debt, unrounded."""
    out: dict[date, Decimal] = {}
    for year, number in months:
        for part in close(debts, payments, year, number).parts:
            out[part.period] = out.get(part.period, D(0)) + part.amount
    return out


def settle(debts, payments, year, month, accrued, rules=RULES, settled=()):
    return penalty_settlements(debts, payments, date(year, month, 1), RATES, rules, accrued, settled)


MAY_2023 = debt(2023, 5, "1000")  # due 10.06.2023; day 31 = 11.07.2023; key rate 7.5 % until 23.07.2023,
# 8.5 % from 24.07.2023, 12 % from 15.08.2023 (capped at 9.5 %).


class TestSettlement:
    def test_paid_when_the_rate_is_higher_the_difference_is_charged(self):
        # July 2023 accrues 11.07..31.07 = 21 days at the rate of 31.07 (8.5 %):
        #   1000 * 8.5 * 21 / 30000 = 5.95.
        # Paid on 16.08.2023 (key rate 12 %, capped at 9.5 %): August accrues 01.08..15.08 = 15 days
        #   at 9.5 %: 1000 * 9.5 * 15 / 30000 = 4.75. Accrued on the debt: 10.70.
        # Settled at the rate of the day of payment for the whole 11.07..15.08 (36 days):
        #   1000 * 9.5 * 36 / 30000 = 11.40. The correction: 11.40 - 10.70 = +0.70
        #   (= the 21 July days at 1 % more: 1000 * 1 * 21 / 30000).
        payments = [pay(2023, 8, 16, "1000")]
        assert close([MAY_2023], payments, 2023, 7).amount == D("5.95")
        assert close([MAY_2023], payments, 2023, 8).amount == D("4.75")
        accrued = accrued_on([MAY_2023], payments, [(2023, 7), (2023, 8)])
        assert accrued == {date(2023, 5, 1): D("10.70")}
        [settlement] = settle([MAY_2023], payments, 2023, 8, accrued)
        assert settlement == Settlement(
            period=date(2023, 5, 1),
            paid_off=date(2023, 8, 16),
            key_rate=D(12),
            settled=D("11.40"),
            accrued=D("10.70"),
            amount=D("0.70"),
            parts=settlement.parts,
        )
        assert summary(settlement) == [
            (date(2023, 5, 1), date(2023, 7, 11), date(2023, 8, 15), 36, 1000, D("9.5"), 300)
        ]

    def test_paid_in_parts_each_part_at_the_rate_of_its_day(self):
        # 400.00 paid on 20.07.2023 (key rate 7.5 %), the other 600.00 on 16.08.2023 (9.5 % under the cap).
        # July accrues: 400 for 11.07..19.07 (9 days) at the rate of 20.07, 7.5 %: 400 * 7.5 * 9 / 30000 = 0.90;
        #   600 for 11.07..31.07 (21 days) at the rate of 31.07, 8.5 %: 600 * 8.5 * 21 / 30000 = 3.57; 4.47.
        # August accrues 600 for 01.08..15.08 (15 days) at 9.5 %: 600 * 9.5 * 15 / 30000 = 2.85.
        # Settled: 0.90 (the 400 at the rate of its day) + 600 * 9.5 * 36 / 30000 = 6.84: 7.74.
        # The correction: 7.74 - (4.47 + 2.85) = +0.42 (the 600's 21 July days at 1 % more).
        payments = [pay(2023, 7, 20, "400"), pay(2023, 8, 16, "600")]
        accrued = accrued_on([MAY_2023], payments, [(2023, 7), (2023, 8)])
        assert accrued == {date(2023, 5, 1): D("7.32")}
        assert settle([MAY_2023], payments, 2023, 7, accrued) == []  # not paid off in July
        [settlement] = settle([MAY_2023], payments, 2023, 8, accrued)
        assert (settlement.settled, settlement.amount) == (D("7.74"), D("0.42"))
        assert summary(settlement) == [
            (date(2023, 5, 1), date(2023, 7, 11), date(2023, 7, 19), 9, 400, D("7.50"), 300),
            (date(2023, 5, 1), date(2023, 7, 11), date(2023, 8, 15), 36, 600, D("9.5"), 300),
        ]

    def test_paid_when_the_rate_is_lower_the_difference_is_a_credit(self):
        # Debt of January 2022, 1000.00, due 10.02.2022: day 31 = 13.03.2022, day 91 = 12.05.2022.
        # The cap (9.5 %) is in force from 28.02.2022; the key rate at the end of March to June was
        # 20, 17, 11 and 9.5 %: those months accrue at 9.5 %:
        #   13.03..11.05 (days 31..90, 60 days) at 1/300: 1000 * 9.5 * 60 / 30000 = 19.00
        #   12.05..30.06 (50 days) at 1/130: 1000 * 9.5 * 50 / 13000 = 36.538461...
        # Paid on 26.07.2022 (key rate 8 %): July accrues 01.07..25.07 (25 days) at 8 %:
        #   1000 * 8 * 25 / 13000 = 15.384615... Accrued: 70.923076...
        # Settled at 8 % throughout: 1000 * 8 * 60 / 30000 = 16.00 + 1000 * 8 * 75 / 13000 =
        #   46.153846...: 62.153846... The correction: 62.153846... - 70.923076... = -8.769230... -> -8.77.
        debts, payments = [debt(2022, 1, "1000")], [pay(2022, 7, 26, "1000")]
        accrued = accrued_on(debts, payments, [(2022, m) for m in range(3, 8)])
        [settlement] = settle(debts, payments, 2022, 7, accrued)
        assert settlement.key_rate == D(8)
        assert settlement.amount == D("-8.77")
        assert round_money(settlement.settled) == D("62.15")
        assert round_money(settlement.accrued) == D("70.92")
        assert summary(settlement) == [
            (date(2022, 1, 1), date(2022, 3, 13), date(2022, 5, 11), 60, 1000, D(8), 300),
            (date(2022, 1, 1), date(2022, 5, 12), date(2022, 7, 25), 75, 1000, D(8), 130),
        ]

    def test_paid_within_the_grace_days_nothing_to_settle(self):
        # Paid on 10.07.2023, day 30: no day overdue, nothing accrued.
        assert settle([MAY_2023], [pay(2023, 7, 10, "1000")], 2023, 7, {}) == []

    def test_a_payment_recorded_after_its_month_was_closed_is_settled_by_the_next_close(self):
        # Paid on 16.08.2023 but recorded after August was closed: posted to September. The close of
        # August did not see it (August accrued 31 days on the whole debt at the rate of 31.08,
        # 12 % capped at 9.5 %: 1000 * 9.5 * 31 / 30000 = 9.816666...); the close of September sees
        # the debt paid off and settles it: 11.40 - (5.95 + 9.816666...) = -4.366666... -> -4.37
        # (the 16 August days billed after the payment are taken back).
        late = [Payment(date(2023, 8, 16), D(1000), posted=date(2023, 9, 1))]
        accrued = accrued_on([MAY_2023], [], [(2023, 7), (2023, 8)])  # August's close saw no payment
        assert settle([MAY_2023], late, 2023, 8, accrued) == []
        assert close([MAY_2023], late, 2023, 9) is NO_PENALTY
        [settlement] = settle([MAY_2023], late, 2023, 9, accrued)
        assert (settlement.paid_off, settlement.settled, settlement.amount) == (
            date(2023, 8, 16),
            D("11.40"),
            D("-4.37"),
        )

    def test_settled_once_whatever_the_later_closes(self):
        payments = [pay(2023, 8, 16, "1000")]
        accrued = accrued_on([MAY_2023], payments, [(2023, 7), (2023, 8)])
        assert len(settle([MAY_2023], payments, 2023, 8, accrued)) == 1
        for month in (9, 10, 11):
            assert settle([MAY_2023], payments, 2023, month, accrued) == []
        # And a debt named as settled already is skipped, whatever the payments say.
        assert settle([MAY_2023], payments, 2023, 8, accrued, settled={date(2023, 5, 1)}) == []

    def test_a_credit_pays_off_the_oldest_debt_and_is_the_day_of_payment(self):
        # July 2023 credits 1000.00 (a recalculation): from 01.08.2023, the day its bill is issued, it
        # pays May. August accrues nothing on May; the settlement is at the rate of 01.08.2023 (8.5 %),
        # that of July's accrual: 1000 * 8.5 * 21 / 30000 = 5.95 - 5.95 = 0.00.
        debts = [MAY_2023, debt(2023, 7, "-1000")]
        accrued = accrued_on(debts, [], [(2023, 7), (2023, 8)])
        assert accrued == {date(2023, 5, 1): D("5.95")}
        [settlement] = settle(debts, [], 2023, 8, accrued)
        assert (settlement.paid_off, settlement.settled, settlement.amount) == (
            date(2023, 8, 1),
            D("5.95"),
            D("0.00"),
        )

    def test_the_oldest_debt_is_settled_first_the_next_one_when_it_is_paid_off(self):
        # May and June 2023, 1000.00 each; 1500.00 on 16.08.2023 pays off May and half of June;
        # the rest of June on 20.09.2023. August settles May, September June.
        debts = [MAY_2023, debt(2023, 6, "1000")]
        payments = [pay(2023, 8, 16, "1500"), pay(2023, 9, 20, "500")]
        accrued = accrued_on(debts, payments, [(2023, 7), (2023, 8), (2023, 9)])
        assert [s.period for s in settle(debts, payments, 2023, 8, accrued)] == [date(2023, 5, 1)]
        [june] = settle(debts, payments, 2023, 9, accrued)
        # June is due 10.07.2023: day 31 = 10.08.2023. 500 paid on 16.08: 10.08..15.08 (6 days) at
        # 9.5 %: 500 * 9.5 * 6 / 30000 = 0.95; 500 paid on 20.09 (13 %, capped 9.5 %): 10.08..19.09
        # (41 days): 500 * 9.5 * 41 / 30000 = 6.491666...; settled 7.441666... August accrued
        # 0.95 + 500 * 9.5 * 22 / 30000 (10.08..31.08 at the rate of 31.08, capped) = 3.483333...
        # September 500 * 9.5 * 19 / 30000 = 3.008333...: the same rates, so nothing to correct.
        assert june.period == date(2023, 6, 1)
        assert round_money(june.settled) == D("7.44")
        assert june.amount == D("0.00")

    def test_days_before_the_history_kept_here_are_not_settled(self):
        # The account's months before August 2023 were billed elsewhere (an imported history, with
        # its penalty as a sum): only the days from 01.08.2023 are settled, 01.08..15.08 at 9.5 %:
        # 1000 * 9.5 * 15 / 30000 = 4.75, as August accrued them: nothing to correct.
        payments = [pay(2023, 8, 16, "1000")]
        accrued = accrued_on([MAY_2023], payments, [(2023, 8)])
        [settlement] = penalty_settlements(
            [MAY_2023], payments, date(2023, 8, 1), RATES, RULES, accrued, since=date(2023, 8, 1)
        )
        assert (settlement.settled, settlement.amount) == (D("4.75"), D("0.00"))

    def test_part_amount(self):
        # 1000 * 9.5 * 36 / (100 * 300) = 11.40
        assert penalty_part_amount(D(1000), D("9.5"), 300, 36) == D("11.40")


FLAT_RATES = KeyRateTable([(date(2013, 9, 13), D("7.5"))])


def reference_settled(debts, payments, debt_period, rates, rules, month):
    """The penalty of a paid-off debt over its whole overdue period, day by day, as the close of
    ``month`` sees the payments (those posted by then, made by its end): each part of the debt
    overdue until the day before it was paid, at the key rate of that day, capped on the days a
    cap is in force (a FIFO allocation, as ``reference_penalty``)."""
    end = add_months(month, 1) - timedelta(days=1)
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    remaining = [d.amount for d in owed]
    allocations: list[list[tuple[date, Decimal]]] = [[] for _ in owed]
    events = [
        (p.paid_on, p.amount)
        for p in payments
        if (p.posted or month_start_of(p.paid_on)) <= month and p.paid_on <= end
    ]
    events += [
        (add_months(d.period, 1), -d.amount) for d in debts if d.amount < 0 and add_months(d.period, 1) <= end
    ]
    for day, amount in sorted(events, key=lambda e: e[0]):
        for i in range(len(owed)):
            take = min(amount, remaining[i])
            if take > 0:
                allocations[i].append((day, take))
                remaining[i] -= take
                amount -= take
    total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for i, d in enumerate(owed):
            if d.period != debt_period:
                continue
            day = d.due_date + timedelta(days=rules.grace_days + 1)
            while day < max(paid for paid, _ in allocations[i]):
                n = (day - d.due_date).days
                if not any(a <= day <= b for a, b in rules.moratoria):
                    divisor = rules.first_divisor if n < rules.second_from_day else rules.second_divisor
                    caps = [c.max_percent for c in rules.rate_caps if c.start <= day <= c.end]
                    for paid, x in allocations[i]:
                        if paid > day:
                            total += x * min([rates.rate_on(paid), *caps]) / 100 / divisor
                day += timedelta(days=1)
    return total


@st.composite
def paying_accounts(draw, late=True):
    """Up to 8 monthly bills from 2021 on (when the key rate moved most; a credit now and then),
    paid over the next 16 months in up to 8 payments, late or not, some recorded after their
    month was closed (``posted`` to the next month) when ``late``."""
    base = draw(st.integers(month_index(date(2021, 1, 1)), month_index(date(2025, 3, 1))))
    debts = []
    for k in range(draw(st.integers(1, 8))):
        period = month_from_index(base + k)
        amount = draw(
            st.one_of(st.decimals(min_value=D("100"), max_value=D("3000"), places=2), st.just(D("-500.00")))
        )
        debts.append(Debt(period, due_date_for(period, 10), amount))
    start = month_from_index(base + 1)
    payments = []
    for _ in range(draw(st.integers(0, 8))):
        day = start + timedelta(days=draw(st.integers(0, 16 * 31)))
        amount = draw(st.decimals(min_value=D("50"), max_value=D("4000"), places=2))
        posted = add_months(month_start_of(day), 1) if late and draw(st.integers(0, 4)) == 0 else None
        payments.append(Payment(day, amount, posted))
    return debts, payments, start


def closes(debts, payments, rates, rules):
    """Every month from the first debt to two months after the last event, closed in turn: the
    penalty accrued on each debt (from the payments posted by then) and the settlements."""
    days = [p.paid_on for p in payments] + [add_months(d.period, 1) for d in debts]
    first = min(d.period for d in debts)
    last = add_months(month_start_of(max(days)), 2)
    accrued: dict[date, Decimal] = {}
    out = []
    month = first
    while month <= last:
        seen = [p for p in payments if (p.posted or month_start_of(p.paid_on)) <= month]
        for part in penalty_for_month(debts, seen, month, rates, rules).parts:
            accrued[part.period] = accrued.get(part.period, D(0)) + part.amount
        out.append((month, penalty_settlements(debts, payments, month, rates, rules, accrued)))
        month = add_months(month, 1)
    return out


def month_start_of(day):
    return day.replace(day=1)


class TestSettlementProperties:
    @settings(max_examples=100, deadline=None)
    @given(st.one_of(accounts(), paying_accounts()), RULE_SETS)
    def test_each_debt_paid_off_is_settled_once_day_by_day(self, account, rules):
        debts, payments, _month = account
        settled: dict[date, Settlement] = {}
        for month, settlements in closes(debts, payments, RATES, rules):
            for settlement in settlements:
                assert settlement.period not in settled  # never twice
                settled[settlement.period] = settlement
                expected = reference_settled(debts, payments, settlement.period, RATES, rules, month)
                assert abs(settlement.settled - expected) < D("1e-20")
                assert settlement.amount == round_money(settlement.settled - settlement.accrued)
        # Every debt paid off with a day overdue was settled.
        owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
        last = month
        for period in {d.period for d in owed} - set(settled):
            if reference_paid_off(debts, payments, period):
                assert reference_settled(debts, payments, period, RATES, rules, last) == 0

    @settings(max_examples=100, deadline=None)
    @given(st.one_of(accounts(), paying_accounts(late=False)), RULE_SETS)
    def test_with_a_key_rate_that_never_changes_there_is_nothing_to_correct(self, account, rules):
        # The monthly accrual and the settlement then use the same rate for every day.
        debts, payments, _month = account
        for _month, settlements in closes(debts, payments, FLAT_RATES, rules):
            for settlement in settlements:
                assert abs(settlement.settled - settlement.accrued) < D("1e-20")
                assert settlement.amount == D("0.00")


def reference_paid_off(debts, payments, debt_period):
    """Whether every debt of ``debt_period`` is paid off by all the payments and credits."""
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    paid = sum((p.amount for p in payments), Decimal(0)) - sum(
        (d.amount for d in debts if d.amount < 0), Decimal(0)
    )
    upto = sum(
        (
            d.amount
            for d in owed
            if (d.period, d.due_date) <= max((o.period, o.due_date) for o in owed if o.period == debt_period)
        ),
        Decimal(0),
    )
    return paid >= upto
