"""The import checks a month's values against the reading that counts for the month before, chosen
as the close chooses it (``domain.month_reading``): the latest by day, an inspector's control
reading only when it is the later one or on the same day."""

from __future__ import annotations

from meterdesk.dataio.tests.data import base, write

S1 = {"account": "5000000001", "serial": "S-1"}


def _march_with_control(control_at: str, april_t1: str) -> dict:
    """S-1: the household gives 1300 / 650 for March on the 20th; the inspector reads 1250 / 640
    at ``control_at``; April's reading is ``april_t1`` / 700."""
    ds = base()
    ds["readings"][2].update(submitted_at="2025-03-20T12:00")
    ds["readings"].insert(
        3,
        {**S1, "period": "2025-03", "t1": "1250", "t2": "640", "kind": "control", "submitted_at": control_at},
    )
    ds["readings"].append({**S1, "period": "2025-04", "t1": april_t1, "t2": "700"})
    return ds


def test_an_earlier_control_reading_is_not_the_position_the_next_month_is_checked_against(
    run_import, tmp_path
):
    """The household's 1300 of the 20th counts for March: April's 1280 is below it."""
    result = run_import(write(tmp_path / "ds", _march_with_control("2025-03-10T12:00", "1280")))
    assert [(p.file, p.field) for p in result.problems] == [("readings.csv", "t1")]
    assert "below the previous reading 1300 (2025-03, row 4)" in result.problems[0].message


def test_a_later_control_reading_is(run_import, tmp_path):
    """The inspector's 1250 of the 25th counts for March: April's 1280 is 30 kWh above it."""
    result = run_import(write(tmp_path / "ds", _march_with_control("2025-03-25T12:00", "1280")))
    assert result.problems == []


def test_a_control_reading_on_the_same_day_is(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _march_with_control("2025-03-20T09:00", "1280")))
    assert result.problems == []
