"""A payment made for a stated month pays that month's debt first (DOMAIN.md rule 7: "without a
stated period, a payment settles the oldest debt first"; docs/penalties.md, "Which debts a payment
pays").

Every example is computed by hand in its comments, as in test_penalties.py: with the 9.5 % cap and
the divisor 300 a day on 1000 ₽ costs 1000 * 9.5 / 30000 = 0.31666... ₽; "day n" is the n-th day
after the due date (31..90 at 1/300, from 91 at 1/130).
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterdesk.domain.money import round_money
from meterdesk.domain.penalties import (
    Debt,
    Payment,
    debts_for_month,
    debts_paid_off,
    due_date_for,
    key_rates_load,
    payments_allocate,
    penalty_for_month,
    penalty_settlements,
    stated_month,
)
from meterdesk.domain.periods import add_months, month_from_index, month_index
from meterdesk.domain.profiles import profile_load

D = Decimal
RULES = profile_load("ru-354-current").penalty
RATES = key_rates_load()
NO_CAP = dataclasses.replace(RULES, rate_caps=())
RULE_SETS = st.sampled_from([RULES, NO_CAP, dataclasses.replace(RULES, moratoria=())])


def debt(year, month, amount):
    period = date(year, month, 1)
    return Debt(period, due_date_for(period, 10), D(amount))


def pay(year, month, day, amount, paid_for=None):
    return Payment(date(year, month, day), D(amount), paid_for=paid_for)


def close(debts, payments, year, month):
    return penalty_for_month(debts, payments, date(year, month, 1), RATES, RULES)


def summary(result):
    """(period, first day, last day, days, overdue, rate, divisor) of each part."""
    return [
        (p.period, p.first_day, p.last_day, p.days, p.overdue, p.rate_percent, p.divisor)
        for p in result.parts
    ]


def paid(allocation):
    """{debt's month: [(day, amount), ...]} of ``payments_allocate``'s answer."""
    return {d.period: slices for d, slices in allocation}


# January 2025: due 10.02.2025, day 31 = 13.03.2025, day 91 = 12.05.2025.
# February 2025: due 10.03.2025, day 31 = 10.04.2025. March 2025: due 10.04.2025, day 31 = 11.05.2025.
# The key rate in March to May 2025 is 21 %, capped at 9.5 %.
JAN, FEB, MAR = debt(2025, 1, "1000"), debt(2025, 2, "800"), debt(2025, 3, "600")
FEB_1 = date(2025, 2, 1)


class TestStatedMonth:
    def test_a_month_billed_by_the_day_of_payment_is_honoured(self):
        # February's bill is issued on 01.03.2025: a payment for February from that day pays it.
        assert stated_month(pay(2025, 3, 1, "1", FEB_1)) == FEB_1
        assert stated_month(pay(2025, 4, 5, "1", FEB_1)) == FEB_1

    def test_the_month_of_payment_or_a_later_one_is_not(self):
        # Paid on 28.02.2025 for February (not billed yet) or for March: as if no month were said.
        assert stated_month(pay(2025, 2, 28, "1", FEB_1)) is None
        assert stated_month(pay(2025, 2, 28, "1", date(2025, 3, 1))) is None
        assert stated_month(pay(2025, 2, 28, "1")) is None

    def test_the_month_is_a_first_day(self):
        with pytest.raises(ValueError, match="first day"):
            Payment(date(2025, 3, 5), D(1), paid_for=date(2025, 2, 2))


class TestAllocation:
    def test_a_payment_for_the_later_month_pays_it_and_not_the_oldest(self):
        # 800.00 on 05.04.2025 for February: February's 800 paid off; January's 1000 untouched.
        allocation = paid(payments_allocate([JAN, FEB], [pay(2025, 4, 5, "800", FEB_1)]))
        assert allocation == {JAN.period: [], FEB.period: [(date(2025, 4, 5), D("800"))]}

    def test_the_excess_goes_to_the_oldest(self):
        # 1000.00 on 05.04.2025 for February: 800 pays February, the other 200 January (the oldest);
        # March's 600 is untouched.
        allocation = paid(payments_allocate([MAR, FEB, JAN], [pay(2025, 4, 5, "1000", FEB_1)]))
        assert allocation == {
            JAN.period: [(date(2025, 4, 5), D("200"))],
            FEB.period: [(date(2025, 4, 5), D("800"))],
            MAR.period: [],
        }

    def test_a_month_with_nothing_owed_sends_the_payment_to_the_oldest(self):
        # February is paid on 01.03 (800, for February); a second 500 for February on 20.03 finds
        # nothing owed there and pays January: 1000 - 500 = 500 of January left.
        payments = [pay(2025, 3, 1, "800", FEB_1), pay(2025, 3, 20, "500", FEB_1)]
        allocation = paid(payments_allocate([JAN, FEB], payments))
        assert allocation == {
            JAN.period: [(date(2025, 3, 20), D("500"))],
            FEB.period: [(date(2025, 3, 1), D("800"))],
        }

    def test_a_month_not_billed_yet_sends_the_payment_to_the_oldest(self):
        # 600.00 on 20.03.2025 for March (its bill is issued on 01.04): it pays January, oldest first.
        allocation = paid(payments_allocate([JAN, FEB, MAR], [pay(2025, 3, 20, "600", date(2025, 3, 1))]))
        assert allocation[JAN.period] == [(date(2025, 3, 20), D("600"))]
        assert allocation[MAR.period] == []

    def test_a_month_stated_in_parts_pays_its_parts_in_order(self):
        # February is a charge of 800 and a correction of 300 (two debts of one month): 1000 for
        # February pays the 800, then 200 of the 300; January is untouched.
        correction = Debt(FEB.period, FEB.due_date, D("300"))
        allocation = payments_allocate([JAN, FEB, correction], [pay(2025, 4, 5, "1000", FEB_1)])
        assert [(d.amount, s) for d, s in allocation] == [
            (D("1000"), []),
            (D("800"), [(date(2025, 4, 5), D("800"))]),
            (D("300"), [(date(2025, 4, 5), D("200"))]),
        ]

    def test_an_overpayment_is_kept_for_the_next_debts_oldest_first(self):
        # 2000.00 on 05.04.2025 for February: 800 February, 1000 January, the last 200 March (a
        # debt not due yet): nothing is paid beyond a debt.
        allocation = paid(payments_allocate([JAN, FEB, MAR], [pay(2025, 4, 5, "2000", FEB_1)]))
        assert {p: sum((x for _, x in s), D(0)) for p, s in allocation.items()} == {
            JAN.period: D("1000"),
            FEB.period: D("800"),
            MAR.period: D("200"),
        }

    def test_only_what_is_made_by_the_last_day(self):
        payments = [pay(2025, 3, 20, "100"), pay(2025, 4, 5, "800", FEB_1)]
        allocation = paid(payments_allocate([JAN, FEB], payments, last=date(2025, 3, 31)))
        assert allocation == {JAN.period: [(date(2025, 3, 20), D("100"))], FEB.period: []}


class TestPenalty:
    def test_the_earlier_month_keeps_accruing_the_later_one_stops(self):
        # 800.00 paid on 05.04.2025 for February: February is paid off before its day 31 (10.04),
        # January's 1000 stays owed.
        # April: January 01.04..30.04 (days 50..79, 1/300), 30 days: 1000 * 9.5 * 30 / 30000 = 9.50;
        #   February nothing.
        # May: January 01.05..11.05 (days 80..90), 11 days at 1/300: 1000 * 9.5 * 11 / 30000 =
        #   3.48333...; 12.05..31.05 (days 91..110), 20 days at 1/130: 1000 * 9.5 * 20 / 13000 =
        #   14.615384...; 18.098717... -> 18.10. February nothing.
        payments = [pay(2025, 4, 5, "800", FEB_1)]
        april = close([JAN, FEB], payments, 2025, 4)
        assert summary(april) == [(JAN.period, date(2025, 4, 1), date(2025, 4, 30), 30, 1000, D("9.5"), 300)]
        assert april.amount == D("9.50")
        may = close([JAN, FEB], payments, 2025, 5)
        assert summary(may) == [
            (JAN.period, date(2025, 5, 1), date(2025, 5, 11), 11, 1000, D("9.5"), 300),
            (JAN.period, date(2025, 5, 12), date(2025, 5, 31), 20, 1000, D("9.5"), 130),
        ]
        assert may.amount == D("18.10")

    def test_without_the_month_the_same_payment_pays_january_first(self):
        # The same 800.00 on 05.04.2025 without a month: it pays January (200 of it left) and
        # February stays owed. April: January 01.04..04.04 on 1000, 4 days: 1.26666...;
        # 05.04..30.04 on 200, 26 days: 200 * 9.5 * 26 / 30000 = 1.64666...; February 10.04..30.04
        # on 800, 21 days: 800 * 9.5 * 21 / 30000 = 5.32. 8.23333... -> 8.23.
        april = close([JAN, FEB], [pay(2025, 4, 5, "800")], 2025, 4)
        assert april.amount == D("8.23")

    def test_the_excess_beyond_the_month_pays_the_oldest(self):
        # 1000.00 on 05.04.2025 for February: 800 to February, 200 to January.
        # April: January 01.04..04.04 on 1000, 4 days: 1000 * 9.5 * 4 / 30000 = 1.26666...;
        #   05.04..30.04 on 800, 26 days: 800 * 9.5 * 26 / 30000 = 6.58666...; 7.85333... -> 7.85.
        #   February nothing; March is not overdue before 11.05.
        april = close([JAN, FEB, MAR], [pay(2025, 4, 5, "1000", FEB_1)], 2025, 4)
        assert summary(april) == [
            (JAN.period, date(2025, 4, 1), date(2025, 4, 4), 4, 1000, D("9.5"), 300),
            (JAN.period, date(2025, 4, 5), date(2025, 4, 30), 26, 800, D("9.5"), 300),
        ]
        assert april.amount == D("7.85")

    def test_a_payment_for_a_later_month_made_before_the_month_closed(self):
        # Paid 800.00 on 20.03.2025 for February; closing April, that payment was made before the
        # month: January is still wholly owed all April (9.50, as above), February not at all.
        april = close([JAN, FEB], [pay(2025, 3, 20, "800", FEB_1)], 2025, 4)
        assert april.amount == D("9.50")
        # Without the month it would have paid 800 of January: January 200 for 30 days
        # (200 * 9.5 * 30 / 30000 = 1.90) and February 800 from 10.04 (5.32): 7.22.
        assert close([JAN, FEB], [pay(2025, 3, 20, "800")], 2025, 4).amount == D("7.22")

    def test_a_payment_for_a_month_due_later_does_not_hide_the_older_debt(self):
        # February owes 1000.00 due only on 10.05.2025 (a due date given as such); 1000.00 paid on
        # 20.03.2025 for February pays it, not January. All that was paid before April covers
        # January's amount, but January is still owed: April 01.04..30.04, 9.50 as above.
        late_feb = Debt(FEB_1, date(2025, 5, 10), D("1000"))
        april = close([JAN, late_feb], [pay(2025, 3, 20, "1000", FEB_1)], 2025, 4)
        assert april.amount == D("9.50")


class TestDebtsForMonth:
    def test_months_paid_for_are_not_summed_with_an_older_month_still_owed(self):
        # January 1000, February 800, March 600, April 500 (2025). On 20.05.2025 February, March
        # and April are paid for, each by name (1900 in all, more than January and February
        # together): January alone is owed, and only the months after it were paid off.
        debts = [JAN, FEB, MAR, debt(2025, 4, "500")]
        payments = [
            pay(2025, 5, 20, "800", FEB_1),
            pay(2025, 5, 20, "600", MAR.period),
            pay(2025, 5, 20, "500", date(2025, 4, 1)),
        ]
        rows = [(d.period, d.due_date, d.amount) for d in debts]
        assert debts_for_month(rows, payments, date(2025, 6, 1)) == debts
        # June: January (due 10.02.2025) is on days 111..140, all at 1/130, at the rate of 30.06
        # (20 %, capped at 9.5 %): 1000 * 9.5 * 30 / 13000 = 21.923076... -> 21.92. (Summed with
        # February as one debt due 10.03.2025 it would be on days 83..112: 18.61.)
        assert close(debts, payments, 2025, 6).amount == D("21.92")


MAY_2023 = debt(2023, 5, "1000")  # due 10.06.2023; day 31 = 11.07.2023
APR_2023 = debt(2023, 4, "1000")  # due 10.05.2023; day 31 = 10.06.2023; day 91 = 09.08.2023
# The key rate: 7.5 % until 23.07.2023, 8.5 % from 24.07.2023, 12 % from 15.08.2023 (capped 9.5 %).


class TestSettlement:
    def test_the_month_paid_for_is_settled_the_oldest_keeps_accruing(self):
        # April and May 2023, 1000.00 each; 1000.00 paid on 16.08.2023 for May.
        # June:   April 10.06..30.06, 21 days at the rate of 30.06 (7.5 %): 1000 * 7.5 * 21 / 30000 = 5.25.
        # July:   April 01.07..31.07 (days 52..82), 31 days at 8.5 %: 8.78333...;
        #         May 11.07..31.07, 21 days at 8.5 %: 1000 * 8.5 * 21 / 30000 = 5.95.
        # August: April (unpaid, at the rate of 31.08: 12 % capped at 9.5 %) 01.08..08.08 (days 83..90),
        #         8 days at 1/300: 2.53333...; 09.08..31.08 (days 91..113), 23 days at 1/130:
        #         1000 * 9.5 * 23 / 13000 = 16.807692...; May 01.08..15.08, 15 days at the rate of 16.08
        #         (9.5 %): 4.75. 24.091025... -> 24.09.
        # The August close settles May (paid off on 16.08) over 11.07..15.08, 36 days at 9.5 %:
        #   11.40; accrued 5.95 + 4.75 = 10.70; +0.70. April, still owed, is not settled.
        debts, payments = [APR_2023, MAY_2023], [pay(2023, 8, 16, "1000", MAY_2023.period)]
        assert close(debts, payments, 2023, 6).amount == D("5.25")
        assert close(debts, payments, 2023, 7).amount == D("14.73")
        august = close(debts, payments, 2023, 8)
        assert summary(august) == [
            (APR_2023.period, date(2023, 8, 1), date(2023, 8, 8), 8, 1000, D("9.5"), 300),
            (APR_2023.period, date(2023, 8, 9), date(2023, 8, 31), 23, 1000, D("9.5"), 130),
            (MAY_2023.period, date(2023, 8, 1), date(2023, 8, 15), 15, 1000, D("9.5"), 300),
        ]
        assert august.amount == D("24.09")
        accrued: dict[date, Decimal] = {}
        for number in (6, 7, 8):
            for part in close(debts, payments, 2023, number).parts:
                accrued[part.period] = accrued.get(part.period, D(0)) + part.amount
        [settlement] = penalty_settlements(debts, payments, date(2023, 8, 1), RATES, RULES, accrued)
        assert (settlement.period, settlement.paid_off, settlement.settled, settlement.amount) == (
            MAY_2023.period,
            date(2023, 8, 16),
            D("11.40"),
            D("0.70"),
        )
        assert summary(settlement) == [
            (MAY_2023.period, date(2023, 7, 11), date(2023, 8, 15), 36, 1000, D("9.5"), 300)
        ]

    def test_without_the_month_the_oldest_is_settled(self):
        # The same payment without a month pays April off on 16.08.2023: April is settled, May not.
        debts, payments = [APR_2023, MAY_2023], [pay(2023, 8, 16, "1000")]
        settled = penalty_settlements(debts, payments, date(2023, 8, 1), RATES, RULES, {})
        assert [s.period for s in settled] == [APR_2023.period]


# --- Properties -----------------------------------------------------------------------------------


def reference_slices(debts, payments, last=None):
    """Each payment and credit on its own, in the order of the days (credits on the day their
    bill is issued): first to the debts of its month when that month was billed before the month
    of payment, then to the oldest debts. Per debt (oldest first), the (day, amount) it was paid."""
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    remaining = [d.amount for d in owed]
    slices: list[list[tuple[date, Decimal]]] = [[] for _ in owed]
    events = [
        (p.paid_on, p.amount, p.paid_for if p.paid_for and p.paid_for < p.paid_on.replace(day=1) else None)
        for p in payments
    ]
    events += [(add_months(d.period, 1), -d.amount, None) for d in debts if d.amount < 0]
    for day, amount, month in sorted(events, key=lambda e: e[0]):
        if last is not None and day > last:
            continue
        order = [i for i, d in enumerate(owed) if d.period == month] + list(range(len(owed)))
        for i in order:
            take = min(amount, remaining[i])
            if take > 0:
                slices[i].append((day, take))
            remaining[i] -= take
            amount -= take
    return slices


def reference_allocation(debts, payments, last=None):
    """Per debt (oldest first), what it was paid in all (``reference_slices``)."""
    return [sum((x for _, x in s), D(0)) for s in reference_slices(debts, payments, last)]


def reference_penalty(debts, payments, month, rates, rules):
    """Day by day, every slice of every debt, with the allocation of each payment found by
    ``payments_allocate``'s reference above, event by event (plain and slow)."""
    first = month
    last = add_months(month, 1) - timedelta(days=1)
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    # The slices: what each debt had been paid by the end of each day (a day paid stops its part).
    days = sorted(
        {p.paid_on for p in payments if p.paid_on <= last} | {add_months(d.period, 1) for d in debts}
    )
    cumulative = {day: reference_allocation(debts, payments, day) for day in days if day <= last}
    total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for i, d in enumerate(owed):
            by_end = cumulative[max(cumulative)][i] if cumulative else D(0)
            pieces = []  # (day paid, amount)
            previous = D(0)
            for day in sorted(cumulative):
                now = cumulative[day][i]
                if now > previous:
                    pieces.append((day, now - previous))
                previous = now
            day = first
            while day <= last:
                n = (day - d.due_date).days
                frozen = any(a <= day <= b for a, b in rules.moratoria)
                if n > rules.grace_days and not frozen:
                    divisor = rules.first_divisor if n < rules.second_from_day else rules.second_divisor
                    caps = [c.max_percent for c in rules.rate_caps if c.start <= day <= c.end]
                    owing = [(paid_on, x) for paid_on, x in pieces if paid_on > day] + [
                        (last, d.amount - by_end)
                    ]
                    for calc_day, x in owing:
                        rate = min([rates.rate_on(calc_day), *caps])
                        total += x * rate / 100 / divisor
                day += timedelta(days=1)
    return total


MONTHS = st.integers(month_index(date(2019, 6, 1)), month_index(date(2026, 6, 1)))
AMOUNTS = st.decimals(
    min_value=D("-800"), max_value=D("5000"), places=2, allow_nan=False, allow_infinity=False
)
PAID = st.decimals(min_value=D(0), max_value=D("6000"), places=2, allow_nan=False, allow_infinity=False)


@st.composite
def accounts(draw, max_payments=10):
    """Up to 12 monthly debts (some credits, some months in parts) and payments around one base
    month, most of them for a month (a billed one, the month of payment, a later one), and a
    month to close."""
    base = draw(MONTHS)
    periods = draw(st.lists(st.integers(base - 14, base), min_size=1, max_size=12))
    debts = [Debt(month_from_index(p), due_date_for(month_from_index(p), 10), draw(AMOUNTS)) for p in periods]
    start = month_from_index(base - 14)
    payments = []
    for _ in range(draw(st.integers(0, max_payments))):
        day = start + timedelta(days=draw(st.integers(0, 19 * 31)))
        # No month, a month billed (or not), or one around the month of payment (-3..+1).
        near = [add_months(day.replace(day=1), k) for k in range(-3, 2)]
        paid_for = draw(st.one_of(st.none(), st.sampled_from([d.period for d in debts] + near)))
        payments.append(Payment(day, draw(PAID), paid_for=paid_for))
    month = month_from_index(draw(st.integers(base - 12, base + 4)))
    return debts, payments, month


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(accounts())
    def test_money_is_conserved_and_no_debt_is_paid_more_than_it_is(self, account):
        debts, payments, _month = account
        allocation = payments_allocate(debts, payments)
        owed = sum((d.amount for d in debts if d.amount > 0), D(0))
        given = sum((p.amount for p in payments), D(0)) - sum((d.amount for d in debts if d.amount < 0), D(0))
        allocated = D(0)
        for d, slices in allocation:
            assert all(x > 0 for _, x in slices)
            assert [day for day, _ in slices] == sorted({day for day, _ in slices})  # one a day, by day
            assert sum((x for _, x in slices), D(0)) <= d.amount
            allocated += sum((x for _, x in slices), D(0))
        assert allocated == min(owed, given)  # every kopeck paid goes to a debt until none is left
        assert [sum((x for _, x in s), D(0)) for _, s in allocation] == reference_allocation(debts, payments)

    @settings(max_examples=200, deadline=None)
    @given(accounts(max_payments=6), st.randoms(use_true_random=False))
    def test_what_each_debt_is_paid_does_not_depend_on_the_order(self, account, rng: random.Random):
        # All on one day in any order: the same as in the order of their days (the close sums the
        # payments made before the month on this ground).
        debts, payments, _month = account
        debts = [d for d in debts if d.amount > 0]
        day = max([p.paid_on for p in payments], default=date(2026, 12, 31))
        expected = reference_allocation(debts, payments)
        # Moved to a later day, a payment keeps its month honoured or not as it was.
        same_day = [dataclasses.replace(p, paid_on=day, paid_for=stated_month(p)) for p in payments]
        rng.shuffle(same_day)
        assert [sum((x for _, x in s), D(0)) for _, s in payments_allocate(debts, same_day)] == expected

    @settings(max_examples=300, deadline=None)
    @given(accounts(), RULE_SETS)
    def test_the_penalty_matches_the_day_by_day_reference(self, account, rules):
        debts, payments, month = account
        result = penalty_for_month(debts, payments, month, RATES, rules)
        assert result.amount == round_money(sum((p.amount for p in result.parts), D(0)))
        assert all(p.amount > 0 for p in result.parts)
        expected = reference_penalty(debts, payments, month, RATES, rules)
        assert abs(sum((p.amount for p in result.parts), D(0)) - expected) < D("1e-20")

    @settings(max_examples=300, deadline=None)
    @given(accounts(), RULE_SETS)
    def test_debts_paid_off_before_the_month_summed_give_the_same_penalty(self, account, rules):
        debts, payments, month = account
        rows = [(d.period, d.due_date, d.amount) for d in debts]
        compacted = debts_for_month(rows, payments, month)
        assert sum((d.amount for d in compacted), D(0)) == sum((d.amount for d in debts), D(0))
        expected = penalty_for_month(debts, payments, month, RATES, rules)
        assert penalty_for_month(compacted, payments, month, RATES, rules) == expected

    @settings(max_examples=300, deadline=None)
    @given(accounts(), RULE_SETS)
    def test_payments_before_the_month_for_no_month_summed_give_the_same_penalty(self, account, rules):
        # What the close reads (billing/close_penalties.py, penalties_accrued): the payments before the month that
        # say no month as one, dated the day before the month; those that say one on their own.
        debts, payments, month = account
        before = [p for p in payments if p.paid_on < month]
        unsaid = sum((p.amount for p in before if p.paid_for is None), D(0))
        read = [p for p in payments if p.paid_on >= month or p.paid_for is not None]
        read.append(Payment(month - timedelta(days=1), unsaid))
        expected = penalty_for_month(debts, payments, month, RATES, rules)
        assert penalty_for_month(debts, read, month, RATES, rules) == expected


def month_of(day):
    return day.replace(day=1)


def reference_settled(debts, payments, debt_period, month):
    """The penalty of the paid-off debts of ``debt_period`` over their whole overdue period, day by
    day, with the payments the close of ``month`` sees (posted by then, made by its end)."""
    end = add_months(month, 1) - timedelta(days=1)
    seen = [p for p in payments if (p.posted or month_of(p.paid_on)) <= month]
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    total = D(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for d, slices in zip(owed, reference_slices(debts, seen, end), strict=True):
            if d.period != debt_period:
                continue
            day = d.due_date + timedelta(days=RULES.grace_days + 1)
            while day < max(paid_on for paid_on, _ in slices):
                n = (day - d.due_date).days
                if not any(a <= day <= b for a, b in RULES.moratoria):
                    divisor = RULES.first_divisor if n < RULES.second_from_day else RULES.second_divisor
                    caps = [c.max_percent for c in RULES.rate_caps if c.start <= day <= c.end]
                    for paid_on, x in slices:
                        if paid_on > day:
                            total += x * min([RATES.rate_on(paid_on), *caps]) / 100 / divisor
                day += timedelta(days=1)
    return total


@st.composite
def paying_accounts(draw):
    """Up to 8 monthly bills from 2021 on (a credit now and then), paid over the next 16 months in
    up to 8 payments, for a month or not, some recorded after their month was closed."""
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
        posted = add_months(month_of(day), 1) if draw(st.integers(0, 4)) == 0 else None
        paid_for = draw(st.one_of(st.none(), st.sampled_from([d.period for d in debts])))
        payments.append(Payment(day, amount, posted, paid_for))
    return debts, payments


class TestSettlementProperties:
    @settings(max_examples=150, deadline=None)
    @given(paying_accounts())
    def test_each_debt_paid_off_is_settled_once_day_by_day(self, account):
        # Every month closed in turn, from the first debt to two months after the last payment.
        debts, payments = account
        days = [p.paid_on for p in payments] + [add_months(d.period, 1) for d in debts]
        month, last = min(d.period for d in debts), add_months(month_of(max(days)), 2)
        accrued: dict[date, Decimal] = {}
        settled: set[date] = set()
        while month <= last:
            seen = [p for p in payments if (p.posted or month_of(p.paid_on)) <= month]
            for part in penalty_for_month(debts, seen, month, RATES, RULES).parts:
                accrued[part.period] = accrued.get(part.period, D(0)) + part.amount
            for s in penalty_settlements(debts, payments, month, RATES, RULES, accrued):
                assert s.period not in settled  # never twice
                settled.add(s.period)
                assert abs(s.settled - reference_settled(debts, payments, s.period, month)) < D("1e-20")
            month = add_months(month, 1)
        # Every month whose debts end paid off with a day overdue was settled.
        owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
        totals = reference_allocation(debts, payments)
        for period in {d.period for d in owed} - settled:
            if all(t >= d.amount for d, t in zip(owed, totals, strict=True) if d.period == period):
                assert reference_settled(debts, payments, period, last) == 0


def _paid_off_by_allocation(debts, payments, month):
    """The debts newly paid off at the close of ``month``, from two full allocations: the payments
    this close sees and those the close before saw."""
    end = add_months(month, 1) - timedelta(days=1)
    now = [p for p in payments if (p.posted or month_of(p.paid_on)) <= month]
    before = [p for p in payments if (p.posted or month_of(p.paid_on)) < month and p.paid_on < month]
    paid_now = payments_allocate(debts, now, end)
    paid_before = payments_allocate(debts, before, month - timedelta(days=1))
    groups: dict[date, list[tuple[bool, bool]]] = {}
    for (debt, slices), (_, slices_before) in zip(paid_now, paid_before, strict=True):
        groups.setdefault(debt.period, []).append(
            (sum(x for _, x in slices) >= debt.amount, sum(x for _, x in slices_before) >= debt.amount)
        )
    return [p for p, g in groups.items() if all(n for n, _ in g) and not all(b for _, b in g)]


class TestDebtsPaidOff:
    @settings(max_examples=200, deadline=None)
    @given(paying_accounts(), st.booleans())
    def test_running_sums_find_what_the_allocation_finds(self, account, for_no_month):
        # With no payment for a month the close finds the debts paid off from two running sums;
        # with some it allocates: both must name the debts two full allocations do, with the
        # slices of this close's allocation.
        debts, payments = account
        if for_no_month:
            payments = [dataclasses.replace(p, paid_for=None) for p in payments]
        days = [p.paid_on for p in payments] + [add_months(d.period, 1) for d in debts]
        month, last = min(d.period for d in debts), add_months(month_of(max(days)), 2)
        while month <= last:
            found = debts_paid_off(debts, payments, month)
            assert [p for p, _ in found] == _paid_off_by_allocation(debts, payments, month)
            end = add_months(month, 1) - timedelta(days=1)
            seen = [p for p in payments if (p.posted or month_of(p.paid_on)) <= month]
            allocation = {(d.period, d.due_date, d.amount): s for d, s in payments_allocate(debts, seen, end)}
            for _period, group in found:
                for debt, slices in group:
                    want = allocation[(debt.period, debt.due_date, debt.amount)]
                    assert [(date.fromordinal(day), x) for day, x in slices] == want
            month = add_months(month, 1)
