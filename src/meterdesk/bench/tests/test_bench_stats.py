"""`meterdesk bench stats` on a tiny database of its own: the dashboard's figures of a month timed
against the plain COUNT(*) of that month's readings, as one JSON object; the billing bench's own
database is refused (it is only read)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from meterdesk.testing import scratch_postgres

KEYS = {"month", "runs", "seconds", "floor_seconds", "ratio", "readings", "floor_readings", "parts_seconds"}


def _bench(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "METERDESK_DATA_DIR": str(tmp_path)}
    return subprocess.run(  # noqa: S603 - the test's own arguments
        [sys.executable, "-m", "meterdesk.cli", "bench", "stats", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture
def bench_url():
    server = os.environ.get("METERDESK_BENCH_DATABASE_URL")
    with scratch_postgres(f"meterdesk_bench_stats_test_{os.getpid()}", create=True, server=server) as url:
        yield url


def test_bench_stats_prints_the_figures(bench_url, tmp_path):
    done = _bench(
        "--database-url", bench_url, "--month", "2026-12", "--runs", "2", "--json", tmp_path=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)  # one JSON object, nothing else on stdout
    assert set(figures) >= KEYS
    assert figures["month"] == "2026-12" and figures["runs"] == 2
    assert len(figures["seconds_runs"]) == len(figures["floor_runs"]) == 2
    assert figures["seconds"] == min(figures["seconds_runs"]) > 0
    assert figures["floor_seconds"] == min(figures["floor_runs"]) > 0
    assert figures["ratio"] == pytest.approx(figures["seconds"] / figures["floor_seconds"], abs=0.01)
    # The dashboard counts what the floor counts (the tiny database has no readings).
    assert figures["readings"] == figures["floor_readings"] == 0
    assert set(figures["parts_seconds"]) == {"readings", "ledger", "support", "phone", "letters", "terminal"}


def test_the_billing_benchs_database_is_refused(tmp_path):
    done = _bench("--database-url", "postgres://postgres@127.0.0.1:5432/meterdesk_bench", tmp_path=tmp_path)
    assert done.returncode == 1
    assert "meterdesk_bench is only read" in done.stderr


def test_a_wrong_month_is_said(tmp_path):
    done = _bench("--month", "2026-13", tmp_path=tmp_path)
    assert done.returncode == 2 and "expected a month YYYY-MM" in done.stderr
