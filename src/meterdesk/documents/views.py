"""Downloads of documents (PDF): the monthly bill, payment receipts, reading confirmations; and the
page where a customer opts in to bills by e-mail. Thin: look up (only among the accounts linked
to the login: anything else is 404), render, answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from meterdesk.customers.models import User
from meterdesk.documents.render import (
    bill_filename,
    bill_pdf,
    confirmation_filename,
    confirmation_pdf,
    receipt_filename,
    receipt_pdf,
)
from meterdesk.documents.selectors import (
    bill_for_user,
    ebill_subscribed,
    payment_for_user,
    reading_for_user,
)
from meterdesk.documents.services import ebill_subscribe, ebill_unsubscribe
from meterdesk.domain.periods import month_parse
from meterdesk.metering.selectors import accounts_for_user

T = TypeVar("T")


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """A PDF to save (``Content-Disposition: attachment``), never cached by a shared cache."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def period_parse(text: str) -> date | None:
    """``YYYY-MM`` as the first day of the month; None when it is not a month."""
    try:
        return month_parse(text)
    except ValueError:
        return None


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _download(found: T | None, pdf: Callable[[T], bytes], filename: Callable[[T], str]) -> HttpResponse:
    """The document of ``found`` to save; 404 if nothing was found (for this login)."""
    if found is None:
        raise Http404
    return pdf_response(pdf(found), filename(found))


@login_required
def bill(request: HttpRequest, number: str, period: str) -> HttpResponse:
    month = period_parse(period)
    data = bill_for_user(_user(request), number, month) if month is not None else None
    return _download(data, bill_pdf, lambda found: bill_filename(number, found.period))


@login_required
def receipt(request: HttpRequest, entry_id: int) -> HttpResponse:
    return _download(payment_for_user(_user(request), entry_id), receipt_pdf, receipt_filename)


@login_required
def reading_confirmation(request: HttpRequest, confirmation: str) -> HttpResponse:
    return _download(reading_for_user(_user(request), confirmation), confirmation_pdf, confirmation_filename)


@login_required
@require_http_methods(["GET", "POST"])
def ebill(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    account = get_object_or_404(accounts_for_user(user), number=number)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "subscribe":
            ebill_subscribe(user=user, account=account)
            messages.success(
                request, _("Done: the bill of this account will come to %(email)s.") % {"email": user.email}
            )
        elif action == "unsubscribe":
            ebill_unsubscribe(user=user, account=account)
            messages.success(request, _("Done: the bill of this account will come on paper again."))
        else:
            return HttpResponse(status=400)
        return redirect("documents:ebill", number=account.number)
    return render(
        request, "documents/ebill.html", {"account": account, "subscription": ebill_subscribed(user, account)}
    )
