"""The back office's pages. Thin: parse input, call a service or a selector, render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.audit import account_changes
from meterdesk.backoffice.forms import AccountCorrectForm, BatchSlipForm, KeyedReadingForm, SearchForm
from meterdesk.backoffice.roles import permission
from meterdesk.backoffice.search import customers_find
from meterdesk.backoffice.selectors import account_of, account_picture
from meterdesk.backoffice.services import ReasonRequired, account_correct, reading_key
from meterdesk.billing.preview import reading_charge
from meterdesk.core.readings import SubmissionResult
from meterdesk.customers.models import Account, User
from meterdesk.metering.check import (
    MeterNotInService,
    MonthClosed,
    NeedsConfirmation,
    ReadingInvalid,
    WindowClosed,
)
from meterdesk.metering.messages import (
    issue_message,
    month_closed_message,
    month_moved_message,
    zone_label,
)
from meterdesk.metering.models import Meter, Reading
from meterdesk.metering.selectors import meter_last_reading
from meterdesk.utility.selectors import utility_now


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)


def _account(number: str) -> Account:
    account = account_of(number)
    if account is None:
        raise Http404
    return account


@staff_action("search")
def home(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    if form.is_valid():
        results = customers_find(form.cleaned_data["q"])
        if len(results) == 1:
            return redirect("backoffice:account", number=results[0].number)
    return render(request, "backoffice/home.html", {"form": form, "results": results})


@staff_action("account")
def account(request: HttpRequest, number: str) -> HttpResponse:
    found = _account(number)
    today = utility_now().date()
    user = _staff(request)
    context: dict[str, Any] = {"picture": account_picture(found, today), "today": today}
    if user.has_perm(permission("changes")):
        context["changes"] = account_changes(found, limit=20)
    context["can"] = {
        name: user.has_perm(permission(name))
        for name in ("changes", "account_correct", "reading_key", "residents", "rebill")
    }
    return render(request, "backoffice/account.html", context)


@staff_action("changes")
def changes(request: HttpRequest, number: str) -> HttpResponse:
    found = _account(number)
    return render(request, "backoffice/changes.html", {"account": found, "changes": account_changes(found)})


@staff_action("account_correct")
@require_http_methods(["GET", "POST"])
def correct(request: HttpRequest, number: str) -> HttpResponse:
    found = _account(number)
    form = AccountCorrectForm(request.POST or None, instance=_account(number))
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in AccountCorrectForm.Meta.fields}
        entry = account_correct(
            staff=_staff(request), account=found, values=values, reason=form.cleaned_data["reason"]
        )
        messages.success(request, _("The account is corrected.") if entry else _("Nothing was changed."))
        return redirect("backoffice:account", number=number)
    return render(request, "backoffice/correct.html", {"account": found, "form": form})


# --- readings keyed in ----------------------------------------------------------------------------


@dataclass
class Keyed:
    """What keying a reading came to: the result, or what the page asks or says instead."""

    result: SubmissionResult | None = None
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    window_closed: str = ""  # the window in words, when the slip's day is outside it


def _key(request: HttpRequest, form: forms.Form, meter: Meter, values: list[str]) -> Keyed:
    """Key ``values`` of ``meter`` from the valid ``form``; its errors are added to the form."""
    data = form.cleaned_data
    try:
        result = reading_key(
            staff=_staff(request),
            meter=meter,
            values=values,
            channel=data.get("channel") or "paper",
            slip_date=data["slip_date"],
            confirmed=data.get("confirm") or (),
            reason=data.get("reason") or "",
        )
    except WindowClosed as closed:
        text = _("The slip's date is outside the reading window: days %(start)s to %(end)s of the month.")
        return Keyed(window_closed=text % {"start": closed.window.start_day, "end": closed.window.end_day})
    except ReadingInvalid as error:
        for issue in error.issues:
            name = f"t{issue.zone}" if issue.zone else None
            form.add_error(name, ValidationError(issue_message(issue), code=issue.code))
    except MonthClosed as error:
        form.add_error(None, ValidationError(month_closed_message(error.period), code=error.code))
    except MeterNotInService as error:
        text = _("This meter is no longer in service; readings are not accepted for it.")
        form.add_error(None, ValidationError(text, code=error.code))
    except ReasonRequired as error:
        text = _("This reading replaces the one already given this month: say why.")
        form.add_error("reason", ValidationError(text, code=error.code))
    except NeedsConfirmation as needs:
        return Keyed(
            confirmations=[
                {
                    "code": issue.code,
                    "confirm": needs.checked.token(issue),
                    "zone_no": issue.zone,
                    "zone": zone_label(meter.zones, issue.zone),
                    "value": needs.checked.values[issue.zone - 1],
                    "text": issue_message(issue),
                }
                for issue in needs.issues
            ]
        )
    else:
        return Keyed(result=result)
    return Keyed()


def _accepted(request: HttpRequest, result: SubmissionResult) -> None:
    reading = result.reading
    if result.moved_from is not None:
        messages.info(request, month_moved_message(result.moved_from, reading.period))
    if result.replaced is not None:
        text = _("Reading accepted, number %(confirmation)s. It replaces the earlier reading of the month.")
    else:
        text = _("Reading accepted, number %(confirmation)s.")
    messages.success(request, text % {"confirmation": reading.confirmation})


@staff_action("reading_key")
@require_http_methods(["GET", "POST"])
def reading_new(request: HttpRequest, number: str) -> HttpResponse:
    found = _account(number)
    meters = list(Meter.objects.filter(account=found, removed_on__isnull=True).order_by("pk"))
    if not meters:
        raise Http404
    chosen = request.POST.get("meter") or request.GET.get("meter")
    meter = next((m for m in meters if str(m.pk) == chosen), None)
    if chosen and meter is None:
        raise Http404  # a meter not of this account
    meter = meter or meters[0]
    meter.account = found
    form = KeyedReadingForm(request.POST or None, meter=meter)
    keyed = Keyed()
    status = 200
    if request.method == "POST" and form.is_valid():
        keyed = _key(request, form, meter, form.raw_values())
        if keyed.result is not None:
            _accepted(request, keyed.result)
            return redirect("backoffice:reading", confirmation=keyed.result.reading.confirmation)
        status = 422 if form.errors else 200
    elif request.method == "POST":
        status = 422
    last = meter_last_reading(meter)
    previous = last.values if last is not None else meter.initial_values
    zones = [
        {"field": bound, "previous": previous[i] if i < len(previous) else None}
        for i, bound in enumerate(form.zone_fields())
    ]
    context = {
        "account": found,
        "meters": meters,
        "meter": meter,
        "form": form,
        "zones": zones,
        "confirmations": keyed.confirmations,
        "window_closed": keyed.window_closed,
    }
    return render(request, "backoffice/reading_new.html", context, status=status)


@staff_action("account")
def reading(request: HttpRequest, confirmation: str) -> HttpResponse:
    """A reading and the month's charge it implies, as the customer would be shown it."""
    found = Reading.objects.select_related("meter__account").filter(confirmation=confirmation).first()
    if found is None:
        raise Http404
    charge = reading_charge(found)
    meter = found.meter
    rows = [
        {
            "label": zone_label(meter.zones, zone),
            "value": found.values[zone - 1],
            "consumption": charge.consumption[zone - 1],
        }
        for zone in range(1, meter.zones + 1)
    ]
    context = {
        "reading": found,
        "meter": meter,
        "account": meter.account,
        "charge": charge,
        "rows": rows,
        "given": utility_now(now=found.submitted_at),
    }
    return render(request, "backoffice/reading.html", context)


@staff_action("reading_batch")
@require_http_methods(["GET", "POST"])
def reading_batch(request: HttpRequest) -> HttpResponse:
    """A stack of slips, one after another: the account, the values, Enter; the next slip's form
    comes back at once, with the slip's date kept."""
    today = utility_now().date()
    form = BatchSlipForm(request.POST or None, initial={"slip_date": today})
    keyed = Keyed()
    meter = None
    status = 200
    done: list[dict[str, Any]] = request.session.get("office_batch", [])[-20:]
    if request.method == "POST" and form.is_valid():
        meter = form.meter()
        if meter is None:
            form.add_error(
                "account",
                ValidationError(_("No such account, or name the meter's serial."), code="not_found"),
            )
        else:
            keyed = _key(request, form, meter, form.values(meter))
        if keyed.result is not None:
            reading = keyed.result.reading
            done.append(
                {
                    "account": meter.account.number if meter else "",
                    "serial": meter.serial if meter else "",
                    "values": " / ".join(f"{v.normalize():f}" for v in reading.values),
                    "confirmation": reading.confirmation,
                }
            )
            request.session["office_batch"] = done[-20:]
            _accepted(request, keyed.result)
            next_form = BatchSlipForm(initial={"slip_date": form.cleaned_data["slip_date"]})
            return render(request, "backoffice/batch.html", {"form": next_form, "done": done[::-1]})
        status = 422 if form.errors else 200
    elif request.method == "POST":
        status = 422
    context = {
        "form": form,
        "meter": meter,
        "done": done[::-1],
        "confirmations": keyed.confirmations,
        "window_closed": keyed.window_closed,
    }
    return render(request, "backoffice/batch.html", context, status=status)
