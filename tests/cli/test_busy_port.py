"""`meterdesk demo` (and `serve`) on a port that another server holds: they say so, name the port
and how to choose another, and change nothing (no database, no passwords reset)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

import pytest

from tests.cli.test_demo_and_seed import run


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket holds, as a running demo would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_the_demo_on_a_busy_port_changes_nothing(tmp_path, busy_port):
    result = run(["demo", "--port", str(busy_port)], tmp_path, METERDESK_DEMO_PASSWORD="demo-pass-123")
    assert result.returncode != 0
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.stderr
    assert f"bash scripts/demo.sh --port {busy_port + 1}" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert "ready" not in result.stdout
    assert list(tmp_path.iterdir()) == []  # no database, no secret key: nothing was started


def test_the_demo_on_a_busy_port_leaves_the_database_alone(tmp_path, busy_port):
    """An existing database is not touched either: the demo's logins (and their passwords) are
    written only after the port check."""
    assert run(["migrate"], tmp_path).returncode == 0
    db = sqlite3.connect(tmp_path / "meterdesk.sqlite3")
    tables = ("customers_user", "customers_account", "utility_utilitysettings", "billing_billingrun")
    before = [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() for table in tables]
    assert before[0] == (0,)
    again = run(["demo", "--port", str(busy_port)], tmp_path, METERDESK_DEMO_PASSWORD="another-pass-890")
    assert again.returncode != 0
    assert "another-pass-890" not in again.stdout
    assert [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() for table in tables] == before


def test_serve_on_a_busy_port_says_so(tmp_path, busy_port):
    result = run(["serve", "--port", str(busy_port)], tmp_path)
    assert result.returncode != 0
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.stderr
    assert f"meterdesk serve --port {busy_port + 1}" in result.stderr
