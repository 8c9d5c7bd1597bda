"""`meterdesk serve`: the production server with its mail sender, run as an operator runs it (a
subprocess on a fresh data directory, a real port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_demo_and_seed import run

WAIT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _senders(parent: int) -> list[int]:
    """The pids of the `send_confirmations` processes whose parent is ``parent`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"send_confirmations" in cmdline:
            found.append(int(entry.name))
    return found


def _wait_for(predicate, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what} after {WAIT_SECONDS} s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    migrated = run(["migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["METERDESK_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterdesk.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--threads",
            "2",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as response:
            return response.status == 200 and b"ok" in response.read()
    except OSError:
        return False


def test_serve_answers_and_keeps_its_mail_sender_running(server):
    process, port = server
    _wait_for(lambda: _health(port), "the server to answer")
    first = _wait_for(lambda: _senders(process.pid), "the mail sender to start")
    assert len(first) == 1
    # Background work yields the CPU to the web workers.
    assert _nice(first[0]) == _nice(process.pid) + 10

    os.kill(first[0], signal.SIGKILL)  # a crash of the sender
    again = _wait_for(lambda: [pid for pid in _senders(process.pid) if pid != first[0]], "a new mail sender")
    assert len(again) == 1
    assert _health(port)


def test_serve_stops_its_mail_sender_when_it_stops(server):
    process, port = server
    _wait_for(lambda: _health(port), "the server to answer")
    workers = _wait_for(lambda: _senders(process.pid), "the mail sender to start")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT_SECONDS) == 0
    assert not any(Path(f"/proc/{pid}").exists() and _is_running(pid) for pid in workers)


def _nice(pid: int) -> int:
    """The process's nice value (field 19 of /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
