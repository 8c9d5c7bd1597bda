"""Services in the personal account: the catalogue with prices, the order of one for one of the
login's accounts, and the requests of the login's accounts with their statuses (no one else's)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from meterdesk.customers.models import User
from meterdesk.metering.selectors import accounts_for_user
from meterdesk.orders.forms import OrderForm
from meterdesk.orders.messages import order_message
from meterdesk.orders.models import Channel, ServiceRequest
from meterdesk.orders.selectors import (
    request_of_login,
    requests_of_login,
    service_catalogue,
    service_current,
)
from meterdesk.orders.services import OrderError, request_cancel, request_order
from meterdesk.utility.selectors import utility_now


def _login(request: HttpRequest) -> User:
    return cast(User, request.user)


@login_required
def services(request: HttpRequest) -> HttpResponse:
    language = get_language()
    catalogue = [
        {"service": s, "name": s.name(language), "description": s.description(language)}
        for s in service_catalogue(utility_now().date())
    ]
    rows = [
        {"request": r, "name": r.service.name(language)} for r in requests_of_login(_login(request))[:100]
    ]
    return render(request, "orders/services.html", {"catalogue": catalogue, "rows": rows})


_FIELD = {"day_invalid": "preferred_on", "comment_too_long": "comment", "comment_invalid": "comment"}


@login_required
@require_http_methods(["GET", "POST"])
def order(request: HttpRequest, code: str) -> HttpResponse:
    user = _login(request)
    service = service_current(code, utility_now().date())
    if service is None:
        raise Http404
    form = OrderForm(request.POST or None, accounts=accounts_for_user(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = request_order(
                account=data["account"],
                service_code=code,
                channel=Channel.WEB,
                user=user,
                preferred_on=data["preferred_on"],
                comment=data["comment"],
            )
        except OrderError as error:
            form.add_error(_FIELD.get(error.code), ValidationError(order_message(error), code=error.code))
        else:
            messages.success(
                request,
                _("Request %(number)s is accepted. We will agree the day and time with you.")
                % {"number": made.number},
            )
            return redirect("orders:services")
    language = get_language()
    context = {
        "form": form,
        "service": service,
        "name": service.name(language),
        "description": service.description(language),
    }
    return render(request, "orders/order.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["POST"])
def cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    """Withdraw one of the login's own requests (any other is 404)."""
    try:
        made = request_of_login(_login(request), request_id)
    except ServiceRequest.DoesNotExist:
        raise Http404 from None
    try:
        request_cancel(user=_login(request), request=made, reason=request.POST.get("reason", ""))
    except OrderError as error:
        messages.error(request, order_message(error))
    else:
        messages.success(request, _("Request %(number)s is cancelled.") % {"number": made.number})
    return redirect("orders:services")
