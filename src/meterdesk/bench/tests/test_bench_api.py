"""`meterdesk bench api` serves its own PostgreSQL database, loads it and prints sane figures.

It always runs on PostgreSQL (its own database on DATABASE_URL's server, or the local one), so
this test runs in the SQLite pass of the suite too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from meterdesk.bench.tests.test_bench import _assert_machine
from meterdesk.testing import scratch_postgres

KEYS = {
    "accepted_per_second",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "trivial_per_second",
    "one_write_per_second",
    "ratio_to_one_write",
}


@pytest.fixture
def bench_url():
    server = os.environ.get("METERDESK_BENCH_API_DATABASE_URL")
    with scratch_postgres(f"meterdesk_bench_api_test_{os.getpid()}", create=False, server=server) as url:
        yield url


def test_bench_api_prints_the_figures(bench_url, tmp_path):
    env = {**os.environ, "METERDESK_DATA_DIR": str(tmp_path), "METERDESK_BENCH_API_DATABASE_URL": bench_url}
    env.pop("METERDESK_TASKS", None)
    command = [sys.executable, "-m", "meterdesk.cli", "bench", "api"]
    command += ["--accounts", "50", "--duration", "2", "--clients", "4", "--ceiling", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)  # one JSON object, nothing else on stdout
    assert set(figures) >= KEYS
    assert figures["accepted"] > 0
    assert figures["accepted_per_second"] > 0
    assert figures["trivial_per_second"] > 0
    assert figures["one_write_per_second"] > 0
    # The floor brackets the mix: both one-write phases measured, the floor their joint rate.
    before, after = figures["one_write_per_second_before_mix"], figures["one_write_per_second_after_mix"]
    assert before > 0
    assert after > 0
    assert min(before, after) - 0.2 <= figures["one_write_per_second"] <= max(before, after) + 0.2
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
    assert figures["ratio_to_one_write"] == pytest.approx(
        figures["accepted_per_second"] / figures["one_write_per_second"], rel=0.02
    )
    assert figures["errors"] == []
    # --ceiling: the mix again, its submissions made in one call to the database (ceiling.sql),
    # every one accepted, stored with its confirmation e-mail (counted below with the others).
    ceiling = figures["ceiling"]
    assert ceiling["accepted_per_second"] > 0
    assert set(ceiling["statuses"]) == {"201"}
    assert ceiling["ratio_to_one_write"] == pytest.approx(
        ceiling["accepted_per_second"] / figures["one_write_per_second"], rel=0.02
    )
    assert 0 < ceiling["p50_ms"] <= ceiling["p95_ms"] <= ceiling["p99_ms"]
    for name in ("cpu_ms_per_request", "cpu_ms_per_accepted_reading"):
        assert ceiling[name]["server"] > 0 and ceiling[name]["postgres"] > 0
    ceiling_accepted = ceiling["statuses"]["201"]
    assert figures["readings_stored"] >= figures["accepted"] + ceiling_accepted
    _assert_machine(figures["machine"])
    # Every stored reading has its confirmation e-mail: the benchmark waits for the server's mail
    # sender to send those it had not sent when the load stopped.
    assert figures["confirmations_failed"] == 0
    assert figures["confirmations_waiting"] == 0
    assert figures["confirmations_sent"] == figures["readings_stored"]
    assert figures["confirmations_backlog_after_load"] >= 0 and figures["confirmations_drain_seconds"] >= 0
    # Where each phase's CPU went, per request, by process (sampled from /proc).
    cpu = figures["cpu_ms_per_request"]
    assert set(cpu) == {
        "trivial",
        "one_write",
        "one_write_after_mix",
        "mixed",
        "per_accepted_reading",
        "per_confirmation_draining",
    }
    for name, phase in cpu.items():
        assert set(phase) == {"server", "mail_sender", "postgres", "load", "total"}
        if name == "per_confirmation_draining":
            continue  # None when the sender had kept up (no backlog), checked below otherwise
        assert phase["server"] > 0 and phase["load"] > 0
        parts = phase["server"] + phase["mail_sender"] + phase["postgres"] + phase["load"]
        assert phase["total"] == pytest.approx(parts, abs=0.01)
    if figures["confirmations_backlog_after_load"] > 0:
        draining = cpu["per_confirmation_draining"]
        assert draining["mail_sender"] > 0 and draining["load"] == 0
        assert figures["confirmations_per_second_draining"] > 0
    # The trivial endpoint asks nothing of the database; a write and a submission do.
    assert cpu["trivial"]["postgres"] < cpu["one_write"]["postgres"] < cpu["mixed"]["postgres"]
    assert cpu["per_accepted_reading"]["total"] >= cpu["mixed"]["total"]


def test_the_ceiling_needs_two_accounts_and_says_so_before_building_anything(tmp_path):
    env = {**os.environ, "METERDESK_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "meterdesk.cli", "bench", "api", "--accounts", "1", "--ceiling"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)  # noqa: S603
    assert done.returncode != 0
    assert "--ceiling needs at least two accounts" in done.stderr
    assert "Building" not in done.stdout + done.stderr
