"""Fixtures of the card payment tests: a customer with a debt, and a stand-in for YooKassa."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.payments.models import Payment
from meterdesk.payments.services import payment_start
from meterdesk.payments.tests.yookassa_standin import StandIn


@pytest.fixture(autouse=True)
def _payments_defaults(settings):
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"
    settings.METERDESK_PAYMENT_MAX = "500000"
    settings.METERDESK_SANDBOX_BANK_DELAY = 60
    settings.METERDESK_RECEIPT_VAT_CODE = 11
    settings.METERDESK_RECEIPT_TAX_SYSTEM = None
    settings.METERDESK_RECEIPT_ITEM = "Электроэнергия, лицевой счёт {account}"
    settings.METERDESK_AUTOPAY_NOTICE_DAYS = 3
    settings.METERDESK_AUTOPAY_ATTEMPTS = 3
    yield
    translation.deactivate()


def in_language(client, code: str) -> None:
    """The browser chose ``code`` (the cookie the header's switch sets): the pages are in it, for
    a login too (whose profile's language counts only while the browser has chosen none)."""
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = code


def start(user, account=None, amount: str = "10.00", key: str = "k", **options: Any) -> Payment:
    """``payment_start`` as a test calls it: ``account`` and ``amount`` (or ``shares=``), the key
    ``key``, back to "/"."""
    if account is not None:
        options.update(account=account, amount=Decimal(amount))
    return payment_start(key_scope="t", key=key, return_url=lambda payment: "/", user=user, **options)


def charge(account, amount: str, period: date = date(2026, 10, 1)) -> LedgerEntry:
    return LedgerEntry.objects.create(
        account=account,
        period=period,
        posted_on=period,
        kind=EntryKind.CHARGE,
        basis="actual",
        amount=Decimal(amount),
    )


@pytest.fixture
def debtor(customer):
    """Anna, whose account owes 1 234,56 ₽."""
    user, meter = customer
    charge(meter.account, "1234.56")
    return user, meter.account


@pytest.fixture
def web(client, debtor):
    client.force_login(debtor[0])
    return client


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn(shop_id="123456", secret_key="test_secret")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def yookassa(settings, standin):
    """meterdesk configured for YooKassa, talking to the stand-in."""
    settings.METERDESK_PAYMENT_PROVIDER = "yookassa"
    settings.METERDESK_YOOKASSA_SHOP_ID = standin.shop_id
    settings.METERDESK_YOOKASSA_SECRET_KEY = standin.secret_key
    settings.METERDESK_YOOKASSA_API_URL = f"{standin.url}/v3"
    settings.METERDESK_YOOKASSA_TIMEOUT = 0.5
    return standin
