"""Which of a month's readings counts: the latest by date, a control reading on the same day, a
final reading always, an initial one only alone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterdesk.domain.month_reading import CONTROL, CUSTOMER, FINAL, INITIAL, Given, given_at, month_reading

D = Decimal
OCT = date(2026, 10, 1)


def day(n: int) -> date:
    return OCT.replace(day=n)


def at(n: int, hour: int) -> datetime:
    return datetime(2026, 10, n, hour, tzinfo=UTC)


def chosen(*candidates: Given[str]) -> str | None:
    found = month_reading(candidates)
    return None if found is None else found.source


def test_control_on_the_10th_then_the_household_on_the_20th_the_household_counts():
    control = Given(CONTROL, day(10), (D(1250),), source="control")
    household = Given(CUSTOMER, day(20), (D(1300),), source="household")
    assert chosen(control, household) == "household"
    assert chosen(household, control) == "household"  # whatever the order they come in


def test_household_on_the_20th_then_control_on_the_22nd_the_control_counts():
    household = Given(CUSTOMER, day(20), (D(1300),), source="household")
    control = Given(CONTROL, day(22), (D(1250),), source="control")
    assert chosen(household, control) == "control"
    assert chosen(control, household) == "control"


def test_on_the_same_day_the_control_reading_wins_whatever_the_hour():
    household = Given(CUSTOMER, day(20), (D(1300),), at(20, 18), source="household")
    control = Given(CONTROL, day(20), (D(1250),), at(20, 9), source="control")
    assert chosen(household, control) == "control"
    assert chosen(control, household) == "control"


def test_a_final_reading_counts_even_before_another_one():
    final = Given(FINAL, day(5), (D(1200),), source="final")
    control = Given(CONTROL, day(25), (D(1210),), source="control")
    household = Given(CUSTOMER, day(26), (D(1220),), source="household")
    assert chosen(household, final, control) == "final"


def test_an_initial_reading_counts_only_alone():
    initial = Given(INITIAL, day(28), (D(0),), source="initial")
    household = Given(CUSTOMER, day(20), (D(15),), source="household")
    assert chosen(initial, household) == "household"
    assert chosen(initial) == "initial"


def test_two_of_one_kind_on_one_day_by_the_moment_then_by_order():
    morning = Given(CUSTOMER, day(20), (D(1),), at(20, 8), source="morning")
    evening = Given(CUSTOMER, day(20), (D(2),), at(20, 19), source="evening")
    assert chosen(evening, morning) == "evening"
    first = Given(CUSTOMER, day(20), (D(1),), source="first")
    second = Given(CUSTOMER, day(20), (D(2),), source="second")
    assert chosen(first, second) == "second"


def test_nothing_to_choose_from():
    assert month_reading([]) is None
    assert chosen(Given("estimate", day(20), source="other")) is None


def test_the_day_of_a_moment_is_the_utilitys():
    """22:30 UTC on the 20th is already the 21st in Moscow: the same day as a control reading
    taken on the 21st, which then wins; naive moments (SQLite) are in UTC."""
    moscow = ZoneInfo("Europe/Moscow")
    naive = datetime(2026, 10, 20, 22, 30)  # noqa: DTZ001 - as SQLite returns it
    household = given_at(CUSTOMER, naive, moscow, (D(1300),), "household")
    assert household.taken_on == day(21)
    assert given_at(CUSTOMER, "2026-10-20T20:59:00+00:00", moscow).taken_on == day(20)
    control = given_at(CONTROL, datetime(2026, 10, 21, 6, tzinfo=moscow), moscow, (D(1250),), "control")
    assert chosen(household, control) == "control"


_KIND = st.sampled_from([CUSTOMER, CONTROL])


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(_KIND, st.integers(1, 31), st.integers(0, 23)),
        min_size=1,
        max_size=4,
        unique_by=lambda c: (c[0], c[1], c[2]),
    ),
    st.randoms(use_true_random=False),
)
def test_the_latest_day_counts_and_order_does_not_matter(readings, rnd):
    """Of customer's and control readings on distinct moments: the chosen one is of the latest
    day, a control reading if there is one that day, and the order they come in changes nothing."""
    candidates = [Given(kind, day(d), (), at(d, h), source=(kind, d, h)) for kind, d, h in readings]
    found = month_reading(candidates)
    assert found is not None
    latest = max(d for _, d, _ in readings)
    that_day = [c for c in candidates if c.taken_on == day(latest)]
    assert found.taken_on == day(latest)
    if any(c.kind == CONTROL for c in that_day):
        assert found.kind == CONTROL
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    again = month_reading(shuffled)
    assert again is not None and again.source == found.source
