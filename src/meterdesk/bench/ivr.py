"""`meterdesk bench ivr`: N concurrent phone calls, each giving a two-zone reading by keypad.

In a data dir of its own (SQLite, or the PostgreSQL database given) with N accounts of one
two-zone meter each: ``meterdesk ivr serve`` processes answer (four calls each, the wheel's limit
for one pjsua2 endpoint), and caller processes (bench/ivr_caller.py, pjsua2 endpoints of their own)
place the N calls at once over loopback: real SIP, G.711 RTP, RFC 2833 keys. Each call identifies by keypad (the account number, read back, the meter's last digits),
chooses readings, keys both zones' values, confirms each and ends the call. Reported: the calls
completed, the keys the line did not get (from its call log), the readings stored, the p95 of the
prompt latency (from a caller's last key to the first sound of the answer, at the caller), and
the line's CPU per call."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meterdesk.bench.mail import _env, _percentile
from meterdesk.devtools import free_port
from meterdesk.phone.sip import MAX_CALLS

FIRST_ACCOUNT = 7_000_000_000
#: Calls one pjsua2 endpoint takes (phone/sip.py): N calls take N/4 line processes (a PBX
#: spreads them over the group) and as many caller processes.
PER_PROCESS = MAX_CALLS
#: The meters' last readings; each call's values are above them by its own amount, so that what
#: the line reads back and charges differs from call to call, as it does on a real line.
LAST = (1200, 600)

_SEED = """
import sys
from datetime import date
from decimal import Decimal
import django
django.setup()
from meterdesk.customers.models import Account
from meterdesk.metering.models import Meter
from meterdesk.testing import make_tariff
make_tariff(prices=("9.45", "4.08"))
first, n = int(sys.argv[1]), int(sys.argv[2])
Account.objects.bulk_create(
    Account(number=f"{first + i:010d}", holder_name="Bench", address=f"ул. Ленина, д. {i + 1}",
            category="gas_stove", opened_on=date(2024, 1, 1)) for i in range(n)
)
accounts = dict(Account.objects.values_list("number", "id"))
Meter.objects.bulk_create(
    Meter(account_id=accounts[f"{first + i:010d}"], serial=f"M{i:07d}", zones=2, digits=6,
          installed_on=date(2024, 1, 10), verification_due=date(2040, 1, 1),
          initial_t1=Decimal(%d), initial_t2=Decimal(%d))
    for i in range(n)
)
"""

_COUNT = """
import json, sys
import django
django.setup()
from meterdesk.metering.models import Reading
from meterdesk.phone.models import Call
print(json.dumps({
    "readings": Reading.objects.filter(channel="ivr").count(),
    "meters_read": Reading.objects.filter(channel="ivr").values("meter").distinct().count(),
    "calls": list(Call.objects.values("caller", "inputs", "readings", "outcome")),
}))
"""


#: What the line says after each group of keys: its latency is timed to the first sound of it.
ANSWERS = (
    "account_read_back",
    "serial_prompt",
    "menu",
    "zone1_prompt",
    "zone1_read_back",
    "zone2_prompt",
    "zone2_read_back",
    "charge_and_confirmation",
    "goodbye",
)


def _groups(i: int) -> list[str]:
    """What caller ``i`` keys: its account number (ten digits end the entry), 1 (read back right),
    its meter's last four digits, 1 (readings), each zone's value with # and 1 to confirm, 9."""
    return [
        f"{FIRST_ACCOUNT + i:010d}",
        "1",
        f"{i:07d}"[-4:],
        "1",
        f"{LAST[0] + 100 + i}#",
        "1",
        f"{LAST[1] + 50 + i}#",
        "1",
        "9",
    ]


def _keys_logged(inputs: str) -> int:
    """The keys the line took, from a call's logged inputs (``step:answer``; an entry shorter than
    its step's length was ended by #)."""
    total = 0
    for item in inputs.split():
        step, _sep, answer = item.partition(":")
        total += len(answer)
        if step == "value":
            total += 1  # the #
    return total


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time with that of its children waited for (espeak-ng rendering prompts)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def bench_ivr(
    *, calls: int, database_url: str | None, say: Callable[[str], None], timeout: float = 900
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="meterdesk-bench-ivr-"))
    command = [sys.executable, "-m", "meterdesk.cli"]
    env = _env(folder, database_url)
    groups = -(-calls // PER_PROCESS)
    load_before = round(os.getloadavg()[0], 2)  # others' work on the machine skews the figures
    lines: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    try:
        say(f"Preparing {calls} accounts with two-zone meters in {folder}")
        subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603 - our own script
            [sys.executable, "-c", _SEED % LAST, str(FIRST_ACCOUNT), str(calls)],
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run([*command, "ivr", "prompts"], env=env, check=True, capture_output=True)  # noqa: S603
        say(f"{groups} × meterdesk ivr serve ({PER_PROCESS} calls each)")
        for g in range(groups):
            sip_port, rtp = free_port(), free_port()
            log_path = folder / f"line{g}.log"
            with log_path.open("ab") as log:
                process = subprocess.Popen(  # noqa: S603 - our own command
                    [
                        *command,
                        "ivr",
                        "serve",
                        "--sip-port",
                        str(sip_port),
                        "--rtp-ports",
                        f"{rtp}-{rtp + 40}",
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            lines.append((process, sip_port, log_path))
        for process, _port, log_path in lines:
            _wait_line(log_path, process)
        plan = [
            [f"+7495{i:07d}", f"sip:ivr@127.0.0.1:{lines[i // PER_PROCESS][1]}", _groups(i)]
            for i in range(calls)
        ]
        say(f"{calls} calls at once from {groups} caller processes")
        cpu_before = sum(_cpu_seconds(p.pid) for p, _port, _log in lines)
        began = time.monotonic()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        results = _call(plan, env, timeout)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        caller_cpu = (children.ru_utime + children.ru_stime) - (
            children_before.ru_utime + children_before.ru_stime
        )
        seconds = time.monotonic() - began
        time.sleep(1.0)  # the last calls' records
        cpu = sum(_cpu_seconds(p.pid) for p, _port, _log in lines) - cpu_before
    finally:
        for process, _port, _log in lines:
            process.terminate()
        for process, _port, _log in lines:
            process.wait(timeout=60)
    try:
        counts = json.loads(
            subprocess.run(  # noqa: S603 - our own script
                [sys.executable, "-c", _COUNT], env=env, check=True, capture_output=True
            ).stdout
        )
        figures = _figures(calls, results, counts, seconds, cpu, database_url)
        figures["line_processes"] = groups
        figures["caller_cpu_ms_per_call"] = round(caller_cpu * 1000 / calls, 1)
        figures["load_average_before"] = load_before
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _call(plan: list[list[Any]], env: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """Place the calls of ``plan`` from caller processes of PER_PROCESS calls each, all at once."""
    callers = []
    for start in range(0, len(plan), PER_PROCESS):
        rtp = free_port()
        part = {
            "sip_port": free_port(),
            "rtp_ports": [rtp, rtp + 40],
            "calls": plan[start : start + PER_PROCESS],
            "timeout": timeout,
        }
        path = Path(env["METERDESK_DATA_DIR"]) / f"callers{start}.json"
        part["out"] = str(path.with_suffix(".out"))
        path.write_text(json.dumps(part))
        with path.open("rb") as given:
            process = subprocess.Popen(
                [sys.executable, "-m", "meterdesk.bench.ivr_caller"],
                stdin=given,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        callers.append(process)
    results: list[dict[str, Any]] = []
    for start, process in zip(range(0, len(plan), PER_PROCESS), callers, strict=True):
        _out, err = process.communicate(timeout=timeout + 60)
        out = Path(env["METERDESK_DATA_DIR"]) / f"callers{start}.out"
        if process.returncode or not out.exists():
            raise RuntimeError(f"a caller process failed: {err.decode()[-3000:]}")
        results += json.loads(out.read_text())
    return results


def _figures(
    calls: int,
    results: list[dict[str, Any]],
    counts: dict[str, Any],
    seconds: float,
    cpu: float,
    database_url: str | None,
) -> dict[str, Any]:
    logged = {c["caller"]: c for c in counts["calls"]}
    lost = extra = 0
    for i, result in enumerate(results):
        call = logged.get(f"+7495{i:07d}")
        taken = _keys_logged(call["inputs"]) if call else 0
        lost += max(0, result["keys_sent"] - taken)
        extra += max(0, taken - result["keys_sent"])
    latencies = [v for r in results for v in r["latencies_ms"]]
    by_step: dict[str, list[float]] = {}
    for result in results:
        for step, value in zip(ANSWERS, result["latencies_ms"], strict=False):
            by_step.setdefault(step, []).append(value)
    completed = sum(1 for r in results if r["completed"])
    failures: dict[str, int] = {}
    for result in results:
        if result["failed"]:
            failures[result["failed"]] = failures.get(result["failed"], 0) + 1
    return {
        "calls": calls,
        "completed": completed,
        "digits_sent": sum(r["keys_sent"] for r in results),
        "digits_lost": lost,
        "digits_extra": extra,
        "readings_stored": counts["readings"],
        "meters_read": counts["meters_read"],
        "calls_logged": len(counts["calls"]),
        "prompts_timed": len(latencies),
        "prompt_p50_ms": _percentile(latencies, 0.5),
        "prompt_p95_ms": _percentile(latencies, 0.95),
        "prompt_max_ms": max(latencies, default=None),
        "prompt_p95_ms_by_answer": {step: _percentile(values, 0.95) for step, values in by_step.items()},
        "cpu_ms_per_call": round(cpu * 1000 / max(completed, 1), 1),
        "line_cpu_seconds": round(cpu, 2),
        "seconds": round(seconds, 1),
        "cores": os.cpu_count(),
        "database": "postgresql" if database_url else "sqlite",
        "failures": failures,
    }


def _wait_line(log: Path, line: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line.poll() is not None:
            raise RuntimeError(
                f"meterdesk ivr serve exited with {line.returncode}: {log.read_text()[-2000:]}"
            )
        if b"answers at" in log.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError("meterdesk ivr serve did not start")
