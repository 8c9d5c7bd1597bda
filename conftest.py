"""Fixtures for every test suite."""

from __future__ import annotations

import pytest

from meterdesk.testing import MeterFactory, UserFactory, link, make_tariff


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
