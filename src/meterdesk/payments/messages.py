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
