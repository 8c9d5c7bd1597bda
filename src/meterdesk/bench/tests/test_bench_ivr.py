"""`meterdesk bench ivr`: two real calls end to end print every figure the issue asks for, with
nothing lost; and the figures count a key the line did not log as lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from meterdesk.bench.ivr import ANSWERS, _figures, _groups, _keys_logged

LOGGED = "account:7000000003 account_check:1 serial:0003 menu:1 value:1303 value_check:1 value:653 value_check:1 menu:9"


def test_a_call_keys_what_the_line_logs():
    groups = _groups(3)
    assert groups[:3] == ["7000000003", "1", "0003"] and len(groups) == len(ANSWERS)
    assert _keys_logged(LOGGED) == len("".join(groups))


def test_figures_count_keys_lost_and_calls_not_completed():
    results = [
        {"completed": True, "failed": "", "keys_sent": 28, "latencies_ms": [100.0] * 9},
        {"completed": False, "failed": "no answer to group 4", "keys_sent": 28, "latencies_ms": [300.0] * 4},
    ]
    counts = {
        "readings": 1,
        "meters_read": 1,
        "calls": [
            {"caller": "+74950000000", "inputs": LOGGED, "readings": 1, "outcome": "reading"},
            {"caller": "+74950000001", "inputs": LOGGED.replace("value:1303", "value:130"), "readings": 0},
        ],
    }
    figures = _figures(2, results, counts, 10.0, 1.0, None)
    assert figures["completed"] == 1 and figures["digits_lost"] == 1 and figures["digits_extra"] == 0
    assert figures["failures"] == {"no answer to group 4": 1}
    assert figures["prompt_p95_ms_by_answer"]["account_read_back"] == 300.0
    assert figures["cpu_ms_per_call"] == 1000.0


def test_bench_ivr_prints_its_figures_as_json(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERDESK_") and k != "DATABASE_URL"}
    env["METERDESK_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "meterdesk.cli", "bench", "ivr", "--calls", "2", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("calls", "completed", "digits_lost", "readings_stored", "prompt_p95_ms", "cpu_ms_per_call"):
        assert key in figures
    assert figures["completed"] == 2 and figures["digits_lost"] == 0 and figures["digits_extra"] == 0
    assert figures["readings_stored"] == 2 and figures["calls_logged"] == 2
    assert figures["prompts_timed"] == 2 * len(ANSWERS)
