"""`meterdesk serve`: the production server with its mail sender, run as an operator runs it (a
subprocess on a fresh data directory, a real port)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from meterdesk.testing import free_port, scratch_postgres
from tests.cli.test_demo_and_seed import run

WAIT_SECONDS = 60


def _senders(parent: int, marker: bytes = b"send-confirmations") -> list[int]:
    """The pids of the ``marker`` processes (`send-confirmations` by default) whose parent is
    ``parent`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and marker in cmdline:
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


@contextlib.contextmanager
def _serving(data_dir: Path, workers: int = 1, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`meterdesk serve` on ``data_dir`` (SQLite) and a free port, stopped with SIGTERM after; its
    standard error in ``data_dir/serve.err``."""
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "METERDESK_TASKS", "METERDESK_CACHE_URL"}
    }
    environment.update(METERDESK_DATA_DIR=str(data_dir), **env)
    command = ["serve", "--port", str(port), "--workers", str(workers), "--threads", "2"]
    with (data_dir / "serve.err").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "meterdesk.cli", *command],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    migrated = run(["migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    with _serving(tmp_path) as served:
        yield served


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
    # Background work yields the CPU to the web workers: nice +10 (and on SQLite, which this
    # server runs on, not the idle class: the sender would hold the write lock while it waits).
    assert _nice(first[0]) == _nice(process.pid) + 10
    assert os.sched_getscheduler(first[0]) == os.SCHED_OTHER

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


def test_serve_runs_the_schedule_beside_it_and_stops_it(server):
    process, port = server
    _wait_for(lambda: _health(port), "the server to answer")
    (scheduler,) = _wait_for(lambda: _senders(process.pid, b"schedule"), "the scheduler to start")
    os.kill(scheduler, signal.SIGKILL)  # a crash of the scheduler
    (again,) = _wait_for(
        lambda: [pid for pid in _senders(process.pid, b"schedule") if pid != scheduler], "a new scheduler"
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT_SECONDS) == 0
    assert not (Path(f"/proc/{again}").exists() and _is_running(again))


def _nice(pid: int) -> int:
    """The process's nice value (field 19 of /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _api(
    port: int, method: str, path: str, body: dict | None = None, token: str | None = None
) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http://127.0.0.1 above
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _demo(data_dir: Path) -> None:
    demo = run(
        ["demo", "--no-serve"],
        data_dir,
        METERDESK_DEMO_PASSWORD="demo-pass-123",
        METERDESK_ADMIN_PASSWORD="adm-pass-4567",
    )
    assert demo.returncode == 0, demo.stderr


def _demo_token(port: int) -> str:
    status, created = _api(
        port,
        "POST",
        "/auth/token",
        {"email": "demo@example.com", "password": "demo-pass-123", "name": "test"},
    )
    assert status == 201, created
    return str(created["token"])


def test_a_reading_sent_to_the_server_is_confirmed_by_its_mail_sender(tmp_path: Path):
    """The demo's customer submits a reading through the API of `meterdesk serve` (SQLite, the
    database task backend): the mail sender that serve started writes the confirmation mail."""
    _demo(tmp_path)
    with _serving(tmp_path, METERDESK_READING_WINDOW="1-31") as (_process, port):
        _wait_for(lambda: _health(port), "the server to answer")
        token = _demo_token(port)
        status, meters = _api(port, "GET", "/accounts/7700000001/meters", token=token)
        assert status == 200, meters
        meter = meters["items"][0]
        values = [str(int(float(v["value"])) + 150) for v in meter["last_reading"]["values"]]
        status, accepted = _api(
            port,
            "POST",
            f"/meters/{meter['id']}/readings",
            {"values": values, "confirm": [f"high_consumption:{z}={v}" for z, v in enumerate(values, 1)]},
            token=token,
        )
        assert status == 201, accepted
        number = accepted["confirmation"]

        def mailed() -> list[Path]:
            folder = tmp_path / "mail"
            files = folder.iterdir() if folder.is_dir() else []
            return [f for f in files if number in f.read_text(encoding="utf-8", errors="replace")]

        (mail_file,) = _wait_for(mailed, "the confirmation e-mail")
        assert "demo@example.com" in mail_file.read_text(encoding="utf-8", errors="replace")


def test_workers_of_the_server_share_the_rate_limits_in_redis(tmp_path: Path, redis_url: str):
    """Two worker processes, a token limit of 5 a minute, 12 requests at once on 12 connections
    (accepted by either worker): exactly 5 answered, 7 refused with Retry-After."""
    _demo(tmp_path)
    environment = {"METERDESK_CACHE_URL": redis_url, "METERDESK_API_RATE_TOKEN": "5/m"}
    with _serving(tmp_path, workers=2, **environment) as (_process, port):
        _wait_for(lambda: _health(port), "the server to answer")
        token = _demo_token(port)
        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(lambda _n: _api(port, "GET", "/accounts", token=token)[0], range(12)))
    assert sorted(codes) == [200] * 5 + [429] * 7
    assert "warning" not in (tmp_path / "serve.err").read_text(encoding="utf-8")


def test_workers_of_the_server_share_the_rate_limits_in_the_database_by_default(tmp_path: Path):
    """The same without Redis: the default cache is the database, shared by the workers."""
    _demo(tmp_path)
    with _serving(tmp_path, workers=2, METERDESK_API_RATE_TOKEN="5/m") as (_process, port):
        _wait_for(lambda: _health(port), "the server to answer")
        token = _demo_token(port)
        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(lambda _n: _api(port, "GET", "/accounts", token=token)[0], range(12)))
    assert sorted(codes) == [200] * 5 + [429] * 7
    assert "warning" not in (tmp_path / "serve.err").read_text(encoding="utf-8")


def test_the_server_warns_when_each_worker_would_count_the_limits_alone(tmp_path: Path):
    assert run(["migrate"], tmp_path).returncode == 0
    with _serving(tmp_path, workers=2, METERDESK_CACHE_URL="locmem://") as (_process, port):
        _wait_for(lambda: _health(port), "the server to answer")
    said = (tmp_path / "serve.err").read_text(encoding="utf-8")
    assert "warning: rate limits are counted by each of the 2 worker processes" in said
    assert "METERDESK_CACHE_URL" in said


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated-to-be database of its own on PostgreSQL (``scratch_postgres``)."""
    with scratch_postgres(f"meterdesk_serve_test_{os.getpid()}", create=True) as url:
        yield url


def test_on_postgresql_the_mail_sender_runs_in_the_idle_scheduling_class(tmp_path: Path, postgres_url: str):
    """On PostgreSQL the sender's transactions lock only the outbox rows it claimed, so it may wait
    for a free core: it runs in Linux's idle class, and at nice +10."""
    migrated = run(["migrate"], tmp_path, DATABASE_URL=postgres_url)
    assert migrated.returncode == 0, migrated.stderr
    with _serving(tmp_path, DATABASE_URL=postgres_url) as (process, port):
        _wait_for(lambda: _health(port), "the server to answer")
        (sender,) = _wait_for(lambda: _senders(process.pid), "the mail sender to start")
        assert os.sched_getscheduler(sender) == os.SCHED_IDLE
        assert os.sched_getscheduler(process.pid) == os.SCHED_OTHER
        assert _nice(sender) == _nice(process.pid) + 10


def test_a_cache_url_of_another_kind_is_refused_with_its_name(tmp_path: Path):
    done = run(["migrate"], tmp_path, METERDESK_CACHE_URL="memcached://127.0.0.1:11211")
    assert done.returncode != 0
    assert "METERDESK_CACHE_URL: expected redis://" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "meterdesk.sqlite3").exists()  # nothing was done
