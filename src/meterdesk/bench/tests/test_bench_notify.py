"""`meterdesk bench notify` on a few households: the figures the issue asks for, every reminder
received once, none missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from meterdesk.testing import scratch_postgres

KEYS = {"messages", "messages_per_second", "floor_per_second", "ratio_to_floor", "duplicates", "peak_rss_mb"}


@pytest.fixture
def bench_url():
    server = os.environ.get("METERDESK_BENCH_DATABASE_URL")
    with scratch_postgres(f"meterdesk_bench_notify_test_{os.getpid()}", create=False, server=server) as url:
        yield url


def test_bench_notify_prints_its_figures(bench_url, tmp_path):
    env = {**os.environ, "METERDESK_DATA_DIR": str(tmp_path)}
    env.pop("METERDESK_TASKS", None)
    command = ["bench", "notify", "--accounts", "60", "--json", "--database-url", bench_url]
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "meterdesk.cli", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert set(figures) >= KEYS
    # Every open account with a meter in service gets its reminder once (1 % have no meter).
    assert 0 < figures["messages"] == figures["email_notices"] <= 60
    assert (figures["duplicates"], figures["missing"], figures["unsent"]) == (0, 0, 0)
    assert 0 < figures["tenth_messages"] < figures["messages"]
    for key in (
        "messages_per_second",
        "floor_per_second",
        "ratio_to_floor",
        "peak_rss_mb",
        "tenth_peak_rss_mb",
    ):
        assert figures[key] > 0, key
