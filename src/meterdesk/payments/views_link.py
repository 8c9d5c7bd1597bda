"""The page of a payment link (``links.py``): pay one account without logging in, then its result.

It shows the account's number, its street and the amount due — nothing more of the account — and
pays by card or by SBP through the provider, as the personal account does. The result page is
reached only with the link's code and the payment's id together.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from meterdesk.billing.messages import balance_words
from meterdesk.billing.selectors import account_balance
from meterdesk.payments import providers
from meterdesk.payments.forms import PayForm, new_key
from meterdesk.payments.links import PayLinkGone, pay_link_open
from meterdesk.payments.messages import options_text, refused_text, unavailable_text
from meterdesk.payments.models import Confirmation, Payment, PaymentChannel, PaymentMethod
from meterdesk.payments.selectors import customer_state
from meterdesk.payments.services import (
    AmountInvalid,
    AmountMismatch,
    KeyReused,
    OptionsInvalid,
    ProviderUnavailable,
    payment_settle,
    payment_start,
)

log = logging.getLogger(__name__)


def _street(address: str) -> str:
    """The address up to the house (``г. Москва, ул. Ленина, д. 5``): not the flat."""
    parts = [part.strip() for part in address.split(",")]
    kept = [part for part in parts if not part.lower().startswith(("кв", "flat", "apt"))]
    return ", ".join(kept)


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/link_gone.html", status=410)


@require_http_methods(["GET", "POST"])
def link_pay(request: HttpRequest, code: str) -> HttpResponse:
    try:
        link = pay_link_open(code)
    except PayLinkGone:
        return _gone(request)
    account = link.account
    balance = account_balance(account)
    status = 200
    if request.method == "POST":
        form = PayForm(request.POST)
        del form.fields["autopay"]
        if form.is_valid():
            method = form.cleaned_data["method"]
            try:
                payment = payment_start(
                    shares=form.shares_of(account),
                    key_scope=f"link:{link.code}",
                    key=form.cleaned_data["key"],
                    return_url=lambda p: request.build_absolute_uri(
                        reverse("payments:link_status", args=[link.code, p.pk])
                    ),
                    channel=PaymentChannel.LINK,
                    method=method,
                    confirmation=Confirmation.REDIRECT,
                    receipt_phone=link.phone,
                )
            except ProviderUnavailable as error:
                form.add_error(None, unavailable_text() if error.error.retryable else refused_text())
                status = 503 if error.error.retryable else 502
            except KeyReused:
                form.add_error(None, _("The form has expired: please fill it in again."))
                status = 409
            except (AmountInvalid, OptionsInvalid):  # pragma: no cover - the form checks the same rules
                form.add_error(None, options_text())
                status = 422
            else:
                if payment.final or not payment.confirmation_url:
                    return redirect("payments:link_status", link.code, payment.pk)
                return redirect(request.build_absolute_uri(payment.confirmation_url))
        else:
            status = 422
    else:
        amount = f"{balance:.2f}".replace(".", ",") if balance > 0 else ""
        form = PayForm(initial={"key": new_key(), "method": PaymentMethod.CARD.value, "amount": amount})
        del form.fields["autopay"]
    return render(
        request,
        "payments/link.html",
        {
            "link": link,
            "account": account,
            "street": _street(account.address),
            "balance": balance,
            "balance_text": balance_words(balance),
            "form": form,
        },
        status=status,
    )


@require_GET
def link_status(request: HttpRequest, code: str, payment_id: int) -> HttpResponse:
    try:
        link = pay_link_open(code)
    except PayLinkGone:
        return _gone(request)
    # A payment by a link of this account made after this link was (the id alone shows nothing).
    payment = Payment.objects.filter(
        pk=payment_id, channel=PaymentChannel.LINK, account=link.account, created_at__gte=link.created_at
    ).first()
    if payment is None:
        raise Http404
    if not payment.final and payment.provider_payment_id:
        try:
            payment = payment_settle(payment=payment, source="return page").payment
        except (providers.ProviderError, providers.RemoteNotFound, AmountMismatch) as error:
            log.warning("payment %s: could not check it on return: %s", payment.pk, error)
    return render(
        request,
        "payments/link_status.html",
        {
            "link": link,
            "payment": payment,
            "account": link.account,
            "street": _street(link.account.address),
            "state": customer_state(payment),
        },
    )
