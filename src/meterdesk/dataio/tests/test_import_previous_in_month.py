"""The import checks a household's reading as a submission is checked (metering.selectors.
submission_check): against the month before and against an inspector's control reading of the
same month given before it."""

from __future__ import annotations

from datetime import date

from meterdesk.dataio.tests.data import base, counts, write
from meterdesk.metering.models import Reading, ReadingStatus

S1 = {"account": "5000000001", "serial": "S-1"}
S2 = {"account": "5000000002", "serial": "S-2"}


def _april(household_at: str, t1: str, control_at: str = "2025-04-10T11:00") -> dict:
    """S-1 (March: 1300 / 650): the inspector reads 1400 / 700 at ``control_at``; the household
    gives ``t1`` / 710 at ``household_at``."""
    ds = base()
    ds["readings"] += [
        {**S1, "period": "2025-04", "t1": "1400", "t2": "700", "kind": "control", "submitted_at": control_at},
        {**S1, "period": "2025-04", "t1": t1, "t2": "710", "submitted_at": household_at},
    ]
    return ds


def test_below_an_earlier_control_reading_of_the_month_is_a_problem_naming_it(run_import, tmp_path):
    before = counts()
    result = run_import(write(tmp_path / "ds", _april("2025-04-20T12:00", "1350")))
    assert [(p.file, p.row, p.field, p.code) for p in result.problems] == [
        ("readings.csv", 8, "t1", "reading_below_previous")
    ]
    assert "below the control reading 1400 (2025-04, row 7)" in result.problems[0].message
    assert counts() == before


def test_a_control_reading_given_after_it_is_not_checked_against(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _april("2025-04-05T12:00", "1350")))
    assert result.problems == []


def test_at_or_above_the_control_reading_is_loaded(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _april("2025-04-20T12:00", "1400")))
    assert result.problems == []


def _february_of_s2(household: str) -> dict:
    """S-2 (five digits; January 99 500): in February the inspector reads 99 990 on the 10th and
    the household gives ``household`` on the 20th (instead of the base's 100)."""
    ds = base()
    ds["readings"] = [r for r in ds["readings"] if not (r["serial"] == "S-2" and r["period"] == "2025-02")]
    ds["readings"] += [
        {**S2, "period": "2025-02", "t1": "99990", "kind": "control", "submitted_at": "2025-02-10T11:00"},
        {**S2, "period": "2025-02", "t1": household, "submitted_at": "2025-02-20T11:00"},
    ]
    return ds


def test_a_pass_through_zero_after_the_inspector_is_loaded_as_a_rollover(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _february_of_s2("20")))
    assert result.problems == []
    household = Reading.objects.get(meter__serial="S-2", period=date(2025, 2, 1), kind="customer")
    assert (household.status, household.rolled_over) == (ReadingStatus.ACCEPTED, True)


def test_below_the_inspector_and_too_far_for_a_rollover(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _february_of_s2("99980")))
    assert [(p.row, p.field, p.code) for p in result.problems] == [(7, "t1", "reading_below_previous")]
    assert "below the control reading 99990 (2025-02, row 6)" in result.problems[0].message
