"""Input that once gave a traceback is a listed problem with its place and a stable code."""

from __future__ import annotations

import pytest

from meterdesk.dataio.tests.data import base, counts, write


def _only(result):
    text = "\n".join(str(p) for p in result.problems)
    assert len(result.problems) == 1, text
    return result.problems[0]


@pytest.mark.parametrize("digits", [29, 40, 400])
def test_a_reading_of_very_many_digits_is_too_many_digits(run_import, tmp_path, digits):
    ds = base()
    ds["readings"][1]["t1"] = "9" * digits
    before = counts()
    problem = _only(run_import(write(tmp_path / "ds", ds)))
    assert (problem.file, problem.row, problem.field, problem.code) == (
        "readings.csv",
        3,
        "t1",
        "too_many_digits",
    )
    assert counts() == before


def test_an_initial_value_of_very_many_digits_is_too_many_digits(run_import, tmp_path):
    ds = base()
    ds["meters"][0]["initial_t2"] = "1" * 30
    ds.pop("readings")
    problem = _only(run_import(write(tmp_path / "ds", ds)))
    assert (problem.file, problem.row, problem.field, problem.code) == (
        "meters.csv",
        2,
        "initial_t2",
        "too_many_digits",
    )


@pytest.mark.parametrize(
    ("section", "index", "column"),
    [
        ("payments", 0, "external_id"),
        ("payments", 0, "source"),
        ("accounts", 0, "payer"),
        ("accounts", 1, "address"),
        ("meters", 0, "serial"),
        ("meters", 1, "model"),
    ],
)
def test_a_nul_in_a_text_field_is_a_listed_problem(run_import, tmp_path, section, index, column):
    ds = base()
    ds[section][index][column] = "P-\x00-1"
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    assert not result.loaded
    [problem] = [p for p in result.problems if (p.file, p.field) == (f"{section}.csv", column)]
    assert problem.row == index + 2
    assert problem.code == "control_character"
    assert "\x00" not in str(problem)  # shown escaped, so that a terminal or a report shows it
    assert counts() == before


def test_a_nul_in_a_reading_value_or_a_date_is_a_listed_problem(run_import, tmp_path):
    ds = base()
    ds["readings"][0]["t1"] = "11\x0000"
    ds["payments"][0]["paid_on"] = "2025-02-\x0005"
    result = run_import(write(tmp_path / "ds", ds))
    assert [(p.file, p.row, p.field) for p in result.problems] == [
        ("readings.csv", 2, "t1"),
        ("payments.csv", 2, "paid_on"),
    ]


@pytest.mark.parametrize(
    ("section", "index", "column", "value"),
    [
        ("accounts", 0, "number", "٥٠٠٠٠٠٠٠٠١"),  # Arabic-Indic digits, which int() reads
        ("accounts", 0, "rooms", "٢"),
        ("accounts", 0, "opened_on", "٢٠٢٤-01-01"),
        ("payments", 0, "amount", "١٠٠٠"),
        ("payments", 0, "paid_on", "05.02.٢٠٢٥"),
    ],
)
def test_digits_other_than_0_to_9_are_refused(run_import, tmp_path, section, index, column, value):
    ds = base()
    ds[section][index][column] = value
    result = run_import(write(tmp_path / "ds", ds))
    assert not result.loaded
    assert (f"{section}.csv", index + 2, column) in [(p.file, p.row, p.field) for p in result.problems]


def test_a_problem_names_its_code_and_shows_a_nul_escaped(run_import, tmp_path):
    ds = base()
    ds["payments"][0]["external_id"] = "P-\x00"
    [problem] = run_import(write(tmp_path / "ds", ds)).problems
    assert str(problem) == (
        "payments.csv:2: external_id: contains a control character (such as NUL) (got 'P-\\x00') "
        "[control_character]"
    )
    assert problem.shown_value == "P-\\x00"
