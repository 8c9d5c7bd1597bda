"""Fiscal receipts under 54-FZ: what each payment sends the provider, the sandbox's check of it, and
a malformed receipt refused with a clear error."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from meterdesk.payments import providers
from meterdesk.payments.models import EventKind, Payment, PaymentEvent, SandboxPayment
from meterdesk.payments.receipts import receipt_build, receipt_problems
from meterdesk.payments.services import ProviderUnavailable
from meterdesk.payments.tests.conftest import in_language, start

KEY = "3d0b0c64-8a6c-4d51-8f0e-2b1f7c9a4e10"


def _good() -> dict:
    return receipt_build(email="anna@example.com", items=[("1234567890", Decimal("1000.00"))])


def test_the_receipt_has_what_yookassa_expects(settings):
    settings.METERDESK_RECEIPT_VAT_CODE = 4
    settings.METERDESK_RECEIPT_ITEM = "Электроснабжение по л/с {account}"
    settings.METERDESK_RECEIPT_TAX_SYSTEM = 1
    receipt = receipt_build(
        email="anna@example.com", items=[("1234567890", Decimal("700.10")), ("1234567891", Decimal("300"))]
    )
    assert receipt == {
        "customer": {"email": "anna@example.com"},
        "items": [
            {
                "description": "Электроснабжение по л/с 1234567890",
                "quantity": "1.00",
                "amount": {"value": "700.10", "currency": "RUB"},
                "vat_code": 4,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            },
            {
                "description": "Электроснабжение по л/с 1234567891",
                "quantity": "1.00",
                "amount": {"value": "300.00", "currency": "RUB"},
                "vat_code": 4,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            },
        ],
        "tax_system_code": 1,
    }
    assert receipt_problems(receipt, Decimal("1000.10")) == []


def _broken(change) -> dict:
    receipt = copy.deepcopy(_good())
    change(receipt)
    return receipt


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("customer"), "receipt.customer: an e-mail or a phone number is required"),
        (lambda r: r["customer"].update(email="not-an-address"), "receipt.customer"),
        (lambda r: r.update(items=[]), "receipt.items: at least one item is required"),
        (lambda r: r["items"][0].pop("description"), "receipt.items[0].description: required"),
        (lambda r: r["items"][0].update(description="x" * 129), "at most 128 characters"),
        (lambda r: r["items"][0].update(quantity="0"), "receipt.items[0].quantity"),
        (lambda r: r["items"][0]["amount"].update(value="10.005"), "receipt.items[0].amount.value"),
        (lambda r: r["items"][0]["amount"].update(currency="USD"), "amount.currency: must be RUB"),
        (lambda r: r["items"][0].update(vat_code=13), "receipt.items[0].vat_code: one of 1..12"),
        (lambda r: r["items"][0].update(vat_code="4"), "receipt.items[0].vat_code"),
        (lambda r: r["items"][0].update(payment_mode="full"), "receipt.items[0].payment_mode: unknown"),
        (lambda r: r["items"][0].update(payment_subject="energy"), "payment_subject: unknown value 'energy'"),
        (lambda r: r.update(tax_system_code=7), "receipt.tax_system_code: one of 1..6"),
        (
            lambda r: r["items"][0]["amount"].update(value="999.99"),
            "the items add up to 999.99, the payment is 1000.00",
        ),
    ],
)
def test_a_malformed_receipt_is_named_by_its_first_problem(change, problem):
    problems = receipt_problems(_broken(change), Decimal("1000.00"))
    assert problems and problem in problems[0]


def test_no_receipt_at_all_is_a_problem_for_a_shop_that_sends_them():
    assert receipt_problems(None, Decimal("10.00")) == [
        "receipt: required (the shop sends receipts under 54-FZ)"
    ]


@pytest.mark.django_db
def test_every_sandbox_payment_carries_its_receipt(web, debtor):
    user, account = debtor
    response = web.post(f"/payments/accounts/{account.number}/pay/", {"amount": "1000", "key": KEY})
    assert response.status_code == 302
    sandbox = SandboxPayment.objects.get()
    assert sandbox.receipt["customer"] == {"email": user.email}
    assert sandbox.receipt["items"][0]["amount"] == {"value": "1000.00", "currency": "RUB"}
    assert Payment.objects.get().receipt == sandbox.receipt  # kept as sent, so a retry sends the same


@pytest.mark.django_db
def test_the_sandbox_refuses_a_malformed_receipt_with_a_clear_error(web, debtor, settings):
    user, account = debtor
    settings.METERDESK_RECEIPT_ITEM = "x" * 200 + "{account}"  # cut to 128: still well formed
    ok = start(user, account, key="k1")
    assert ok.provider_payment_id
    # A receipt that does not add up to the payment: the sandbox answers as YooKassa does, 400.
    settings.METERDESK_RECEIPT_VAT_CODE = 99
    with pytest.raises(ProviderUnavailable) as caught:
        start(user, account, "20.00", key="k2")
    error = caught.value.error
    assert isinstance(error, providers.ProviderRejected) and not error.retryable
    assert "receipt.items[0].vat_code: one of 1..12" in str(error)
    failed = PaymentEvent.objects.get(kind=EventKind.CREATE_FAILED)
    assert "vat_code" in failed.detail
    assert SandboxPayment.objects.count() == 1  # nothing was started for the refused one


@pytest.mark.django_db
def test_the_pay_page_says_the_service_refused_and_nothing_was_charged(web, debtor, settings):
    settings.METERDESK_RECEIPT_VAT_CODE = 0
    account = debtor[1]
    in_language(web, "en")
    response = web.post(f"/payments/accounts/{account.number}/pay/", {"amount": "10", "key": KEY})
    assert response.status_code == 502
    assert "The payment service refused this payment. Nothing has been charged." in response.content.decode()
    assert not SandboxPayment.objects.exists()
