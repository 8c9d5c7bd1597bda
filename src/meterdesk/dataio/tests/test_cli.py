"""`meterdesk import` and `meterdesk export`, run as an operator would: subprocesses on a fresh
data directory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meterdesk.dataio.tests.data import EXAMPLE, base, write


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "METERDESK_READING_WINDOW"}}
    env["METERDESK_DATA_DIR"] = str(data_dir)
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "meterdesk.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh installation with the example imported and 2026-09 and 2026-10 closed."""
    data = tmp_path_factory.mktemp("cli")
    assert run(["migrate"], data).returncode == 0
    result = run(["import", str(EXAMPLE)], data)
    assert result.returncode == 0, result.stderr
    assert "readings              87         0" in result.stdout
    assert "checked 87 rows of readings.csv" in result.stderr  # the progress lines
    assert "loaded 87 readings" in result.stderr
    for month in ("2026-09", "2026-10"):
        closed = run(["bill", "--period", month, "--workers", "0"], data)
        assert closed.returncode == 0, closed.stderr
    return data


def test_import_again_changes_nothing(data_dir):
    result = run(["import", str(EXAMPLE)], data_dir)
    assert result.returncode == 0, result.stderr
    assert "Nothing new: everything in the dataset is already stored." in result.stdout
    assert "readings               0        87" in result.stdout


def test_a_report_that_cannot_be_written_stops_before_anything_loads(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert run(["migrate"], data).returncode == 0
    report = tmp_path / "no" / "such" / "report.csv"
    result = run(["import", str(EXAMPLE), "--report", str(report)], data)
    assert result.returncode == 1
    assert f"Error: cannot write {report}: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    again = run(["import", str(EXAMPLE), "--dry-run"], data)
    assert "readings              87         0" in again.stdout  # nothing was loaded the first time


def test_import_with_problems_exits_non_zero_and_lists_them(data_dir, tmp_path):
    ds = base()
    ds["accounts"][0]["opened_on"] = "2024-02-30"
    ds["payments"][0]["amount"] = "abc"
    report = tmp_path / "problems.csv"
    result = run(["import", str(write(tmp_path / "ds", ds)), "--report", str(report)], data_dir)
    assert result.returncode == 1
    assert "accounts.csv:2: opened_on: no such date" in result.stderr
    assert "payments.csv:2: amount: not a number (got 'abc')" in result.stderr
    assert "2 problem(s) in 2 row(s) (accounts.csv: 1, payments.csv: 1). Nothing was loaded." in result.stderr
    rows = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert rows[0] == ["file", "row", "column", "value", "problem", "code"]
    assert rows[1][:4] == ["accounts.csv", "2", "opened_on", "2024-02-30"]
    assert rows[1][5] == "no_such_date"


def test_export_charges_csv_and_json(data_dir, tmp_path):
    target = tmp_path / "charges.csv"
    result = run(["export", "charges", "--period", "2026-10", "-o", str(target)], data_dir)
    assert result.returncode == 0, result.stderr
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfentry_id;period;account;meter_serial;kind;basis;")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert f"{len(rows)} ledger line(s) of 2026-10 written to" in result.stderr
    as_json = run(["export", "charges", "--period", "2026-10", "--format", "json"], data_dir)
    assert as_json.returncode == 0, as_json.stderr
    items = json.loads(as_json.stdout)
    assert [str(i["amount"]) for i in items] == [r["amount"] for r in rows]
    assert {i["account"] for i in items} == {f"770100000{n}" for n in range(1, 6)}


def test_export_statement(data_dir):
    text = run(["export", "statement", "--account", "7701000003", "--period", "2026-10"], data_dir)
    assert text.returncode == 0, text.stderr
    assert "Statement of account 7701000003 for 2026-10" in text.stdout
    assert "Payment 2026-10-08 POST-2026-10-08-17" in text.stdout
    as_json = run(
        ["export", "statement", "--account", "7701000003", "--period", "2026-10", "--format", "json"],
        data_dir,
    )
    data = json.loads(as_json.stdout)
    assert data["opening_balance"] == "2842.09"
    assert data["payments"][0]["amount"] == "-2842.09"


def test_export_errors(data_dir):
    unknown = run(["export", "statement", "--account", "7709999999", "--period", "2026-10"], data_dir)
    assert unknown.returncode == 1
    assert "Error: no account 7709999999" in unknown.stderr
    not_closed = run(["export", "charges", "--period", "2026-11"], data_dir)
    assert not_closed.returncode == 1
    assert "2026-11 is not closed (the last closed month is 2026-10)" in not_closed.stderr
    bad = run(["export", "charges", "--period", "2026-13"], data_dir)
    assert bad.returncode == 2
    assert "expected a month YYYY-MM" in bad.stderr
