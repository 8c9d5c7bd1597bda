"""`meterdesk mail …` run for real in the tests: a data dir of its own (SQLite, migrated once per
test session and copied), accounts made in it, the command started in a process group of its own
(so that a test can kill it and its workers at once), and its database read back."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: (account number, meter serial, zones, the values read in October)
Meter = tuple[str, str, int, tuple[int, ...]]

_SEED = """
import sys, json
from datetime import date
from decimal import Decimal
import django
django.setup()
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, UserFactory, link, make_tariff
for prices in (("7.16",), ("9.45", "4.08"), ("10.32", "8.60", "4.08")):
    make_tariff(prices=prices)
for number, serial, zones, previous, login in json.loads(sys.argv[1]):
    meter = MeterFactory(account=AccountFactory(number=number), serial=serial, zones=zones)
    values = dict(zip(("t1", "t2", "t3"), map(Decimal, previous)))
    ReadingFactory(meter=meter, period=date(2026, 10, 1), **values)
    if login:
        link(UserFactory(email=login), meter.account)
"""


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A `meterdesk` subprocess's environment: its own data dir and SQLite database, tasks on the
    database, every day in the reading window, answers written as files under <data dir>/mail."""
    environment = dict(os.environ)
    for name in list(environment):
        if name == "DATABASE_URL" or name.startswith("METERDESK_"):
            environment.pop(name)
    environment.update(
        METERDESK_DATA_DIR=str(data_dir),
        METERDESK_READING_WINDOW="1-31",
        METERDESK_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="meterdesk.settings",
        PYTHONUNBUFFERED="1",
    )
    environment.update(extra)
    return environment


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "meterdesk.cli", *args]


def migrated(template: Path) -> Path:
    """A migrated data dir (made once in ``template``)."""
    if not (template / "meterdesk.sqlite3").exists():
        template.mkdir(parents=True, exist_ok=True)
        subprocess.run(command("migrate"), env=env(template), check=True, capture_output=True, timeout=300)  # noqa: S603
    return template


def data_dir(
    template: Path, target: Path, meters: Sequence[Meter], logins: dict[str, str] | None = None
) -> Path:
    """A copy of the migrated ``template`` at ``target`` with ``meters`` (and their logins)."""
    import json

    shutil.copytree(template, target)
    rows = [[*meter, (logins or {}).get(meter[0], "")] for meter in meters]
    subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", _SEED, json.dumps(rows)],
        env=env(target),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def start(data_dir: Path, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    """``meterdesk ARGS`` in a session of its own (``kill`` ends it with its workers)."""
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - the process's, closed when it exits
    return subprocess.Popen(  # noqa: S603 - our own command
        command(*args),
        env=env(data_dir, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
    process.wait(timeout=30)


def wait_listening(port: int, process: subprocess.Popen[bytes], data_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((data_dir / "server.log").read_text(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(
        f"nothing listens on {port}: " + (data_dir / "server.log").read_text(errors="replace")
    )


def query(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(data_dir / "meterdesk.sqlite3", timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def wait_for(data_dir: Path, sql: str, expected: Any, timeout: float = 60) -> None:
    """Wait until ``sql``'s first value is ``expected``."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = query(data_dir, sql)[0][0]
        if value == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"{sql}: {value!r}, expected {expected!r}")
