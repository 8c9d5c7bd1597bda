"""Paying several accounts in one payment (a flat and a dacha): one provider payment, one ledger
entry per account with its amount, each with its receipt; all or nothing; once however often the
news arrives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterdesk.billing import services as billing_services
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments.models import Payment, PaymentStatus, SandboxPayment
from meterdesk.payments.services import (
    AmountInvalid,
    OptionsInvalid,
    Share,
    notification_handle,
    payments_reconcile,
)
from meterdesk.payments.tests.conftest import charge, start
from meterdesk.payments.tests.test_sandbox_flow import CARD
from meterdesk.payments.tests.yookassa_standin import notification
from meterdesk.testing import MeterFactory, link

pytestmark = pytest.mark.django_db

KEY = "9e4f6a0b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def dacha(debtor):
    """Anna's second account, a dacha owing 800 ₽."""
    account = MeterFactory(zones=1).account
    link(debtor[0], account)
    charge(account, "800.00")
    return account


def _pay_both(web, flat, dacha, flat_amount="1234,56", dacha_amount="800,01"):
    return web.post(
        f"/payments/accounts/{flat.number}/pay/",
        {
            "amount": flat_amount,
            "key": KEY,
            f"also_{dacha.number}": "on",
            f"amount_{dacha.number}": dacha_amount,
        },
    )


def test_the_pay_page_offers_the_other_accounts_with_their_debts(web, debtor, dacha):
    page = web.get(f"/payments/accounts/{debtor[1].number}/pay/")
    html = page.content.decode()
    assert f'name="also_{dacha.number}"' in html
    assert f'name="amount_{dacha.number}"' in html and 'value="800,00"' in html
    assert 'data-testid="other-accounts"' in html


def test_one_payment_pays_both_accounts_split_exactly(web, debtor, dacha):
    flat = debtor[1]
    response = _pay_both(web, flat, dacha)
    sandbox = SandboxPayment.objects.get()
    assert sandbox.amount == Decimal("2034.57")  # one provider payment for both
    # One receipt item per account, adding up to the payment.
    items = [(i["description"], i["amount"]["value"]) for i in sandbox.receipt["items"]]
    assert items == [
        (f"Электроэнергия, лицевой счёт {flat.number}", "1234.56"),
        (f"Электроэнергия, лицевой счёт {dacha.number}", "800.01"),
    ]
    assert sandbox.metadata["accounts"] == f"{flat.number},{dacha.number}"
    web.post(response["Location"].replace("http://testserver", ""), {**CARD, "action": "pay"})

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    entries = {e.account_id: e for e in LedgerEntry.objects.filter(kind=EntryKind.PAYMENT)}
    assert entries[flat.pk].amount == Decimal("-1234.56")
    assert entries[dacha.pk].amount == Decimal("-800.01")
    assert sum(-e.amount for e in entries.values()) == payment.amount  # the kopecks add up
    assert entries[flat.pk].external_id == f"card:sandbox:{sandbox.pk}:{flat.number}"
    assert entries[dacha.pk].external_id == f"card:sandbox:{sandbox.pk}:{dacha.number}"
    assert account_balance(flat) == Decimal("0.00") and account_balance(dacha) == Decimal("-0.01")
    parts = list(payment.parts.all())
    assert [p.entry_id for p in parts] == [entries[flat.pk].pk, entries[dacha.pk].pk]

    # Each account's receipt: on the result page and in each account's history.
    page = web.get(f"/payments/{payment.pk}/").content.decode()
    for entry in entries.values():
        assert f'href="/documents/receipts/{entry.pk}.pdf"' in page
        assert web.get(f"/documents/receipts/{entry.pk}.pdf").status_code == 200
    dacha_history = web.get(f"/payments/accounts/{dacha.number}/history/")
    assert [row.entry.pk for row in dacha_history.context["rows"]] == [entries[dacha.pk].pk]


def test_the_same_news_again_and_again_gives_one_entry_per_account(web, debtor, dacha, client):
    flat = debtor[1]
    response = _pay_both(web, flat, dacha)
    web.post(response["Location"].replace("http://testserver", ""), {**CARD, "action": "pay"})
    payment = Payment.objects.get()
    sandbox = SandboxPayment.objects.get()
    body = notification("payment.succeeded", {"id": sandbox.pk, "status": "succeeded"})
    for _ in range(3):
        assert notification_handle(provider_name="sandbox", body=body).outcome == "already_known"
        web.get(f"/payments/{payment.pk}/")
    payments_reconcile()
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 2


def test_a_failure_posting_one_account_posts_none(web, debtor, dacha, monkeypatch):
    """All or nothing: the second account's entry fails, so the first is rolled back with it and
    the payment stays open, to be settled by the next notification or reconcile."""
    flat = debtor[1]
    response = _pay_both(web, flat, dacha)
    real = billing_services.payment_post
    calls = []

    def failing(**kwargs):
        calls.append(kwargs["account"].pk)
        if kwargs["account"].pk == dacha.pk:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr("meterdesk.payments.services.payment_post", failing)
    with pytest.raises(RuntimeError):
        web.post(response["Location"].replace("http://testserver", ""), {**CARD, "action": "pay"})
    assert calls == [flat.pk, dacha.pk]
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PENDING
    monkeypatch.setattr("meterdesk.payments.services.payment_post", real)
    summary = payments_reconcile()
    assert summary.recorded == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 2


def test_the_form_checks_each_amount_and_the_total(web, debtor, dacha, settings):
    flat = debtor[1]
    response = _pay_both(web, flat, dacha, dacha_amount="")
    assert response.status_code == 422 and f"amount_{dacha.number}" in response.context["form"].errors
    settings.METERDESK_PAYMENT_MAX = "2000"
    response = _pay_both(web, flat, dacha)
    assert response.status_code == 422
    assert response.context["form"].non_field_errors()
    # Unticked, the other account's amount is ignored.
    response = web.post(
        f"/payments/accounts/{flat.number}/pay/", {"amount": "10", "key": KEY, f"amount_{dacha.number}": "x"}
    )
    assert response.status_code == 302
    assert list(Payment.objects.get().parts.values_list("account_id", flat=True)) == [flat.pk]


def test_the_service_refuses_an_account_twice_and_amounts_out_of_bounds(debtor, dacha):
    user, flat = debtor

    with pytest.raises(OptionsInvalid):
        start(user, shares=[Share(flat, Decimal("10")), Share(flat, Decimal("5"))])
    with pytest.raises(AmountInvalid):
        start(user, shares=[Share(flat, Decimal("10")), Share(dacha, Decimal("0.50"))])
    with pytest.raises(AmountInvalid):
        start(user, shares=[Share(flat, Decimal("10")), Share(dacha, Decimal("1.001"))])
    assert not Payment.objects.exists()


def test_the_same_key_with_other_accounts_is_refused(web, debtor, dacha):
    flat = debtor[1]
    _pay_both(web, flat, dacha)
    again = web.post(f"/payments/accounts/{flat.number}/pay/", {"amount": "1234,56", "key": KEY})
    assert again.status_code == 409
    assert Payment.objects.count() == 1
