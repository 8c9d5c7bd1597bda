"""`meterdesk bench billing` builds its utility, closes the month and prints sane figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from meterdesk.bench.billing import _Conn
from meterdesk.testing import scratch_postgres

KEYS = {"accounts", "seconds", "accounts_per_second", "sql_floor_seconds", "ratio_to_floor", "peak_rss_mb"}


@pytest.fixture
def bench_url():
    """A database of its own on a PostgreSQL server (the benchmark always measures PostgreSQL,
    whatever the test database is)."""
    server = os.environ.get("METERDESK_BENCH_DATABASE_URL")
    with scratch_postgres(f"meterdesk_bench_test_{os.getpid()}", create=False, server=server) as url:
        yield url


def test_bench_billing_prints_the_figures(bench_url, tmp_path):
    env = {**os.environ, "METERDESK_DATA_DIR": str(tmp_path), "METERDESK_BENCH_DATABASE_URL": bench_url}
    env.pop("METERDESK_TASKS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "meterdesk.cli",
            "bench",
            "billing",
            "--accounts",
            "300",
            "--json",
            # Chunks of 100: the synthetic utility closed both ways (with and without the SQL fast
            # path, rolled back), every row compared, before the timed close.
            "--chunk-size",
            "100",
            "--check-fast-path",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)  # one JSON object, nothing else on stdout
    assert set(figures) >= KEYS
    assert figures["accounts"] == 300
    for key in KEYS - {"accounts"}:
        assert isinstance(figures[key], int | float), key
        assert figures[key] > 0, key
    assert figures["accounts_per_second"] == pytest.approx(300 / figures["seconds"], rel=0.01)
    # Both figures are printed rounded (the floor to the millisecond): the ratio is of the exact ones.
    floor, seconds = figures["sql_floor_seconds"], figures["seconds"]
    low, high = seconds / (floor + 0.0006) - 0.01, seconds / max(floor - 0.0006, 1e-6) + 0.01
    assert low <= figures["ratio_to_floor"] <= high
    # The floor is timed three times; its figure is the fastest run.
    assert len(figures["sql_floor_runs"]) == 3
    assert figures["sql_floor_seconds"] == min(figures["sql_floor_runs"])
    assert 10 < figures["peak_rss_mb"] < 2000
    assert figures["statements"] == 300
    _assert_machine(figures["machine"])
    # The server's settings that matter, as SHOW prints them.
    settings = figures["server_settings"]
    assert {"shared_buffers", "work_mem", "synchronous_commit", "max_wal_size"} <= set(settings)
    assert settings["synchronous_commit"] in {"on", "off", "local", "remote_write", "remote_apply"}
    assert all(isinstance(v, str) and v for v in settings.values())
    check = figures["fast_path_check"]
    assert check["equal"], check["differences"]
    assert check["chunks"] == 3
    assert check["accounts"] == 300
    # The synthetic data has both kinds: most accounts by the fast path, some by the engine.
    assert 200 < check["accounts_by_fast_path"] < 300
    assert check["rows_compared"] > 3 * 300

    with _Conn.parse(bench_url).connect() as db:  # the benchmark's own connection
        closes = db.execute(
            "SELECT COUNT(*) FROM billing_accountclose WHERE period = %s", [f"{figures['period']}-01"]
        ).fetchone()
        lines = db.execute("SELECT COUNT(*) FROM bench_floor").fetchone()
        written = db.execute(
            "SELECT (SELECT COUNT(*) FROM billing_accountclose WHERE period = %(p)s) "
            "+ (SELECT COUNT(*) FROM billing_meterbillingstate WHERE period = %(p)s) "
            "+ (SELECT COUNT(*) FROM billing_ledgerentry WHERE period = %(p)s AND run_id IS NOT NULL), "
            "(SELECT COUNT(*) FROM billing_accountclose WHERE period > %(p)s) "
            "+ (SELECT COUNT(*) FROM billing_meterbillingstate WHERE period > %(p)s) "
            "+ (SELECT COUNT(*) FROM billing_ledgerentry WHERE period > %(p)s)",
            {"p": f"{figures['period']}-01"},
        ).fetchone()
    assert closes is not None and closes[0] == 300
    assert lines is not None and lines[0] == figures["floor_rows"] > 0
    # The close's writes alone: every row the close wrote, written once more (as the next month's)
    # and rolled back: nothing of it is left.
    assert written is not None
    assert figures["close_writes_rows"] == written[0] > 300
    assert written[1] == 0
    assert figures["close_writes_seconds"] > 0
    writes = figures["close_writes_seconds"]
    low, high = (
        (writes - 0.0006) / (floor + 0.0006) - 0.01,
        (writes + 0.0006) / max(floor - 0.0006, 1e-6) + 0.01,
    )
    assert low <= figures["close_writes_ratio_to_floor"] <= high


def _assert_machine(machine: dict) -> None:
    """The probe of the machine a run was measured on, as both benchmarks print it."""
    assert machine["cpu_count"] == os.cpu_count()
    assert machine["python_loop_steps"] == 10_000_000
    assert 0 < machine["python_loop_seconds"] < 60
    assert isinstance(machine["cpu_model"], str)


def test_the_probe_loop_keeps_the_fastest_run(monkeypatch):
    from meterdesk.bench import billing

    clock = iter([0.0, 0.5, 10.0, 10.2, 20.0, 20.9])  # runs of 0.5, 0.2 and 0.9 s
    monkeypatch.setattr(billing.time, "perf_counter", lambda: next(clock))
    assert billing.loop_seconds(steps=1000, runs=3) == pytest.approx(0.2)


def test_the_machine_probe_runs_apart_and_leaves_this_process_s_peak_memory_alone():
    """A fresh interpreter probes with 5 million steps (a 40 MB list): its own peak memory does not
    move, because the loop runs in a child (the close's children would report it as theirs)."""
    # VmHWM, not getrusage: a child started by fork and exec reports its parent's peak as its own
    # in ru_maxrss (here pytest's), so that figure would hide any growth below it.
    code = (
        "import json, re\n"
        "from meterdesk.bench.billing import machine_probe\n"
        "def hwm():\n"
        "    return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "before = hwm()\n"
        "probe = machine_probe(steps=5_000_000, runs=2)\n"
        "print(json.dumps({'probe': probe, 'grew_kb': hwm() - before}))\n"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["grew_kb"] < 10_000  # the list alone is ~40 000 kB
    probe = out["probe"]
    assert probe["python_loop_steps"] == 5_000_000
    assert 0 < probe["python_loop_seconds"] < 60
    assert probe["cpu_count"] == os.cpu_count()
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    assert probe["cpu_model"] == (names[0] if names else "")


def test_the_close_s_writes_alone_stop_with_an_error_when_a_connection_fails():
    """One of the copying connections cannot connect: the others stop waiting for it, nothing hangs,
    and the benchmark says why (a lost connection's copy is rolled back by the server)."""
    import threading
    from datetime import date
    from typing import cast

    from meterdesk.bench import billing

    class _Db:
        def __enter__(self):
            return self

        def __exit__(self, *_exc):
            return False

        def execute(self, sql, _params=None):
            class _Done:
                rowcount = 0

                def fetchone(self):
                    return (1, 100)

            return _Done()

    class _Flaky:
        calls = 0

        def connect(self):
            self.calls += 1
            if self.calls == 3:  # the span reader, the first copy, then the second copy fails
                raise OSError("connection refused")
            return _Db()

    outcome: list[BaseException] = []

    def run() -> None:
        with pytest.raises(billing.BenchError) as raised:
            billing._close_writes(cast(billing._Conn, _Flaky()), date(2026, 10, 1), 2)
        outcome.append(raised.value)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the copies waited for a connection that had failed"
    assert "connection refused" in str(outcome[0])
