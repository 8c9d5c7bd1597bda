"""The `meterdesk demo` and `meterdesk seed` commands, run as a newcomer would (subprocesses on a
fresh data directory)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "METERDESK_READING_WINDOW"}
    }
    environment.update(METERDESK_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "meterdesk.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    data = tmp_path_factory.mktemp("demo")
    result = run(
        ["demo", "--no-serve"],
        data,
        METERDESK_DEMO_PASSWORD="demo-pass-123",
        METERDESK_ADMIN_PASSWORD="adm-pass-4567",
    )
    return data, result


def test_demo_prints_how_to_log_in(demo_dir):
    _data, result = demo_dir
    assert result.returncode == 0, result.stderr
    assert "demo@example.com" in result.stdout
    assert "demo-pass-123" in result.stdout
    assert "admin@example.com" in result.stdout
    assert "http://127.0.0.1:8000/" in result.stdout


def test_demo_creates_two_accounts_with_history_and_closed_months(demo_dir):
    data, _ = demo_dir
    db = sqlite3.connect(data / "meterdesk.sqlite3")
    accounts = db.execute(
        "SELECT a.number, m.zones FROM customers_account a JOIN customers_accountlink l ON l.account_id = a.id "
        "JOIN customers_user u ON u.id = l.user_id JOIN metering_meter m ON m.account_id = a.id "
        "WHERE u.email = 'demo@example.com' ORDER BY a.number"
    ).fetchall()
    assert accounts == [("7700000001", 2), ("7700000002", 3)]
    readings = db.execute(
        "SELECT COUNT(*) FROM metering_reading r JOIN customers_account a ON a.id = r.account_id WHERE a.number = '7700000001'"
    ).fetchone()[0]
    assert readings >= 18  # two years, some months missing
    closed = db.execute("SELECT COUNT(DISTINCT period) FROM billing_accountclose").fetchone()[0]
    assert closed == 24
    # Every bill but the last was paid: the flat owes exactly its last month.
    balance, last = db.execute(
        "SELECT (SELECT SUM(amount) FROM billing_ledgerentry e WHERE e.account_id = a.id), "
        "(SELECT closing_balance FROM billing_accountclose c WHERE c.account_id = a.id ORDER BY period DESC LIMIT 1) "
        "FROM customers_account a WHERE a.number = '7700000001'"
    ).fetchone()
    assert float(balance) == pytest.approx(float(last))
    assert float(balance) > 0


def test_demo_twice_changes_nothing_but_the_passwords(demo_dir):
    data, _ = demo_dir
    db = sqlite3.connect(data / "meterdesk.sqlite3")
    before = [
        db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("metering_reading", "billing_ledgerentry", "customers_account")
    ]
    result = run(["demo", "--no-serve"], data, METERDESK_DEMO_PASSWORD="another-pass-890")
    assert result.returncode == 0, result.stderr
    assert "another-pass-890" in result.stdout
    after = [
        db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("metering_reading", "billing_ledgerentry", "customers_account")
    ]
    assert before == after


def test_demo_window_follows_the_setting(tmp_path):
    result = run(
        ["demo", "--no-serve"],
        tmp_path,
        METERDESK_READING_WINDOW="15-26",
        METERDESK_DEMO_PASSWORD="demo-pass-123",
    )
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "meterdesk.sqlite3")
    # With the variable set, the utility keeps its real window (15-26) rather than the demo's whole month.
    assert db.execute("SELECT window_start_day, window_end_day FROM utility_utilitysettings").fetchone() == (
        15,
        26,
    )


def test_seed_creates_a_realistic_mix(tmp_path):
    result = run(["seed", "--accounts", "300", "--seed", "7"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Created 300 accounts" in result.stdout
    # The progress bar is on standard error (to a pipe, only its label): the output is the result.
    assert "Creating accounts" in result.stderr and "Creating accounts" not in result.stdout
    db = sqlite3.connect(tmp_path / "meterdesk.sqlite3")
    zones = dict(db.execute("SELECT zones, COUNT(*) FROM metering_meter GROUP BY zones").fetchall())
    assert set(zones) == {1, 2, 3}
    categories = {r[0] for r in db.execute("SELECT DISTINCT category FROM customers_account")}
    assert {"gas_stove", "electric_stove"} <= categories
    per_meter = db.execute("SELECT COUNT(*) FROM metering_reading GROUP BY meter_id").fetchall()
    counts = [c for (c,) in per_meter]
    assert max(counts) == 24 and min(counts) < 24  # two years, some months missing
    # Some meters pass their maximum during the history (a value lower than the month before).
    rollovers = db.execute(
        "SELECT COUNT(*) FROM metering_reading r JOIN metering_reading p ON p.meter_id = r.meter_id "
        "AND p.period = date(r.period, '-1 month') WHERE r.t1 < p.t1"
    ).fetchone()[0]
    assert rollovers > 0
