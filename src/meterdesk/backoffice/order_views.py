"""Service requests in the back office: the list with its filters, and a request's page where
staff schedule the visit (the household gets a notice) and record the outcome. Each change is
written to the audit by ``orders.services``; a paid service done is posted to the ledger once."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from meterdesk.backoffice.access import staff_action
from meterdesk.customers.models import User
from meterdesk.orders.messages import office_message, order_message
from meterdesk.orders.models import WINDOWS, ServiceRequest
from meterdesk.orders.office_forms import CloseForm, DoneForm, FilterForm, ScheduleForm
from meterdesk.orders.selectors import RequestFilter, requests_queue
from meterdesk.orders.services import (
    OrderError,
    request_close,
    request_done,
    request_schedule,
)


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)


def _request(request_id: int) -> ServiceRequest:
    try:
        return ServiceRequest.objects.select_related(
            "account", "service", "user", "scheduled_by", "entry"
        ).get(pk=request_id)
    except ServiceRequest.DoesNotExist as exc:
        raise Http404 from exc


@staff_action("service_requests")
def service_requests(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = RequestFilter(
        status=data.get("status", ""),
        day_from=data.get("day_from"),
        day_to=data.get("day_to"),
        number=(data.get("number") or "").strip(),
    )
    rows = list(requests_queue(filters)[:500])
    return render(request, "orders/office/list.html", {"rows": rows, "form": form})


def _page(
    request: HttpRequest,
    found: ServiceRequest,
    *,
    schedule: ScheduleForm | None = None,
    done: DoneForm | None = None,
    close: CloseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    initial = {"on": found.scheduled_on or found.preferred_on, "window": found.window or WINDOWS[0]}
    context = {
        "r": found,
        "name": found.service.name(get_language()),
        "schedule": schedule or ScheduleForm(initial=initial),
        "done": done or DoneForm(),
        "close": close or CloseForm(),
    }
    return render(request, "orders/office/request.html", context, status=status)


@staff_action("service_requests")
def service_request(request: HttpRequest, request_id: int) -> HttpResponse:
    return _page(request, _request(request_id))


def _refused(form: forms.Form, error: OrderError, field: str | None = None) -> None:
    form.add_error(
        field if error.code not in ("request_closed", "status_invalid") else None, order_message(error)
    )


@staff_action("service_requests")
@require_POST
def service_request_schedule(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _request(request_id)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            request_schedule(staff=_staff(request), request=found, on=data["on"], window=data["window"])
        except OrderError as error:
            _refused(form, error, "on" if error.code == "day_invalid" else None)
        else:
            messages.success(request, office_message("scheduled"))
            return redirect("backoffice:service_request", request_id=found.pk)
    return _page(request, found, schedule=form, status=400)


@staff_action("service_requests")
@require_POST
def service_request_done(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _request(request_id)
    form = DoneForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            done = request_done(
                staff=_staff(request), request=found, outcome=data["outcome"], done_on=data["done_on"]
            )
        except OrderError as error:
            _refused(form, error, {"day_invalid": "done_on", "outcome_missing": "outcome"}.get(error.code))
        else:
            if done.entry_id is not None:
                messages.success(request, office_message("done_paid"))
            else:
                messages.success(request, office_message("done"))
            return redirect("backoffice:service_request", request_id=found.pk)
    return _page(request, found, done=form, status=400)


@staff_action("service_requests")
@require_POST
def service_request_close(request: HttpRequest, request_id: int) -> HttpResponse:
    found = _request(request_id)
    form = CloseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            request_close(staff=_staff(request), request=found, status=data["status"], reason=data["reason"])
        except OrderError as error:
            _refused(form, error, "reason" if error.code == "reason_missing" else None)
        else:
            messages.success(request, office_message("closed"))
            return redirect("backoffice:service_request", request_id=found.pk)
    return _page(request, found, close=form, status=400)
