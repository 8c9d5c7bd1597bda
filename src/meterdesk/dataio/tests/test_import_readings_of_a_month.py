"""Several readings of one month, each with its day and time: the latest of each kind is
accepted, the earlier ones are kept as superseded history (as a resubmission leaves them)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterdesk.dataio.tests.data import base, counts, write
from meterdesk.metering.models import Reading, ReadingKind, ReadingStatus

MOSCOW = ZoneInfo("Europe/Moscow")
S1 = {"account": "5000000001", "serial": "S-1"}


def _with_february_twice(first_at: str = "2025-02-16T10:00", second_at: str = "2025-02-24 19:30"):
    ds = base()
    ds["readings"][1].update(t1="1150", t2="580", submitted_at=first_at)
    ds["readings"].insert(
        2, {**S1, "period": "2025-02", "t1": "1200", "t2": "600", "submitted_at": second_at}
    )
    return ds


def test_the_latest_of_a_month_is_accepted_and_the_earlier_kept(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _with_february_twice()))
    assert result.problems == []
    assert result.sections["readings"].created == 6
    february = Reading.objects.filter(meter__serial="S-1", period=date(2025, 2, 1)).order_by("submitted_at")
    earlier, later = list(february)
    assert (earlier.status, earlier.t1, earlier.submitted_at) == (
        ReadingStatus.SUPERSEDED,
        Decimal(1150),
        datetime(2025, 2, 16, 10, tzinfo=MOSCOW),
    )
    assert (later.status, later.t1, later.submitted_at) == (
        ReadingStatus.ACCEPTED,
        Decimal(1200),
        datetime(2025, 2, 24, 19, 30, tzinfo=MOSCOW),
    )
    assert later.replaces == earlier
    assert earlier.confirmation != later.confirmation


def test_the_order_of_the_rows_does_not_matter(run_import, tmp_path):
    ds = _with_february_twice()
    ds["readings"][1], ds["readings"][2] = ds["readings"][2], ds["readings"][1]
    assert run_import(write(tmp_path / "ds", ds)).problems == []
    accepted = Reading.objects.get(
        meter__serial="S-1", period=date(2025, 2, 1), status=ReadingStatus.ACCEPTED
    )
    assert accepted.t1 == Decimal(1200)


def test_an_earlier_reading_of_the_month_is_checked_too(run_import, tmp_path):
    ds = _with_february_twice()
    ds["readings"][1].update(t1="1050")  # below January's 1100
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    assert [(p.row, p.field) for p in result.problems] == [(3, "t1")]
    assert "below the previous reading 1100 (2025-01, row 2)" in result.problems[0].message
    assert counts() == before


def test_the_next_month_is_checked_against_the_accepted_one(run_import, tmp_path):
    ds = _with_february_twice()
    ds["readings"][3].update(t1="1180")  # March: above the superseded 1150, below the accepted 1200
    result = run_import(write(tmp_path / "ds", ds))
    assert [(p.row, p.field) for p in result.problems] == [(5, "t1")]
    assert "below the previous reading 1200 (2025-02, row 4)" in result.problems[0].message


def test_several_readings_of_a_month_need_their_times(run_import, tmp_path):
    ds = _with_february_twice()
    del ds["readings"][2]["submitted_at"]
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    [problem] = result.problems
    assert (problem.row, problem.field, problem.code) == (4, "period", "duplicate_reading")
    assert "give each reading of the month its submitted_at" in problem.message
    assert counts() == before


def test_two_readings_at_the_same_time_are_an_error(run_import, tmp_path):
    ds = _with_february_twice(second_at="16.02.2025 10:00")
    [problem] = run_import(write(tmp_path / "ds", ds)).problems
    assert (problem.row, problem.field, problem.code) == (4, "submitted_at", "duplicate_reading")
    assert "at the same time (row 3)" in problem.message


def test_one_initial_reading_a_month(run_import, tmp_path):
    ds = base()
    ds["meters"][1]["installed_on"] = "2025-01-10"
    initial = {
        "account": "5000000002",
        "serial": "S-2",
        "period": "2025-01",
        "t1": "99000",
        "kind": "initial",
    }
    ds["readings"] += [
        {**initial, "submitted_at": "2025-01-10 09:00"},
        {**initial, "submitted_at": "2025-01-10 10:00"},
    ]
    [problem] = run_import(write(tmp_path / "ds", ds)).problems
    assert (problem.row, problem.field) == (8, "period")
    assert "a second initial reading of this meter for 2025-01 (the first is row 7)" in problem.message


def test_a_control_and_customer_readings_of_one_month(run_import, tmp_path):
    ds = _with_february_twice()
    ds["readings"].append(
        {
            **S1,
            "period": "2025-02",
            "t1": "1190",
            "t2": "590",
            "kind": "control",
            "channel": "inspector",
            "submitted_at": "2025-02-20 11:00",
        }
    )
    assert run_import(write(tmp_path / "ds", ds)).problems == []
    accepted = Reading.objects.filter(
        meter__serial="S-1", period=date(2025, 2, 1), status=ReadingStatus.ACCEPTED
    ).values_list("kind", "t1")
    assert sorted(accepted) == [(ReadingKind.CONTROL, Decimal(1190)), (ReadingKind.CUSTOMER, Decimal(1200))]


def test_reimport_skips_every_reading_of_the_month(run_import, tmp_path):
    directory = write(tmp_path / "ds", _with_february_twice())
    assert run_import(directory).problems == []
    before = counts()
    result = run_import(directory)
    assert result.problems == []
    assert result.sections["readings"].skipped == 6
    assert counts() == before


def test_a_new_reading_for_a_month_with_stored_ones_is_refused(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", base())).problems == []
    later = {
        "readings": [
            {**S1, "period": "2025-02", "t1": "1210", "t2": "610", "submitted_at": "2025-02-25 08:00"}
        ]
    }
    before = counts()
    [problem] = run_import(write(tmp_path / "two", later)).problems
    assert (problem.row, problem.field, problem.code) == (2, "submitted_at", "month_readings_stored")
    assert counts() == before


def test_a_row_without_a_time_matches_any_stored_reading_with_its_values(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", _with_february_twice())).problems == []
    again = {"readings": [{**S1, "period": "2025-02", "t1": "1150", "t2": "580"}]}
    result = run_import(write(tmp_path / "two", again))
    assert result.problems == []
    assert result.sections["readings"].skipped == 1
    other = {"readings": [{**S1, "period": "2025-02", "t1": "1170", "t2": "580"}]}
    [problem] = run_import(write(tmp_path / "three", other)).problems
    assert (problem.field, problem.code) == ("t1", "stored_with_other_values")
    assert "already stored with other values (1200, 600)" in problem.message
