"""Checking a reading: parsing, digits, decimals, previous value, rollover, high consumption."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterdesk.domain import readings as rules
from meterdesk.domain.readings import MeterShape, average_monthly, check_reading, parse_value

D = Decimal
FIVE = MeterShape(zones=1, digits=5)
TWO_ZONE = MeterShape(zones=2, digits=6)
ONE_DECIMAL = MeterShape(zones=1, digits=5, decimal_places=1)


def codes(checked):
    return [issue.code for issue in checked.errors]


class TestParseValue:
    @pytest.mark.parametrize(
        ("raw", "value"),
        [
            ("12345", D(12345)),
            ("00030", D(30)),
            ("0", D(0)),
            ("12 345", D(12345)),
            ("12\u00a0345", D(12345)),
            (" 42 ", D(42)),
            ("+42", D(42)),
            ("12345.0", D(12345)),
            ("12345,00", D(12345)),
            (12345, D(12345)),
            (D("12345"), D(12345)),
            (D("12345.000"), D(12345)),
            ("99999", D(99999)),
        ],
    )
    def test_whole_numbers(self, raw, value):
        parsed, code = parse_value(raw, FIVE)
        assert code is None
        assert parsed == value
        assert parsed.as_tuple().exponent == 0  # normalised to a whole number

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            (None, rules.REQUIRED),
            ("", rules.REQUIRED),
            ("   ", rules.REQUIRED),
            ("-5", rules.NEGATIVE),
            (-5, rules.NEGATIVE),
            (D("-0.5"), rules.NEGATIVE),
            ("abc", rules.NOT_A_NUMBER),
            ("12a45", rules.NOT_A_NUMBER),
            ("1e5", rules.NOT_A_NUMBER),
            ("12.3.4", rules.NOT_A_NUMBER),
            ("12.", rules.NOT_A_NUMBER),
            (".5", rules.NOT_A_NUMBER),
            ("NaN", rules.NOT_A_NUMBER),
            (D("NaN"), rules.NOT_A_NUMBER),
            (D("Infinity"), rules.NOT_A_NUMBER),
            (True, rules.NOT_A_NUMBER),
            ("123.4", rules.NOT_WHOLE),
            ("123,4", rules.NOT_WHOLE),
            (D("123.4"), rules.NOT_WHOLE),
            ("100000", rules.TOO_MANY_DIGITS),
            (100000, rules.TOO_MANY_DIGITS),
            ("1234567", rules.TOO_MANY_DIGITS),
        ],
    )
    def test_refused(self, raw, code):
        assert parse_value(raw, FIVE) == (None, code)

    def test_decimal_meter_accepts_its_places_with_point_or_comma(self):
        assert parse_value("123.4", ONE_DECIMAL) == (D("123.4"), None)
        assert parse_value("123,4", ONE_DECIMAL) == (D("123.4"), None)
        assert parse_value("123", ONE_DECIMAL) == (D(123), None)
        assert parse_value("99999.9", ONE_DECIMAL) == (D("99999.9"), None)

    def test_decimal_meter_refuses_more_places(self):
        assert parse_value("123.45", ONE_DECIMAL) == (None, rules.TOO_MANY_DECIMALS)
        assert parse_value("123,45", ONE_DECIMAL) == (None, rules.TOO_MANY_DECIMALS)

    def test_digit_limit_depends_on_the_meter(self):
        assert parse_value("999999", MeterShape(1, 6)) == (D(999999), None)
        assert parse_value("1000000", MeterShape(1, 6)) == (None, rules.TOO_MANY_DIGITS)
        assert parse_value("9999999", MeterShape(1, 7)) == (D(9999999), None)


class TestCheckReading:
    def test_ordinary_reading(self):
        checked = check_reading(TWO_ZONE, ["1200", "600"], [D(1000), D(500)])
        assert checked.ok
        assert checked.values == (D(1200), D(600))
        assert checked.consumption == (D(200), D(100))
        assert checked.rolled_over == (False, False)
        assert checked.confirmations == ()

    def test_same_value_as_previous_is_zero_consumption(self):
        checked = check_reading(FIVE, ["1000"], [D(1000)])
        assert checked.ok
        assert checked.consumption == (D(0),)

    def test_five_digits_99999_ok_100000_refused(self):
        ok = check_reading(FIVE, ["99999"], [D(99000)])
        assert ok.ok
        assert ok.consumption == (D(999),)
        bad = check_reading(FIVE, ["100000"], [D(99000)])
        assert not bad.ok
        assert bad.errors[0].code == rules.TOO_MANY_DIGITS
        assert bad.errors[0].params == {"digits": 5}
        assert bad.values == ()

    def test_decimal_places_error_names_the_places(self):
        checked = check_reading(ONE_DECIMAL, ["123.45"], [D(100)])
        assert codes(checked) == [rules.TOO_MANY_DECIMALS]
        assert checked.errors[0].params == {"places": 1}

    def test_decimal_reading_consumption(self):
        checked = check_reading(ONE_DECIMAL, ["123,4"], [D(100)])
        assert checked.ok
        assert checked.consumption == (D("23.4"),)

    def test_whole_meter_refuses_decimals(self):
        checked = check_reading(FIVE, ["1100.5"], [D(1000)])
        assert codes(checked) == [rules.NOT_WHOLE]

    def test_below_previous_is_an_error(self):
        checked = check_reading(FIVE, ["900"], [D(1000)])
        assert not checked.ok
        assert checked.errors[0].code == rules.BELOW_PREVIOUS
        assert checked.errors[0].params == {"previous": D(1000)}
        assert checked.errors[0].zone == 1
        assert checked.values == checked.consumption == ()

    def test_rollover_needs_confirmation(self):
        checked = check_reading(FIVE, ["00030"], [D(99950)])
        assert checked.ok
        assert checked.values == (D(30),)
        assert checked.consumption == (D(80),)
        assert checked.rolled_over == (True,)
        assert [c.code for c in checked.confirmations] == [rules.CONFIRM_ROLLOVER]
        assert checked.confirmations[0].params == {
            "previous": D(99950),
            "value": D(30),
            "consumption": D(80),
        }
        assert [c.code for c in checked.unconfirmed(set())] == [rules.CONFIRM_ROLLOVER]
        assert checked.unconfirmed({"rollover:1=30"}) == ()
        assert checked.unconfirmed({rules.CONFIRM_ROLLOVER}) == checked.confirmations  # no value named
        assert checked.unconfirmed({"high_consumption:1=30"}) == checked.confirmations

    def test_rollover_only_within_a_tenth_of_the_range(self):
        # 10,000 kWh on a five-digit meter is still a rollover ...
        edge = check_reading(FIVE, ["00000"], [D(90000)])
        assert edge.ok
        assert edge.consumption == (D(10000),)
        assert edge.rolled_over == (True,)
        # ... 10,001 is a value below the previous one.
        beyond = check_reading(FIVE, ["00000"], [D(89999)])
        assert codes(beyond) == [rules.BELOW_PREVIOUS]

    def test_high_consumption_needs_confirmation(self):
        average = [D(100)]
        assert check_reading(FIVE, ["1500"], [D(1000)], average).confirmations == ()  # exactly 5x
        checked = check_reading(FIVE, ["1501"], [D(1000)], average)
        assert checked.ok
        assert [c.code for c in checked.confirmations] == [rules.CONFIRM_HIGH]
        assert checked.confirmations[0].params == {
            "consumption": D(501),
            "average": D(100),
            "factor": D(5),
        }
        assert checked.unconfirmed({"high_consumption:1=1501"}) == ()

    def test_high_consumption_limit_scales_with_months(self):
        average = [D(100)]
        assert check_reading(FIVE, ["2000"], [D(1000)], average, months_since_previous=2).confirmations == ()
        two = check_reading(FIVE, ["2001"], [D(1000)], average, months_since_previous=2)
        assert [c.code for c in two.confirmations] == [rules.CONFIRM_HIGH]

    def test_high_consumption_has_a_floor_for_tiny_averages(self):
        average = [D("0.5")]
        assert check_reading(FIVE, ["1050"], [D(1000)], average).confirmations == ()
        assert [c.code for c in check_reading(FIVE, ["1051"], [D(1000)], average).confirmations] == [
            rules.CONFIRM_HIGH
        ]

    def test_no_average_no_high_check(self):
        assert check_reading(FIVE, ["50000"], [D(1000)], None).confirmations == ()
        assert check_reading(TWO_ZONE, ["50000", "520"], [D(1000), D(500)], [None, D(10)]).confirmations == ()

    def test_rollover_and_high_consumption_together(self):
        checked = check_reading(FIVE, ["00900"], [D(99950)], [D(100)])
        assert sorted(c.code for c in checked.confirmations) == [rules.CONFIRM_HIGH, rules.CONFIRM_ROLLOVER]
        assert checked.consumption == (D(950),)

    def test_each_zone_checked_separately(self):
        checked = check_reading(TWO_ZONE, ["", "abc"], [D(1000), D(500)])
        assert [(i.zone, i.code) for i in checked.errors] == [(1, rules.REQUIRED), (2, rules.NOT_A_NUMBER)]

    def test_one_bad_zone_refuses_the_whole_reading(self):
        checked = check_reading(TWO_ZONE, ["1200", "400"], [D(1000), D(500)])
        assert [(i.zone, i.code) for i in checked.errors] == [(2, rules.BELOW_PREVIOUS)]
        assert checked.values == ()
        assert checked.confirmations == ()

    @pytest.mark.parametrize("raw", [[], ["1200"], ["1200", "600", "700"]])
    def test_wrong_number_of_values(self, raw):
        checked = check_reading(TWO_ZONE, raw, [D(1000), D(500)])
        assert not checked.ok
        assert len(checked.errors) == 1
        issue = checked.errors[0]
        assert (issue.zone, issue.code) == (0, rules.WRONG_ZONE_COUNT)
        assert issue.params == {"expected": 2, "got": len(raw)}

    def test_previous_must_match_the_zones(self):
        with pytest.raises(ValueError):
            check_reading(TWO_ZONE, ["1", "2"], [D(0)])


class TestAverageMonthly:
    def test_no_interval_no_average(self):
        assert average_monthly([]) is None
        assert average_monthly([(100, D(5))]) is None
        assert average_monthly([(100, D(5)), (100, D(7))]) is None

    def test_average_over_the_months_between_first_and_last(self):
        points = [(100, D(1000)), (101, D(1100)), (103, D(1400))]
        assert average_monthly(points) == D(400) / D(3)

    def test_rollover_inside_the_history(self):
        points = [(100, D(99800)), (101, D(99900)), (102, D(50)), (103, D(100))]
        assert average_monthly(points, capacity=D(100000)) == D(100)

    def test_fractional_average(self):
        assert average_monthly([(1, D(0)), (4, D(100))]) == D(100) / D(3)


shapes = st.builds(MeterShape, zones=st.just(1), digits=st.integers(5, 7), decimal_places=st.integers(0, 3))


@settings(max_examples=200, deadline=None)
@given(shapes, st.integers(0, 10**8))
def test_never_accepts_a_value_of_10_to_the_digits_or_more(shape, extra):
    value = 10**shape.digits + extra
    for raw in (str(value), value, Decimal(value), f"{value}.0"):
        checked = check_reading(shape, [raw], [Decimal(0)])
        assert not checked.ok
        assert checked.errors[0].code == rules.TOO_MANY_DIGITS


@settings(max_examples=200, deadline=None)
@given(st.integers(5, 7), st.data())
def test_consumption_is_value_minus_previous_when_value_not_lower(digits, data):
    capacity = 10**digits
    previous = data.draw(st.integers(0, capacity - 1), label="previous")
    value = data.draw(st.integers(previous, capacity - 1), label="value")
    average = data.draw(st.none() | st.integers(0, 10**4).map(Decimal), label="average")
    shape = MeterShape(zones=1, digits=digits)
    checked = check_reading(shape, [str(value)], [Decimal(previous)], None if average is None else [average])
    assert checked.ok
    assert checked.values == (Decimal(value),)
    assert checked.consumption == (Decimal(value - previous),)
    assert checked.rolled_over == (False,)
    assert rules.CONFIRM_ROLLOVER not in {c.code for c in checked.confirmations}


@settings(max_examples=200, deadline=None)
@given(st.integers(5, 7), st.data())
def test_lower_value_is_a_confirmed_rollover_or_an_error_never_silent(digits, data):
    capacity = 10**digits
    previous = data.draw(st.integers(1, capacity - 1), label="previous")
    value = data.draw(st.integers(0, previous - 1), label="value")
    checked = check_reading(MeterShape(1, digits), [value], [Decimal(previous)])
    if checked.ok:
        assert checked.rolled_over == (True,)
        assert checked.consumption == (Decimal(value + capacity - previous),)
        assert checked.consumption[0] <= capacity // 10
        assert rules.CONFIRM_ROLLOVER in {c.code for c in checked.unconfirmed(set())}
    else:
        assert checked.errors[0].code == rules.BELOW_PREVIOUS
        assert value + capacity - previous > capacity // 10


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_arbitrary_text_never_crashes_and_never_yields_an_invalid_value(text):
    value, code = parse_value(text, FIVE)
    assert (value is None) != (code is None)
    if value is not None:
        assert 0 <= value < 100000
        assert value == value.to_integral_value()


class TestParseEdges:
    """Edge cases of typed values: trailing zeros, a signed zero, digits of other scripts."""

    def test_trailing_zero_after_the_allowed_places_is_accepted(self):
        shape = MeterShape(zones=1, digits=6, decimal_places=1)
        assert parse_value("123.40", shape) == (Decimal("123.4"), None)
        assert parse_value("123,400", shape) == (Decimal("123.4"), None)
        assert parse_value("123.45", shape) == (None, rules.TOO_MANY_DECIMALS)

    def test_whole_number_with_zero_decimals_is_whole(self):
        shape = MeterShape(zones=1, digits=5)
        assert parse_value("12345.00", shape) == (Decimal(12345), None)

    def test_signed_zero_is_refused_as_negative(self):
        assert parse_value("-0", MeterShape(zones=1, digits=5)) == (None, rules.NEGATIVE)

    def test_digits_of_other_scripts_are_refused(self):
        shape = MeterShape(zones=1, digits=5)
        assert parse_value("١٢٣", shape) == (None, rules.NOT_A_NUMBER)  # Arabic-Indic
        assert parse_value("１２３", shape) == (None, rules.NOT_A_NUMBER)  # full-width


class TestLongValues:
    """Values longer than Decimal's 28 significant digits are refused with their code, not a crash."""

    @pytest.mark.parametrize("raw", ["1" * 29, "9" * 40, "0" * 5 + "1" * 30, 10**29, 10**30, D("1" * 35)])
    def test_too_many_digits(self, raw):
        assert parse_value(raw, FIVE) == (None, rules.TOO_MANY_DIGITS)

    def test_a_long_fraction_is_not_rounded_away(self):
        assert parse_value("1." + "0" * 30 + "1", FIVE) == (None, rules.NOT_WHOLE)
        assert parse_value("1." + "0" * 30 + "1", ONE_DECIMAL) == (None, rules.TOO_MANY_DECIMALS)
        assert parse_value("1." + "0" * 40, FIVE) == (D(1), None)

    def test_huge_numbers_are_not_expanded(self):
        assert parse_value(D("1E+999999999"), FIVE) == (None, rules.TOO_MANY_DIGITS)
        assert parse_value(D("1E-999999999"), FIVE) == (None, rules.NOT_WHOLE)
        assert parse_value(10**5000, FIVE) == (None, rules.TOO_MANY_DIGITS)
        assert parse_value(-(10**5000), FIVE) == (None, rules.NEGATIVE)

    def test_check_reading_reports_the_digits(self):
        checked = check_reading(TWO_ZONE, ["1" * 29, "500"], [D(0), D(0)])
        assert codes(checked) == [rules.TOO_MANY_DIGITS]
        assert checked.errors[0].params == {"digits": 6}


class TestConfirmationTokens:
    """A confirmation names its code, zone and value: confirming one value does not confirm another."""

    def test_the_token_names_the_value(self):
        checked = check_reading(FIVE, ["1501"], [D(1000)], [D(100)])
        (issue,) = checked.confirmations
        assert checked.token(issue) == "high_consumption:1=1501"
        assert checked.unconfirmed({"high_consumption:1=1501"}) == ()
        assert checked.unconfirmed({"high_consumption:1=1501.0"}) == ()  # the same number
        for other in (
            "high_consumption:1=1500",
            "high_consumption:2=1501",
            "rollover:1=1501",
            "high_consumption",
        ):
            assert checked.unconfirmed({other}) == checked.confirmations, other

    def test_confirming_a_then_sending_b_asks_again(self):
        first = check_reading(FIVE, ["1600"], [D(1000)], [D(100)])
        token = first.token(first.confirmations[0])
        second = check_reading(FIVE, ["9600"], [D(1000)], [D(100)])
        assert [c.code for c in second.unconfirmed({token})] == [rules.CONFIRM_HIGH]

    def test_rollover_tokens_and_decimals(self):
        checked = check_reading(ONE_DECIMAL, ["30,5"], [D(99950)])
        (issue,) = checked.confirmations
        assert checked.token(issue) == "rollover:1=30.5"
        assert checked.unconfirmed([checked.token(issue)]) == ()
        assert checked.unconfirmed(["rollover:1=30"]) == checked.confirmations

    def test_each_zone_is_confirmed_on_its_own(self):
        checked = check_reading(TWO_ZONE, ["2000", "1000"], [D(1000), D(500)], [D(10), D(10)])
        assert [checked.token(c) for c in checked.confirmations] == [
            "high_consumption:1=2000",
            "high_consumption:2=1000",
        ]
        assert [c.zone for c in checked.unconfirmed({"high_consumption:1=2000"})] == [2]

    @pytest.mark.parametrize(
        "text",
        ["", "x", "rollover:1=", "rollover:0=5", "rollover:1=-5", "rollover:1=1e5", "rollover:1=5\x00"],
    )
    def test_malformed_tokens_confirm_nothing(self, text):
        assert rules.confirmation_parse(text) is None

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.text(max_size=40), max_size=5))
    def test_any_text_confirms_nothing_unless_it_names_the_value(self, texts):
        checked = check_reading(FIVE, ["1501"], [D(1000)], [D(100)])
        needed = checked.unconfirmed(texts)
        named = any(rules.confirmation_parse(t) == (rules.CONFIRM_HIGH, 1, D(1501)) for t in texts)
        assert needed == (() if named else checked.confirmations)
