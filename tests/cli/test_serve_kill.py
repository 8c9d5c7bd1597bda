"""`meterdesk serve` killed hard: its mail sender does not live on as an orphan."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from tests.cli.test_serve import WAIT_SECONDS, _health, _is_running, _senders, _wait_for, server

__all__ = ["server"]  # the fixture, used by name


def test_the_mail_sender_exits_when_its_server_is_killed_hard(server):
    """kill -9 (or the OOM killer) gives the server no chance to stop its sender: the sender sees
    its parent gone and exits by itself, instead of polling the database as an orphan."""
    process, port = server
    _wait_for(lambda: _health(port), "the server to answer")
    senders = _wait_for(lambda: _senders(process.pid), "the mail sender to start")
    try:
        process.kill()
        process.wait(timeout=WAIT_SECONDS)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_is_running(pid) for pid in senders):
            time.sleep(0.2)
        assert not any(_is_running(pid) for pid in senders), "the mail sender outlived its server"
    finally:
        for pid in senders:  # never leave an orphan behind, even when the test fails
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
