"""The YooKassa implementation against a local stand-in server (a real HTTP server on 127.0.0.1):
the requests it sends, provider failures, and every way a notification can arrive."""

from __future__ import annotations

import base64
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments import providers
from meterdesk.payments.models import EventKind, Payment, PaymentEvent, PaymentStatus
from meterdesk.payments.services import (
    KeyReused,
    ProviderUnavailable,
    notification_handle,
    payment_start,
    payments_reconcile,
)
from meterdesk.payments.tests.conftest import in_language
from meterdesk.payments.tests.yookassa_standin import notification

pytestmark = pytest.mark.django_db

RETURN = "https://lk.example.ru/payments/return/"


def start(account, amount: str = "1234.56", key: str = "key-1", user=None) -> Payment:
    return payment_start(
        account=account,
        amount=Decimal(amount),
        key_scope="test",
        key=key,
        return_url=lambda payment: RETURN,
        user=user,
    )


def payment_entries():
    return LedgerEntry.objects.filter(kind=EntryKind.PAYMENT)


def notify(standin, event: str, payment_id: str | None):
    assert payment_id is not None
    return notification_handle(
        provider_name="yookassa", body=notification(event, standin.payments[payment_id])
    )


# --- the requests ---------------------------------------------------------------------------------


def test_create_sends_basic_auth_the_idempotence_key_and_the_body(yookassa, debtor):
    user, account = debtor
    payment = start(account, user=user)
    (seen,) = yookassa.creates()
    assert seen.path == "/v3/payments"
    assert seen.auth == "Basic " + base64.b64encode(b"123456:test_secret").decode()
    assert seen.idempotence_key == payment.idempotence_key
    assert seen.body == {
        "amount": {"value": "1234.56", "currency": "RUB"},
        "capture": True,
        "payment_method_data": {"type": "bank_card"},
        "confirmation": {"type": "redirect", "return_url": RETURN},
        "description": f"Оплата электроэнергии по лицевому счёту {account.number}",
        "metadata": {"payment_id": str(payment.pk), "account": account.number},
        # The fiscal receipt (54-FZ): the customer's e-mail and one item for the account.
        "receipt": {
            "customer": {"email": user.email},
            "items": [
                {
                    "description": f"Электроэнергия, лицевой счёт {account.number}",
                    "quantity": "1.00",
                    "amount": {"value": "1234.56", "currency": "RUB"},
                    "vat_code": 11,
                    "payment_mode": "full_payment",
                    "payment_subject": "service",
                }
            ],
        },
    }
    assert payment.status == PaymentStatus.PENDING
    assert payment.provider == "yookassa"
    assert payment.confirmation_url == f"{yookassa.url}/checkout/{payment.provider_payment_id}"


def test_the_same_key_is_one_payment_here_and_at_the_provider(yookassa, debtor):
    account = debtor[1]
    first = start(account)
    second = start(account)
    assert first.pk == second.pk
    assert len(yookassa.payments) == 1
    with pytest.raises(KeyReused):
        start(account, amount="10")


def test_wrong_credentials_are_a_rejection(yookassa, debtor, settings):
    settings.METERDESK_YOOKASSA_SECRET_KEY = "wrong"
    with pytest.raises(ProviderUnavailable) as caught:
        start(debtor[1])
    assert isinstance(caught.value.error, providers.ProviderRejected)


def test_fetch_reads_the_payment_and_404_is_not_found(yookassa, debtor):
    payment = start(debtor[1])
    provider = providers.provider_get("yookassa")
    remote = provider.fetch(payment.provider_payment_id or "")
    assert (remote.status, remote.amount, remote.currency) == ("pending", Decimal("1234.56"), "RUB")
    assert remote.metadata["payment_id"] == str(payment.pk)
    with pytest.raises(providers.RemoteNotFound):
        provider.fetch("2f000000-000f-5000-9000-000000000000")


# --- provider failures on create ------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["timeout", "500", "drop", "202"])
def test_a_failed_create_can_be_retried_with_the_same_key(yookassa, debtor, failure):
    account = debtor[1]
    yookassa.failures.append(failure)
    with pytest.raises(ProviderUnavailable) as caught:
        start(account)
    assert caught.value.error.retryable
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREATED and not payment.provider_payment_id
    assert PaymentEvent.objects.filter(kind=EventKind.CREATE_FAILED).count() == 1
    # The customer presses Pay again: the same key goes to the provider again.
    retried = start(account)
    assert retried.pk == payment.pk and retried.status == PaymentStatus.PENDING
    keys = {seen.idempotence_key for seen in yookassa.creates()}
    assert keys == {payment.idempotence_key}
    # A timed-out create that the provider did carry out is not a second payment there.
    assert len(yookassa.payments) == 1
    yookassa.succeed(retried.provider_payment_id)
    notify(yookassa, "payment.succeeded", retried.provider_payment_id)
    assert payment_entries().count() == 1


def test_connection_refused(settings, debtor):
    settings.METERDESK_PAYMENT_PROVIDER = "yookassa"
    settings.METERDESK_YOOKASSA_SHOP_ID = "1"
    settings.METERDESK_YOOKASSA_SECRET_KEY = "s"
    settings.METERDESK_YOOKASSA_API_URL = "http://127.0.0.1:9/v3"  # the discard port: nobody listens
    settings.METERDESK_YOOKASSA_TIMEOUT = 0.5
    with pytest.raises(ProviderUnavailable):
        start(debtor[1])
    assert Payment.objects.get().status == PaymentStatus.CREATED


def test_the_pay_page_says_try_again_when_the_provider_fails(yookassa, web, debtor):
    account = debtor[1]
    yookassa.failures.append("500")
    form = {"amount": "1234,56", "key": "5d2b8a8e-2f41-4d55-9d1e-1f6a3c9e7b21"}
    in_language(web, "en")
    response = web.post(f"/payments/accounts/{account.number}/pay/", form)
    assert response.status_code == 503
    assert "Nothing has been charged" in response.content.decode()
    assert response.context["form"].data["key"] == form["key"]  # the retry sends the same key
    again = web.post(f"/payments/accounts/{account.number}/pay/", form)
    payment = Payment.objects.get()
    assert again.status_code == 302 and again["Location"] == payment.confirmation_url


# --- notifications ----------------------------------------------------------------------------------


def test_a_notification_is_verified_by_fetching_back_and_recorded_once(yookassa, debtor):
    account = debtor[1]
    payment = start(account)
    yookassa.succeed(payment.provider_payment_id)
    results = [notify(yookassa, "payment.succeeded", payment.provider_payment_id) for _ in range(3)]
    assert [r.outcome for r in results] == ["recorded", "already_known", "already_known"]
    assert payment_entries().count() == 1
    entry = payment_entries().get()
    assert entry.external_id == f"card:yookassa:{payment.provider_payment_id}"
    assert entry.detail["card"] == "MasterCard *4444"
    assert account_balance(account) == Decimal("0.00")
    assert PaymentEvent.objects.filter(kind=EventKind.NOTIFICATION).count() == 3  # all logged
    # Each notification made the stand-in answer a GET for the payment.
    gets = [s for s in yookassa.seen if s.method == "GET"]
    assert len(gets) >= 1 and all(s.path == f"/v3/payments/{payment.provider_payment_id}" for s in gets)


def test_a_forged_notification_is_not_believed(yookassa, debtor):
    payment = start(debtor[1])
    forged = dict(yookassa.payments[payment.provider_payment_id], status="succeeded", paid=True)
    result = notification_handle(provider_name="yookassa", body=notification("payment.succeeded", forged))
    assert result.outcome == "disagrees_with_provider"
    assert Payment.objects.get().status == PaymentStatus.PENDING
    assert not payment_entries().exists()


def test_a_notification_for_a_payment_the_provider_does_not_know(yookassa, debtor, client):
    start(debtor[1])
    body = notification(
        "payment.succeeded",
        {
            "id": "2f999999-000f-5000-9000-000000000000",
            "status": "succeeded",
            "amount": {"value": "1000000.00", "currency": "RUB"},
        },
    )
    response = client.post("/payments/notifications/yookassa/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["outcome"] == "forged_unknown_at_provider"
    assert not payment_entries().exists()


def test_a_notification_for_a_payment_that_is_not_ours(yookassa, debtor):
    # A payment that exists at the provider (another system of the shop), unknown to us.
    yookassa.payments["2f111111-000f-5000-9000-000000000000"] = {
        "id": "2f111111-000f-5000-9000-000000000000",
        "status": "succeeded",
        "paid": True,
        "amount": {"value": "10.00", "currency": "RUB"},
        "metadata": {},
    }
    result = notify(yookassa, "payment.succeeded", "2f111111-000f-5000-9000-000000000000")
    assert result.outcome == "unknown_payment" and result.http_status == 200
    assert not payment_entries().exists()


def test_malformed_notifications_are_refused_and_logged(yookassa, client):
    bodies: list[Any] = [
        {"type": "notification", "event": "refund.succeeded", "object": {"id": "x"}},
        {"x": 1},
        [],
    ]
    for body in bodies:
        response = client.post("/payments/notifications/yookassa/", body, content_type="application/json")
        assert response.status_code == 400
    response = client.post("/payments/notifications/yookassa/", b"\xff{", content_type="application/json")
    assert response.status_code == 400
    assert PaymentEvent.objects.filter(outcome="malformed").count() == 4
    assert (
        client.post("/payments/notifications/paypal/", {}, content_type="application/json").status_code == 404
    )


def test_the_provider_down_while_verifying_asks_to_be_notified_again(yookassa, debtor):
    payment = start(debtor[1])
    yookassa.succeed(payment.provider_payment_id)
    yookassa.failures.append("500")
    assert notify(yookassa, "payment.succeeded", payment.provider_payment_id).http_status == 503
    assert not payment_entries().exists()
    assert notify(yookassa, "payment.succeeded", payment.provider_payment_id).outcome == "recorded"


def test_an_amount_other_than_ours_is_not_recorded(yookassa, debtor):
    payment = start(debtor[1])
    yookassa.succeed(payment.provider_payment_id)
    yookassa.payments[payment.provider_payment_id]["amount"] = {"value": "1.00", "currency": "RUB"}
    assert notify(yookassa, "payment.succeeded", payment.provider_payment_id).outcome == "amount_mismatch"
    assert not payment_entries().exists()


def test_a_cancellation(yookassa, debtor):
    payment = start(debtor[1])
    yookassa.cancel(payment.provider_payment_id)
    assert notify(yookassa, "payment.canceled", payment.provider_payment_id).outcome == "changed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED and payment.cancellation_reason == "insufficient_funds"
    assert not payment_entries().exists()


def test_notification_before_and_after_the_return_page(yookassa, web, debtor):
    user, account = debtor
    payment = start(account, user=user)
    yookassa.succeed(payment.provider_payment_id)
    # The customer is back before the notification: the page asks the provider itself.
    page = web.get(f"/payments/{payment.pk}/")
    assert page.context["state"] == "paid"
    assert notify(yookassa, "payment.succeeded", payment.provider_payment_id).outcome == "already_known"
    # And the other way round, for a second payment.
    second = start(account, amount="100", key="key-2", user=user)
    yookassa.succeed(second.provider_payment_id)
    assert notify(yookassa, "payment.succeeded", second.provider_payment_id).outcome == "recorded"
    assert web.get(f"/payments/{second.pk}/").context["state"] == "paid"
    assert payment_entries().count() == 2
    assert account_balance(account) == Decimal("-100.00")


def test_closed_page_then_reconcile_then_a_late_notification(yookassa, debtor):
    payment = start(debtor[1])
    assert payments_reconcile().waiting == 1
    yookassa.succeed(payment.provider_payment_id)  # the customer closed the page; the bank confirmed
    summary = payments_reconcile()
    assert (summary.checked, summary.paid, summary.recorded) == (1, 1, 1)
    assert payments_reconcile().checked == 0
    assert notify(yookassa, "payment.succeeded", payment.provider_payment_id).outcome == "already_known"
    assert payment_entries().count() == 1


def test_reconcile_counts_provider_errors_and_older_than(yookassa, debtor):
    from datetime import timedelta

    payment = start(debtor[1])
    assert payments_reconcile(older_than=timedelta(minutes=10)).checked == 0
    yookassa.failures.append("timeout")
    assert payments_reconcile().errors == 1
    yookassa.succeed(payment.provider_payment_id)
    assert payments_reconcile().recorded == 1


def test_a_create_whose_answer_was_lost_is_found_by_its_metadata(yookassa, debtor):
    account = debtor[1]
    yookassa.failures.append("timeout")  # the stand-in creates the payment, the answer comes too late
    with pytest.raises(ProviderUnavailable):
        start(account)
    yookassa.wait_for_payments(1)
    (remote_id,) = yookassa.payments
    yookassa.succeed(remote_id)  # e.g. a provider that decided at once
    assert notify(yookassa, "payment.succeeded", remote_id).outcome == "recorded"
    assert Payment.objects.get().provider_payment_id == remote_id
    assert payment_entries().count() == 1


def test_the_cli_reconcile_prints_a_summary(yookassa, debtor):
    from click.testing import CliRunner

    from meterdesk.cli import main

    payment = start(debtor[1])
    yookassa.succeed(payment.provider_payment_id)
    result = CliRunner().invoke(main, ["payments", "reconcile", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert "paid:                 1 (recorded in the ledger now: 1)" in result.output
    again = CliRunner().invoke(main, ["payments", "reconcile"])
    assert "Card payments checked:  0" in again.output
    assert payment_entries().count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_notifications_record_once(yookassa, debtor):
    payment = start(debtor[1])
    yookassa.succeed(payment.provider_payment_id)
    body = notification("payment.succeeded", yookassa.payments[payment.provider_payment_id])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            outcomes.append(notification_handle(provider_name="yookassa", body=body).outcome)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(outcomes) == ["already_known"] * 3 + ["recorded"]
    assert payment_entries().count() == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_the_return_page_says_waiting_when_the_provider_cannot_be_asked(yookassa, web, debtor):
    user, account = debtor
    payment = start(account, user=user)
    yookassa.succeed(payment.provider_payment_id or "")
    yookassa.failures.append("500")
    page = web.get(f"/payments/{payment.pk}/")
    assert page.status_code == 200 and page.context["state"] == "waiting"
    assert not payment_entries().exists()
    assert web.get(f"/payments/{payment.pk}/").context["state"] == "paid"  # asked again: recorded
    assert payment_entries().count() == 1
