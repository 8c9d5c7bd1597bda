"""The inspections' pages: the plan (filter, reassign, cancel) and the inspector's route of the day
with the visit form, made for a phone and a poor connection (inspections.js keeps unsent visits
on the phone and sends them again; the form's key makes a second send store nothing)."""

from __future__ import annotations

import csv
import secrets
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.inspection_services import (
    VisitError,
    VisitResult,
    inspection_cancel,
    inspection_reassign,
    inspection_request,
    visit_record,
)
from meterdesk.backoffice.roles import INSPECTOR, group_name
from meterdesk.customers.models import User
from meterdesk.inspections.models import OPEN, Condition, Inspection, Status
from meterdesk.inspections.photos import photo_path
from meterdesk.inspections.planner import WINDOWS, inspection_letter, inspections_by_post, inspections_posted
from meterdesk.inspections.selectors import route_of
from meterdesk.metering.check import MeterNotInService, ReadingError, ReadingInvalid
from meterdesk.metering.messages import issue_message, zone_label
from meterdesk.metering.models import Meter
from meterdesk.metering.selectors import meter_last_reading
from meterdesk.utility.selectors import utility_now

SHOWN = 200


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)


def _inspectors() -> list[User]:
    return list(
        User.objects.filter(groups__name=group_name(INSPECTOR), is_staff=True, is_active=True).order_by(
            "email"
        )
    )


def _inspection(pk: int) -> Inspection:
    found = Inspection.objects.select_related("meter__account", "inspector", "reading").filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


# --- the plan ---------------------------------------------------------------------------------------


class PlanFilter(forms.Form):
    day = forms.DateField(
        label=gettext_lazy("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    inspector = forms.ChoiceField(label=gettext_lazy("Inspector"), required=False)

    def __init__(self, *args: Any, inspectors: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("any")), *Status.choices]
        cast(forms.ChoiceField, self.fields["inspector"]).choices = [("", _("any"))] + [
            (str(u.pk), u.email) for u in inspectors
        ]


class ReassignForm(forms.Form):
    inspector = forms.ChoiceField(label=gettext_lazy("Inspector"))
    day = forms.DateField(label=gettext_lazy("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300, required=False)

    def __init__(self, *args: Any, inspectors: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["inspector"]).choices = [(str(u.pk), u.email) for u in inspectors]


class CancelForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Why it is cancelled"), max_length=300)


class RequestForm(forms.Form):
    account = forms.CharField(label=gettext_lazy("Account number"), max_length=10)
    serial = forms.CharField(
        label=gettext_lazy("Meter serial"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("if the account has more than one meter"),
    )
    day = forms.DateField(label=gettext_lazy("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.ChoiceField(label=gettext_lazy("Hours"))
    inspector = forms.ChoiceField(label=gettext_lazy("Inspector"))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300)

    def __init__(self, *args: Any, inspectors: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["inspector"]).choices = [(str(u.pk), u.email) for u in inspectors]
        cast(forms.ChoiceField, self.fields["hours"]).choices = [
            (str(n), f"{start:%H:%M}–{end:%H:%M}") for n, (start, end) in enumerate(WINDOWS)
        ]

    def meter(self) -> Meter | None:
        data = self.cleaned_data
        meters = Meter.objects.select_related("account").filter(
            account__number=data["account"].strip(), removed_on__isnull=True
        )
        if data["serial"].strip():
            meters = meters.filter(serial=data["serial"].strip())
        found = list(meters[:2])
        return found[0] if len(found) == 1 else None


def _plan_page(
    request: HttpRequest, inspectors: list[User], ask: RequestForm, status: int = 200
) -> HttpResponse:
    form = PlanFilter(request.GET or None, inspectors=inspectors)
    found = Inspection.objects.select_related("meter__account", "inspector").order_by(
        "planned_on", "inspector__email", "route_order", "pk"
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["day"]:
            found = found.filter(planned_on=data["day"])
        if data["status"]:
            found = found.filter(status=data["status"])
        if data["inspector"]:
            found = found.filter(inspector_id=int(data["inspector"]))
    else:
        found = found.filter(status__in=OPEN)
    context = {"form": form, "inspections": found[:SHOWN], "ask": ask, "by_post": inspections_by_post()}
    return render(request, "backoffice/inspections/plan.html", context, status=status)


@staff_action("inspections")
def letters_csv(request: HttpRequest) -> HttpResponse:
    """The letters by post of the households no notice reaches: one row each, with the words the
    e-mail would have had (in Russian, as a letter is printed)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="inspection-letters.csv"'
    out = csv.writer(response)
    out.writerow(
        [
            _("Inspection"),
            _("Account"),
            _("Payer"),
            _("Address"),
            _("Meter"),
            _("Day"),
            _("Hours"),
            _("Letter"),
        ]
    )
    for found in inspections_by_post():
        account = found.meter.account
        out.writerow(
            [
                found.pk,
                account.number,
                account.holder_name,
                account.address,
                found.meter.serial,
                found.planned_on.isoformat(),
                found.hours,
                inspection_letter(found),
            ]
        )
    return response


@staff_action("inspections")
@require_POST
def letters_posted(request: HttpRequest) -> HttpResponse:
    """The letters listed on the page were posted: those inspections become notified."""
    pks = [int(v) for v in request.POST.getlist("inspection") if v.isdigit()]
    marked = inspections_posted(pks)
    messages.success(request, _("Marked as notified by post: %(n)s.") % {"n": marked})
    return redirect("backoffice:inspections")


@staff_action("inspections")
@require_POST
def request_inspection(request: HttpRequest) -> HttpResponse:
    inspectors = _inspectors()
    ask = RequestForm(request.POST, inspectors=inspectors)
    if ask.is_valid():
        data = ask.cleaned_data
        meter = ask.meter()
        if meter is None:
            ask.add_error(
                "account", _("No such meter in service: name the meter's serial if there are several.")
            )
        else:
            who = next(u for u in inspectors if str(u.pk) == data["inspector"])
            try:
                found = inspection_request(
                    staff=_staff(request),
                    meter=meter,
                    day=data["day"],
                    hours=WINDOWS[int(data["hours"])],
                    inspector=who,
                    reason=data["reason"],
                )
            except VisitError as error:
                ask.add_error(None, ValidationError(_visit_error_text(error), code=error.code))
            else:
                messages.success(request, _("The inspection is planned."))
                return redirect("backoffice:inspection", pk=found.pk)
    return _plan_page(request, inspectors, ask, status=422)


@staff_action("inspections")
def inspections(request: HttpRequest) -> HttpResponse:
    inspectors = _inspectors()
    return _plan_page(request, inspectors, RequestForm(inspectors=inspectors))


@staff_action("inspections")
def inspection(request: HttpRequest, pk: int) -> HttpResponse:
    found = _inspection(pk)
    inspectors = _inspectors()
    context = {
        "inspection": found,
        "reassign": ReassignForm(
            initial={"inspector": found.inspector_id, "day": found.planned_on}, inspectors=inspectors
        ),
        "cancel": CancelForm(),
        "open": found.status in OPEN,
    }
    return render(request, "backoffice/inspections/inspection.html", context)


@staff_action("inspections")
@require_POST
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    found = _inspection(pk)
    inspectors = _inspectors()
    form = ReassignForm(request.POST, inspectors=inspectors)
    if form.is_valid():
        data = form.cleaned_data
        who = next(u for u in inspectors if str(u.pk) == data["inspector"])
        try:
            entry = inspection_reassign(
                staff=_staff(request),
                inspection=found,
                inspector=who,
                planned_on=data["day"],
                reason=data["reason"],
            )
        except VisitError as error:
            messages.error(request, _visit_error_text(error))
        else:
            messages.success(
                request, _("The inspection is reassigned.") if entry else _("Nothing was changed.")
            )
        return redirect("backoffice:inspection", pk=pk)
    context = {"inspection": found, "reassign": form, "cancel": CancelForm(), "open": found.status in OPEN}
    return render(request, "backoffice/inspections/inspection.html", context, status=422)


@staff_action("inspections")
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    found = _inspection(pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            inspection_cancel(staff=_staff(request), inspection=found, reason=form.cleaned_data["reason"])
        except VisitError as error:
            messages.error(request, _visit_error_text(error))
        else:
            messages.success(request, _("The inspection is cancelled."))
        return redirect("backoffice:inspection", pk=pk)
    reassign_form = ReassignForm(initial={"inspector": found.inspector_id}, inspectors=_inspectors())
    context = {"inspection": found, "reassign": reassign_form, "cancel": form, "open": found.status in OPEN}
    return render(request, "backoffice/inspections/inspection.html", context, status=422)


@staff_action("inspections")
def photo(request: HttpRequest, pk: int) -> Any:  # a FileResponse
    found = _inspection(pk)
    if not found.photo:
        raise Http404
    try:
        handle = open(photo_path(found.photo), "rb")  # noqa: SIM115 - FileResponse closes it
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=found.photo_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- the inspector's day ----------------------------------------------------------------------------


@staff_action("inspection_visit")
def route(request: HttpRequest) -> HttpResponse:
    today = utility_now().date()
    visits = list(route_of(_staff(request), today))
    return render(request, "backoffice/inspections/route.html", {"visits": visits, "today": today})


class VisitForm(forms.Form):
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    seals = forms.CharField(label=gettext_lazy("Seal numbers"), max_length=200, required=False)
    condition = forms.ChoiceField(
        label=gettext_lazy("Meter condition"), choices=Condition.choices, required=False
    )
    photo = forms.FileField(label=gettext_lazy("Photo of the meter"), required=False)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, zones: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for zone in range(1, zones + 1):
            self.fields[f"t{zone}"] = forms.CharField(
                label=zone_label(zones, zone),
                required=False,
                max_length=20,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
        self.fields["photo"].widget.attrs.update({"accept": "image/jpeg,image/png", "capture": "environment"})
        self.zones = zones

    def zone_fields(self) -> list[forms.BoundField]:
        return [self[f"t{zone}"] for zone in range(1, self.zones + 1)]


def _visit_error_text(error: VisitError) -> str:
    texts = {
        "client_key": _("The form is out of date: open the visit again."),
        "client_key_used": _("The form is out of date: open the visit again."),
        "condition": _("Say the meter's condition."),
        "values": _("Enter the value of each zone."),
        "photo_too_large": _("The photo is too large: at most 5 MB."),
        "photo_type": _("The photo must be a JPEG or PNG picture."),
        "not_open": _("This inspection is already closed."),
        "not_in_service": _("This meter is no longer in service; readings are not accepted for it."),
        "open_exists": _("The meter has an inspection planned already."),
        "day_past": _("The day is past."),
        "reason_required": _("Say why."),
    }
    return texts.get(error.code, str(error))


def _visited_text(result: VisitResult) -> str:
    found = result.inspection
    if found.status == Status.REFUSED:
        return _("The refusal of access is recorded (act %(n)s in a row).") % {"n": found.refusals_in_row}
    assert found.reading is not None  # noqa: S101 - a visit done has its reading
    return _("The visit is stored; control reading number %(confirmation)s.") % {
        "confirmation": found.reading.confirmation
    }


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@staff_action("inspection_visit")
@require_http_methods(["GET", "POST"])
def visit(request: HttpRequest, pk: int) -> HttpResponse:
    found = _inspection(pk)
    staff = _staff(request)
    if found.inspector_id != staff.pk and not staff.is_superuser:
        raise Http404  # another inspector's visit: the supervisor reassigns it first
    meter = found.meter
    form = VisitForm(
        request.POST or None,
        request.FILES or None,
        zones=meter.zones,
        initial={"key": secrets.token_urlsafe(18)},
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data.get("photo")
        try:
            result = visit_record(
                staff=staff,
                inspection=found,
                client_key=data["key"],
                refused=bool(request.POST.get("refused")),
                values=[data[f"t{zone}"] for zone in range(1, meter.zones + 1)],
                photo=upload.read() if upload else None,
                seals=data["seals"],
                condition=data["condition"],
                note=data["note"],
            )
        except VisitError as error:
            form.add_error(None, ValidationError(_visit_error_text(error), code=error.code))
        except ReadingInvalid as error:
            for issue in error.issues:
                form.add_error(
                    f"t{issue.zone}" if issue.zone else None, ValidationError(issue_message(issue))
                )
        except MeterNotInService as error:
            text = _("This meter is no longer in service; readings are not accepted for it.")
            form.add_error(None, ValidationError(text, code=error.code))
        except ReadingError as error:
            form.add_error(
                None, ValidationError(_("The reading is refused: %(code)s.") % {"code": error.code})
            )
        else:
            text = _visited_text(result)
            messages.success(request, text)
            if _wants_json(request):
                return JsonResponse(
                    {
                        "ok": True,
                        "repeated": result.repeated,
                        "status": result.inspection.status,
                        "message": text,
                        "next": reverse("backoffice:inspector_route"),
                    }
                )
            return redirect("backoffice:inspector_route")
        status = 422
    elif request.method == "POST":
        status = 422
    if status == 422 and _wants_json(request):
        errors = [str(e) for errors in form.errors.values() for e in errors]
        return JsonResponse({"ok": False, "errors": errors}, status=422)
    last = meter_last_reading(meter)
    previous = list(last.values) if last is not None else list(meter.initial_values)
    zones = [
        {"field": bound, "previous": previous[n] if n < len(previous) else None}
        for n, bound in enumerate(form.zone_fields())
    ]
    context = {"inspection": found, "meter": meter, "account": meter.account, "form": form, "zones": zones}
    return render(request, "backoffice/inspections/visit.html", context, status=status)
