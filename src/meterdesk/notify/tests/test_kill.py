"""A sender killed with SIGKILL mid-batch, then run again: every notice is stored once and sent;
the SMTP server gets each at least once and again at most the last ``FLUSH`` handed over before
the kill (at-least-once at the SMTP level, docs/notifications.md). A real `meterdesk notify
window-open` (prepare and send) in its own data dir, against an aiosmtpd sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from meterdesk.devtools import free_port
from meterdesk.notify.send import FLUSH

HOUSEHOLDS = 600  # more than a batch (500)

_SEED = """
import sys
from datetime import date
from decimal import Decimal
import django
django.setup()
from django.utils import timezone
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.metering.models import Meter
n = int(sys.argv[1])
accounts = Account.objects.bulk_create(
    Account(number=f"{7_100_000_000 + i:010d}", holder_name="Test", address=f"Test {i}",
            category="gas_stove", opened_on=date(2024, 1, 1)) for i in range(n)
)
Meter.objects.bulk_create(
    Meter(account=a, serial=f"{50_000_000 + i}", zones=1, digits=6, installed_on=date(2024, 1, 10),
          verification_due=date(2040, 1, 1), initial_t1=Decimal(1000)) for i, a in enumerate(accounts)
)
users = User.objects.bulk_create(
    User(email=f"h{i}@example.com", password="!", email_verified_at=timezone.now()) for i in range(n)
)
AccountLink.objects.bulk_create(AccountLink(user=u, account=a) for u, a in zip(users, accounts))
"""


class _Sink:
    """Takes every letter (a little slowly, so that the kill lands mid-batch) and notes its notice."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.003)
        for line in bytes(envelope.original_content).split(b"\r\n"):
            if line.startswith(b"X-Meterdesk-Notice: "):
                with self.lock:
                    self.keys.append(line.split(b": ", 1)[1].decode())
        return "250 OK"


def _env(data: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "METERDESK_TASKS"):
        env.pop(name, None)
    env.update(
        METERDESK_DATA_DIR=str(data),
        DJANGO_SETTINGS_MODULE="meterdesk.settings",
        METERDESK_SMTP_HOST="127.0.0.1",
        METERDESK_SMTP_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _rows(data: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(data / "meterdesk.sqlite3", timeout=30)) as db:
        rows = db.execute(sql).fetchall()
        db.commit()
        return rows


def test_a_sender_killed_mid_batch_then_run_again_sends_every_notice(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    sink = _Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = _env(data, port)
    command = ("-m", "meterdesk.cli", "notify", "window-open", "--date", "2026-12-15")
    try:
        migrated = _run(env, "-m", "meterdesk.cli", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        seeded = _run(env, "-c", _SEED, str(HOUSEHOLDS))
        assert seeded.returncode == 0, seeded.stderr

        first = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None and len(sink.keys) < 2 * FLUSH + 30:
            time.sleep(0.002)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL, "it ended before it was killed"
        with sink.lock:
            before_kill = list(sink.keys)
        assert 2 * FLUSH <= len(before_kill) < HOUSEHOLDS, len(before_kill)
        sent, unsent = _rows(
            data,
            "SELECT COUNT(sent_at), COUNT(*) - COUNT(sent_at) FROM notify_notice WHERE channel = 'email'",
        )[0]
        assert sent >= 2 * FLUSH and sent % FLUSH == 0 and unsent > 0  # recorded every FLUSH, mid-batch

        # The killed sender's lease runs out (10 minutes in real life).
        _rows(data, "UPDATE notify_notice SET next_attempt_at = '2000-01-01 00:00:00' WHERE sent_at IS NULL")
        again = _run(env, *command)
        assert again.returncode == 0, again.stderr
        assert f"0 notices stored now, {2 * HOUSEHOLDS} stored before" in again.stdout  # stored once
    finally:
        controller.stop()

    keys = {k for (k,) in _rows(data, "SELECT key FROM notify_notice WHERE channel = 'email'")}
    assert len(keys) == HOUSEHOLDS
    assert _rows(data, "SELECT COUNT(*) FROM notify_notice WHERE sent_at IS NULL") == [(0,)]
    assert set(sink.keys) == keys  # every notice reached the server
    twice = len(sink.keys) - len(set(sink.keys))
    assert twice <= FLUSH  # at most those handed over since the last record before the kill
    assert {k for k in sink.keys if sink.keys.count(k) > 1} <= set(before_kill)
