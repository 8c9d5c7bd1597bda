"""The autopayment page of an account: whether it is on, with which card, the bills it paid or will
pay; turning it on with a card saved before (with the consent), stopping it (one click, here or
beside the account on the dashboard), and removing a saved card."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from meterdesk.payments.autopay import (
    autopay_of,
    autopay_off,
    autopay_on,
    consent_words,
    saved_card_forget,
    saved_cards_of,
)
from meterdesk.payments.forms import AutopayOnForm
from meterdesk.payments.models import AutopayCharge, PaymentChannel, SavedCard
from meterdesk.payments.views import _account, _user


@login_required
@require_http_methods(["GET", "POST"])
def autopay(request: HttpRequest, number: str) -> HttpResponse:
    account = _account(request, number)
    user = _user(request)
    cards = saved_cards_of(user)
    form = AutopayOnForm(cards=cards)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "off":
            if autopay_off(account=account, user=user) is not None:
                messages.success(
                    request, _("Autopayment of account %(number)s is stopped.") % {"number": number}
                )
            back = request.POST.get("next", "")
            if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                return redirect(back)
            return redirect("payments:autopay", number)
        if action == "forget":
            card_id = request.POST.get("card", "")
            try:
                card = saved_card_forget(user=user, card_id=int(card_id) if card_id.isdigit() else 0)
            except SavedCard.DoesNotExist:
                messages.error(request, _("That card is not among your saved cards."))
            else:
                messages.success(
                    request,
                    _("The card %(card)s is removed: it will not be charged again.") % {"card": card.masked},
                )
            return redirect("payments:autopay", number)
        if action == "on":
            form = AutopayOnForm(request.POST, cards=cards)
            if form.is_valid():
                autopay_on(
                    account=account,
                    user=user,
                    card=form.cleaned_data["card"],
                    consent_text=consent_words([account.number]),
                    channel=PaymentChannel.WEB,
                )
                messages.success(request, _("Autopayment of account %(number)s is on.") % {"number": number})
                return redirect("payments:autopay", number)
            status = 422
    current = autopay_of(account)
    charges = AutopayCharge.objects.filter(account=account).order_by("-period")[:12]
    return render(
        request,
        "payments/autopay.html",
        {
            "account": account,
            "autopay": current,
            "charges": charges,
            "cards": cards,
            "form": form,
            "consent": consent_words([account.number]),
        },
        status=status,
    )
