"""The result page of a payment says what happened in plain words: a success looks like one, a
card the bank declined says "declined" (and why, when the provider says), a payment left
unfinished says "cancelled"."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import translation

from meterdesk.payments.models import Payment
from meterdesk.payments.templatetags.payment_words import DECLINED, declined_reason, payment_declined

pytestmark = pytest.mark.django_db

CARD = {"number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123", "holder": "ANNA PETROVA"}


def _pay(web, account, number: str, action: str = "pay") -> str:
    """Start a payment, answer the sandbox's card page; the result page's HTML."""
    start = web.post(
        f"/payments/accounts/{account.number}/pay/", {"amount": "100,00", "key": str(uuid.uuid4())}
    )
    assert start.status_code == 302, start.content.decode()[:300]
    sandbox = re.search(r"/payments/sandbox/sbx-[0-9a-f]{24}/$", start["Location"])
    assert sandbox, start["Location"]
    back = web.post(sandbox.group(0), {**CARD, "number": number, "action": action})
    page = web.get(back["Location"])
    assert page.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())


def test_a_card_without_money_is_declined_and_says_why(web, debtor):
    web.cookies["django_language"] = "en"
    text = _pay(web, debtor[1], "4000 0000 0000 9995")
    assert (
        "Declined. The bank declined the payment; no money has been taken. There is not enough money on the card."
        in text
    )
    assert "Cancelled." not in text


def test_in_russian(web, debtor):
    text = _pay(web, debtor[1], "4000 0000 0000 9995")
    assert "Отклонено. Банк отклонил платёж; деньги не списаны. На карте недостаточно средств." in text


def test_a_payment_left_unfinished_is_cancelled_not_declined(web, debtor):
    web.cookies["django_language"] = "en"
    text = _pay(web, debtor[1], CARD["number"], action="cancel")
    assert "Cancelled. The payment was not made; no money has been taken." in text
    assert "Declined" not in text
    assert Payment.objects.get().cancellation_reason not in DECLINED


def test_a_paid_payment_is_marked_as_a_success(web, debtor):
    web.cookies["django_language"] = "en"
    start = web.post(
        f"/payments/accounts/{debtor[1].number}/pay/", {"amount": "100,00", "key": str(uuid.uuid4())}
    )
    sandbox = re.search(r"/payments/sandbox/sbx-[0-9a-f]{24}/$", start["Location"])
    assert sandbox
    back = web.post(sandbox.group(0), {**CARD, "action": "pay"})
    html = web.get(back["Location"]).content.decode()
    # The green box of site.css (.payment-state.paid), with its tick.
    assert re.search(r'class="notice payment-state paid"', html)


def test_the_reasons_the_bank_gives():
    with translation.override("en"):
        assert declined_reason("card_expired") == "The card has expired."
    assert payment_declined("card_expired")
    assert payment_declined("general_decline") and declined_reason("general_decline") == ""
    assert (
        not payment_declined("expired_on_confirmation") and declined_reason("expired_on_confirmation") == ""
    )
