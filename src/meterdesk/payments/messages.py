"""Sentences about card payments that several channels use (the pages and the API)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from meterdesk.billing.messages import money


def unavailable_text() -> str:
    return _(
        "The payment service is not answering right now. Nothing has been charged. "
        "Please try again in a minute: pressing “Pay” again is safe, it will not pay twice."
    )


def api_unavailable_text() -> str:
    return _(
        "The payment service is not answering right now. Nothing has been charged. "
        "Send the same request again in a minute with the same Idempotency-Key."
    )


def amount_text(low: Decimal, high: Decimal) -> str:
    return _("The amount must be from %(low)s to %(high)s, in whole kopecks.") % {
        "low": money(low),
        "high": money(high),
    }


def key_reused_text() -> str:
    return _("This Idempotency-Key was already used for a different payment. Use a new key.")


def state_words(state: str) -> str:
    """paid, waiting, cancelled, not_started in words."""
    return {
        "paid": _("paid"),
        "waiting": _("waiting for the bank"),
        "cancelled": _("cancelled"),
        "not_started": _("not started"),
    }.get(state, state)


def refused_text() -> str:
    """The provider refused the payment outright (its answer is logged for the utility)."""
    return _(
        "The payment service refused this payment. Nothing has been charged. "
        "The problem is on our side and has been recorded: please try again later or pay through your bank."
    )


def options_text() -> str:
    return _(
        "This payment cannot be made this way: autopayment is by card only, a QR code is for SBP only, "
        "and each account is paid once in a payment."
    )


def method_words(method: str) -> str:
    return {"bank_card": _("by card"), "sbp": _("by SBP")}.get(method, method)


def consent_required_text() -> str:
    return _("Autopayment needs the customer's consent: send consent: true with the card's id.")
