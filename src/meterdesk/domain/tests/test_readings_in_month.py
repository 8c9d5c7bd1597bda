"""check_reading with a reading of the same month given before (``latest``: an inspector's
control reading): the new value must continue it as well as the previous month's."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from meterdesk.domain import readings as rules
from meterdesk.domain.readings import MeterShape, check_reading

D = Decimal
FIVE = MeterShape(zones=1, digits=5)
TWO_ZONE = MeterShape(zones=2, digits=6)
ABOUT = {"kind": "control", "taken_on": "2026-11-10"}


def issues(found):
    return [(i.zone, i.code, dict(i.params)) for i in found]


def test_below_the_months_control_reading_is_below_previous_naming_it():
    checked = check_reading(FIVE, ["1950"], [D(1620)], latest=[D(1990)], latest_params=ABOUT)
    assert issues(checked.errors) == [(1, rules.BELOW_PREVIOUS, {"previous": D(1990), **ABOUT})]


def test_at_or_above_the_control_reading_is_measured_from_the_previous_month():
    checked = check_reading(FIVE, ["1990"], [D(1620)], latest=[D(1990)], latest_params=ABOUT)
    assert checked.ok and checked.values == (D(1990),)
    assert checked.consumption == (D(370),)  # what the month bills: since the previous month
    assert checked.rolled_over == (False,)


def test_each_zone_against_its_own_value():
    checked = check_reading(
        TWO_ZONE, ["2000", "985"], [D(1620), D(800)], latest=[D(1990), D(990)], latest_params=ABOUT
    )
    assert [(i.zone, i.code) for i in checked.errors] == [(2, rules.BELOW_PREVIOUS)]


def test_a_rollover_since_the_control_reading_is_asked_about_that_reading():
    # The inspector saw 99 990 on a five-digit meter; 20 now is 30 kWh since, past zero.
    checked = check_reading(FIVE, ["20"], [D(99000)], latest=[D(99990)], latest_params=ABOUT)
    assert checked.errors == ()
    assert issues(checked.confirmations) == [
        (1, rules.CONFIRM_ROLLOVER, {"previous": D(99990), "value": D(20), "consumption": D(30), **ABOUT})
    ]
    assert checked.token(checked.confirmations[0]) == "rollover:1=20"
    assert checked.consumption == (D(1020),)  # billed since the previous month's 99 000
    assert checked.rolled_over == (True,)


def test_a_rollover_the_inspector_saw_is_not_asked_about_again():
    # Billed 99 990; the inspector read 20 (past zero); the household's 50 goes on from there.
    checked = check_reading(FIVE, ["50"], [D(99990)], latest=[D(20)], latest_params=ABOUT)
    assert checked.ok and checked.confirmations == ()
    assert checked.consumption == (D(60),)
    assert checked.rolled_over == (True,)


def test_below_what_was_billed_is_refused_even_above_a_lower_control_reading():
    # The household over-reported last month (1 300); the inspector saw 1 250. 1 280 would be
    # billed against 1 300 as a pass through zero: it is refused, naming 1 300.
    checked = check_reading(FIVE, ["1280"], [D(1300)], latest=[D(1250)], latest_params=ABOUT)
    assert issues(checked.errors) == [(1, rules.BELOW_PREVIOUS, {"previous": D(1300)})]
    assert check_reading(FIVE, ["1300"], [D(1300)], latest=[D(1250)], latest_params=ABOUT).ok


def test_high_consumption_is_judged_on_the_months_consumption():
    checked = check_reading(FIVE, ["2400"], [D(1600)], [D(100)], latest=[D(2300)], latest_params=ABOUT)
    assert [(i.zone, i.code) for i in checked.confirmations] == [(1, rules.CONFIRM_HIGH)]
    assert checked.confirmations[0].params["consumption"] == D(800)


def test_without_a_reading_of_the_month_nothing_changes():
    assert check_reading(FIVE, ["1950"], [D(1620)], latest=None) == check_reading(FIVE, ["1950"], [D(1620)])


@given(
    previous=st.integers(0, 99_999),
    latest=st.integers(0, 99_999),
    value=st.integers(0, 99_999),
)
def test_never_below_the_months_reading_unless_a_confirmed_rollover(previous, latest, value):
    checked = check_reading(FIVE, [str(value)], [D(previous)], latest=[D(latest)], latest_params=ABOUT)
    if value < latest:
        if checked.ok:
            assert [i.code for i in checked.confirmations if i.code == rules.CONFIRM_ROLLOVER] == [
                rules.CONFIRM_ROLLOVER
            ]
            assert checked.confirmations[0].params["previous"] == D(latest)
        else:
            assert checked.errors[0].code == rules.BELOW_PREVIOUS
    if checked.ok and value < previous:
        assert checked.rolled_over == (True,)
