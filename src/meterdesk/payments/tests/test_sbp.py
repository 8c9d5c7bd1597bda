"""Paying by SBP (the Faster Payments System): by QR code on our page, by the link into the bank's
app, through the sandbox's simulated bank app; and what YooKassa is sent and answers."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import unquote

import pytest

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments.models import Payment, PaymentMethod, PaymentStatus, SandboxPayment
from meterdesk.payments.services import OptionsInvalid
from meterdesk.payments.tests.conftest import in_language, start

pytestmark = pytest.mark.django_db

KEY = "5a1d3c2e-7b44-4e0a-9c51-0d6f2a8b9e31"


def _pay_sbp(web, account, amount: str = "1234,56", **extra):
    return web.post(
        f"/payments/accounts/{account.number}/pay/", {"amount": amount, "key": KEY, "method": "sbp", **extra}
    )


def test_sbp_shows_a_qr_code_and_the_link_into_the_bank_app(web, debtor):
    account = debtor[1]
    response = _pay_sbp(web, account)
    payment = Payment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/payments/{payment.pk}/sbp/"
    assert payment.method == PaymentMethod.SBP and payment.confirmation_type == "qr"
    sandbox = SandboxPayment.objects.get()
    assert sandbox.request["payment_method_data"] == {"type": "sbp"}
    assert sandbox.request["confirmation"] == {"type": "qr"}

    page = web.get(response["Location"])
    html = page.content.decode()
    link = f"http://testserver/payments/sandbox/{sandbox.pk}/sbp/"
    assert page.context["link"] == link
    assert f'href="{link}"' in html and 'data-testid="sbp-link"' in html
    image = re.search(r'<img src="(data:image/svg\+xml[^"]+)"[^>]*alt="([^"]+)"', html)
    assert image, "the QR code is an image with a text alternative"
    assert "<svg" in unquote(image.group(1))
    assert f'data-poll="/payments/{payment.pk}/state/"' in html
    assert "/static/payments/sbp.js" in html


def test_paying_in_the_sandbox_bank_app_records_it_once_as_sbp(web, debtor, client):
    _user, account = debtor
    _pay_sbp(web, account, "1000")
    payment = Payment.objects.get()
    sandbox = SandboxPayment.objects.get()
    state = web.get(f"/payments/{payment.pk}/state/").json()
    assert state == {"state": "waiting", "final": False, "url": f"/payments/{payment.pk}/"}

    # The bank's app: no login (a phone), the unguessable link is the key.
    bank = client.get(f"/payments/sandbox/{sandbox.pk}/sbp/")
    assert bank.status_code == 200 and 'data-testid="sandbox-banner"' in bank.content.decode()
    paid = client.post(f"/payments/sandbox/{sandbox.pk}/sbp/", {"action": "pay"})
    assert 'data-status="succeeded"' in paid.content.decode()
    client.post(f"/payments/sandbox/{sandbox.pk}/sbp/", {"action": "pay"})  # a second tap: nothing more

    entry = LedgerEntry.objects.get(account=account, kind=EntryKind.PAYMENT)
    assert entry.amount == Decimal("-1000.00") and entry.reason == "sbp"
    assert entry.detail["method"] == "sbp"
    assert account_balance(account) == Decimal("234.56")
    assert web.get(f"/payments/{payment.pk}/state/").json()["final"] is True
    # The SBP page of a paid payment moves on to its result.
    assert web.get(f"/payments/{payment.pk}/sbp/")["Location"] == f"/payments/{payment.pk}/"
    in_language(web, "en")
    history = web.get(f"/payments/accounts/{account.number}/history/")
    assert [row.channel for row in history.context["rows"]] == ["by SBP"]
    status = web.get(f"/payments/{payment.pk}/").content.decode()
    assert "by SBP" in status


def test_declining_in_the_bank_app_cancels_it(web, debtor, client):
    account = debtor[1]
    _pay_sbp(web, account)
    sandbox = SandboxPayment.objects.get()
    client.post(f"/payments/sandbox/{sandbox.pk}/sbp/", {"action": "decline"})
    payment = Payment.objects.get()
    assert web.get(f"/payments/{payment.pk}/").context["state"] == "cancelled"
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()


def test_the_bank_app_page_is_for_sbp_payments_only(web, debtor, client):
    web.post(f"/payments/accounts/{debtor[1].number}/pay/", {"amount": "10", "key": KEY})  # by card
    sandbox = SandboxPayment.objects.get()
    assert client.get(f"/payments/sandbox/{sandbox.pk}/sbp/").status_code == 404


def test_sbp_by_redirect_goes_to_the_sandbox_page_with_the_qr_code(debtor, client):
    user, account = debtor
    payment = start(user, account, "50.00", method=PaymentMethod.SBP)
    assert payment.confirmation_url.startswith("/payments/sandbox/") and not payment.qr_data
    page = client.get(payment.confirmation_url).content.decode()
    sandbox = SandboxPayment.objects.get()
    assert f'href="http://testserver/payments/sandbox/{sandbox.pk}/sbp/"' in page
    assert 'src="data:image/svg+xml' in page


def test_autopayment_and_a_qr_code_need_the_right_method(web, debtor):
    user, account = debtor
    for options in ({"confirmation": "qr"}, {"method": "sbp", "save_card": True, "consent_text": "yes"}):
        with pytest.raises(OptionsInvalid):
            start(user, account, "5", **options)
    response = _pay_sbp(web, account, autopay="on")
    assert response.status_code == 422
    assert response.context["form"].errors["autopay"]
    assert not Payment.objects.exists()


def test_yookassa_is_asked_for_a_qr_code_and_its_link_is_shown(web, debtor, yookassa):
    account = debtor[1]
    response = _pay_sbp(web, account)
    payment = Payment.objects.get()
    (seen,) = yookassa.creates()
    assert seen.body["payment_method_data"] == {"type": "sbp"}
    assert seen.body["confirmation"] == {"type": "qr"}
    assert "save_payment_method" not in seen.body
    assert payment.qr_data.startswith("https://qr.nspk.ru/")
    page = web.get(response["Location"])
    assert page.context["link"] == payment.qr_data
    yookassa.succeed(payment.provider_payment_id)
    assert web.get(f"/payments/{payment.pk}/state/").json()["state"] == "paid"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert LedgerEntry.objects.get(kind=EntryKind.PAYMENT).reason == "sbp"
