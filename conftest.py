"""Fixtures for every test suite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from meterdesk.testing import MeterFactory, UserFactory, free_port, link, make_tariff


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Mail goes to Django's outbox, and no test depends on the machine's environment."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.METERDESK_READING_WINDOW = None
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "billing"],
        }
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; Argon2 tested apart
    yield


@pytest.fixture
def customer(db):
    """A customer linked to one account with a two-zone meter and the Moscow two-zone tariff."""
    user = UserFactory(email="anna@example.com")
    meter = MeterFactory(zones=2)
    link(user, meter.account)
    make_tariff(prices=("9.45", "4.08"))
    return user, meter


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A private Redis server (no persistence) on a free port, for the tests of the shared cache;
    its URL. scripts/test.sh installs redis-server where it is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server; scripts/test.sh does it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(  # noqa: S603 - the binary found above, fixed arguments
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
