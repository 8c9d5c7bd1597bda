"""The words of a payment's result on its page: a card the bank declined says "declined", and why
when the provider says so; a payment the customer left unfinished says "cancelled"."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()

#: The provider's reasons (YooKassa's cancellation_details.reason) that mean the card's bank or the
#: payment network refused it, with what the customer can do; any other reason is a cancellation.
DECLINED = {
    "insufficient_funds": lambda: _("There is not enough money on the card."),
    "card_expired": lambda: _("The card has expired."),
    "invalid_card_number": lambda: _("The card number is wrong."),
    "invalid_csc": lambda: _("The card's security code (CVC) is wrong."),
    "3d_secure_failed": lambda: _("The confirmation code from the bank was not entered or was wrong."),
    "call_issuer": lambda: _("The bank asks you to call it: its number is on the back of the card."),
    "fraud_suspected": lambda: _("The bank suspected fraud: call the bank."),
    "payment_method_limit_exceeded": lambda: _("The card's limit for payments has been reached."),
    "payment_method_restricted": lambda: _("Payments from this card are restricted by its bank."),
    "country_forbidden": lambda: _("The card's bank does not allow this payment."),
    "issuer_unavailable": lambda: _("The card's bank did not answer."),
    "general_decline": lambda: "",
    "permission_revoked": lambda: _("The permission to charge this card was withdrawn."),
}


@register.simple_tag
def payment_declined(reason: str) -> bool:
    """Whether a cancelled payment's ``reason`` is a refusal by the card's bank."""
    return reason in DECLINED


@register.simple_tag
def declined_reason(reason: str) -> str:
    """Why the bank declined, in a sentence ("" when it did not say)."""
    words = DECLINED.get(reason)
    return words() if words is not None else ""
