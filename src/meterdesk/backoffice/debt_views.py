"""Debt cases for staff (Decree 354 pp. 117–119; ``notify.debts``): the open cases by stage with
the days the rules count from the warning's delivery, and what staff record — a warning handed
over by hand or by post, the supply restricted, the supply suspended — each audited."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.audit import change_record
from meterdesk.customers.models import User
from meterdesk.notify.debts import (
    DebtCaseError,
    debt_delivery_record,
    debt_restriction_record,
    debt_suspension_record,
)
from meterdesk.notify.models import DebtCase, DebtStage, Delivery
from meterdesk.utility.selectors import utility_now

PAGE = 200
OPEN = "open"


class FilterForm(forms.Form):
    stage = forms.ChoiceField(
        label=gettext_lazy("Stage"),
        required=False,
        choices=[(OPEN, gettext_lazy("every open case")), *DebtStage.choices],
    )
    q = forms.CharField(label=gettext_lazy("Account number"), required=False, max_length=20)
    period = forms.DateField(
        label=gettext_lazy("Month of the debt"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )


class ActForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("deliver", gettext_lazy("warning handed over")),
            ("restrict", gettext_lazy("supply restricted")),
            ("suspend", gettext_lazy("supply suspended")),
        ]
    )
    on = forms.DateField(label=gettext_lazy("On"), widget=forms.DateInput(attrs={"type": "date"}))
    how = forms.ChoiceField(
        label=gettext_lazy("How"),
        required=False,
        choices=[(Delivery.HAND, Delivery.HAND.label), (Delivery.POST, Delivery.POST.label)],
    )
    reason = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("e.g. the post's receipt number or who signed for the warning"),
    )


def _cases(data: dict[str, Any]) -> QuerySet[DebtCase]:
    cases = DebtCase.objects.select_related("account")
    stage = data.get("stage") or OPEN
    cases = cases.filter(closed_at__isnull=True) if stage == OPEN else cases.filter(stage=stage)
    if data.get("q"):
        cases = cases.filter(account__number__startswith=data["q"].strip())
    if data.get("period"):
        cases = cases.filter(period=data["period"].replace(day=1))
    return cases.order_by(F("pay_by").asc(nulls_last=True), "opened_at", "pk")


@staff_action("debts")
@require_http_methods(["GET"])
def debts(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    cases = list(_cases(data)[:PAGE])
    counts = DebtCase.objects.aggregate(
        **{stage: Count("pk", filter=Q(stage=stage, closed_at__isnull=True)) for stage in DebtStage.values},
        open=Count("pk", filter=Q(closed_at__isnull=True)),
    )
    stages = [(OPEN, _("every open case"), counts["open"])] + [
        (value, label, counts[value]) for value, label in DebtStage.choices if value != DebtStage.PAID
    ]
    return render(
        request,
        "backoffice/debts/list.html",
        {
            "form": form,
            "cases": cases,
            "stages": stages,
            "stage": data.get("stage") or OPEN,
            "today": utility_now().date(),
            "act": ActForm(),
            "more": len(cases) == PAGE,
        },
    )


_RECORD = {
    "deliver": lambda case, f: debt_delivery_record(case, f["on"], f["how"]),
    "restrict": lambda case, f: debt_restriction_record(case, f["on"]),
    "suspend": lambda case, f: debt_suspension_record(case, f["on"]),
}


@staff_action("debts")
@require_POST
def debt_act(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(DebtCase.objects.select_related("account"), pk=case_id)
    form = ActForm(request.POST)
    target = str(request.POST.get("next") or "")
    back = redirect(target) if _safe(target) else redirect("backoffice:debts")
    if not form.is_valid():
        messages.error(request, _("Give the day (and how the warning was handed over)."))
        return back
    f = form.cleaned_data
    try:
        with transaction.atomic():
            changes = _RECORD[f["action"]](case, f)
            change_record(
                actor=cast(User, request.user),
                instance=case,
                account=case.account,
                changes=changes,
                reason=f["reason"],
                extra={"debt_case": f["action"]},
            )
    except DebtCaseError as error:
        messages.error(request, str(error))
        return back
    messages.success(request, _("Recorded for account %(number)s.") % {"number": case.account.number})
    return back


def _safe(url: str) -> bool:
    """Back to the list as it was filtered: only a page of the list itself."""
    return url.startswith(reverse("backoffice:debts")) and "\\" not in url and "//" not in url
