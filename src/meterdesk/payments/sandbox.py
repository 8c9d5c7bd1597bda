"""The sandbox provider's bank: test cards and what each one does, and its SBP "bank app".

Its decisions change only the sandbox's own store (``SandboxPayment``), as a real provider's bank
would; the sandbox then notifies meterdesk with YooKassa's notification payload, handled by the same
code as a real notification (which fetches the payment back through the provider interface).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from meterdesk.payments import providers
from meterdesk.payments.models import SandboxPayment


@dataclass(frozen=True)
class TestCard:
    number: str
    scheme: str
    outcome: str  # succeeded | insufficient_funds | late_bank | declines_later
    words: Promise


#: The documented test cards (listed on the sandbox page). Any other number that passes the Luhn
#: check and belongs to Visa, Mastercard or Mir succeeds too.
TEST_CARDS = (
    TestCard("4242424242424242", "Visa", "succeeded", _("the payment succeeds")),
    TestCard("5555555555554444", "Mastercard", "succeeded", _("the payment succeeds")),
    TestCard("2200000000000004", "Mir", "succeeded", _("the payment succeeds")),
    TestCard("4000000000009995", "Visa", "insufficient_funds", _("declined: insufficient funds")),
    TestCard(
        "4000000000000069",
        "Visa",
        "late_bank",
        _("the bank answers late: the payment waits for the bank, then succeeds without a notification"),
    ),
    TestCard(
        "4000000000000341",
        "Visa",
        "declines_later",
        _("the payment succeeds and the card can be saved, but every automatic payment from it is declined"),
    ),
)
_BY_NUMBER = {card.number: card for card in TEST_CARDS}


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_scheme(number: str) -> str:
    """Visa, Mastercard or Mir by the number's first digits; "" for any other."""
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "Mastercard"
    if 2200 <= int(number[:4] or 0) <= 2204:
        return "Mir"
    return ""


def card_outcome(number: str) -> str:
    card = _BY_NUMBER.get(number)
    return card.outcome if card is not None else "succeeded"


def expiry_ok(month: int, year: int, today: date) -> bool:
    return 1 <= month <= 12 and (year, month) >= (today.year, today.month)


def sandbox_notify(payment: SandboxPayment) -> None:
    """Tell meterdesk, as YooKassa does: the notification payload into the notification handler."""
    from meterdesk.payments.services import notification_handle

    event = {
        providers.SUCCEEDED: "payment.succeeded",
        providers.CANCELED: "payment.canceled",
        providers.WAITING_FOR_CAPTURE: "payment.waiting_for_capture",
    }.get(payment.status)
    if event is None:
        return
    notification_handle(
        provider_name=providers.SandboxProvider.name,
        body={"type": "notification", "event": event, "object": providers.sandbox_json(payment)},
    )


def sandbox_pay(*, sandbox_id: str, number: str) -> SandboxPayment:
    """The customer paid with this card on the sandbox page (the form checked the number)."""
    outcome = card_outcome(number)
    with transaction.atomic():
        payment = SandboxPayment.objects.select_for_update().get(pk=sandbox_id)
        if payment.status != providers.PENDING or payment.bank_due_at is not None:
            return payment  # decided already (a second click)
        payment.card_last4 = number[-4:]
        payment.card_type = card_scheme(number)
        if payment.save_method and outcome != "insufficient_funds":
            # Saved for later payments: an id to charge it by, and what such a charge will do.
            payment.method_id = f"sbx-pm-{secrets.token_hex(12)}"
            payment.later_outcome = "insufficient_funds" if outcome == "declines_later" else "succeeded"
        if outcome == "insufficient_funds":
            payment.status = providers.CANCELED
            payment.cancellation_reason = "insufficient_funds"
        elif outcome == "late_bank":
            payment.bank_due_at = timezone.now() + providers.sandbox_bank_delay()
        else:
            payment.status = providers.SUCCEEDED
            payment.paid = True
            payment.captured_at = timezone.now()
        payment.save()
    sandbox_notify(payment)
    return payment


def sandbox_sbp_answer(*, sandbox_id: str, pay: bool) -> SandboxPayment:
    """The customer confirmed (or declined) an SBP payment in "the bank's app" of the sandbox."""
    with transaction.atomic():
        payment = SandboxPayment.objects.select_for_update().get(pk=sandbox_id)
        if payment.status != providers.PENDING:
            return payment  # decided already (a second tap)
        if pay:
            payment.status = providers.SUCCEEDED
            payment.paid = True
            payment.captured_at = timezone.now()
        else:
            payment.status = providers.CANCELED
            payment.cancellation_reason = "insufficient_funds"
        payment.save()
    sandbox_notify(payment)
    return payment


def sandbox_cancel(*, sandbox_id: str) -> SandboxPayment:
    """The customer left the sandbox page with "Cancel"."""
    with transaction.atomic():
        payment = SandboxPayment.objects.select_for_update().get(pk=sandbox_id)
        if payment.status != providers.PENDING or payment.bank_due_at is not None:
            return payment
        payment.status = providers.CANCELED
        payment.cancellation_reason = "expired_on_confirmation"
        payment.save()
    sandbox_notify(payment)
    return payment
