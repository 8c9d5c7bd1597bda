"""An operator records a change in the number of residents a household reported (by phone, at the
desk, by letter) through ``core.residents``, with the day it was reported; audited."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.audit import change_record
from meterdesk.backoffice.selectors import account_of
from meterdesk.core.residents import MAX_RESIDENTS, ResidentsInvalid, residents_report, residents_words
from meterdesk.customers.models import User
from meterdesk.utility.selectors import utility_now


class OfficeResidentsForm(forms.Form):
    residents = forms.IntegerField(label=gettext_lazy("Residents now"), min_value=0, max_value=MAX_RESIDENTS)
    changed_on = forms.DateField(label=gettext_lazy("Since"), widget=forms.DateInput(attrs={"type": "date"}))
    reported_on = forms.DateField(
        label=gettext_lazy("Reported on"), widget=forms.DateInput(attrs={"type": "date"})
    )


@staff_action("residents")
@require_http_methods(["GET", "POST"])
def residents(request: HttpRequest, number: str) -> HttpResponse:
    account = account_of(number)
    if account is None:
        raise Http404
    staff = cast(User, request.user)
    form = OfficeResidentsForm(
        request.POST or None, initial={"residents": account.residents, "reported_on": utility_now().date()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            before = account.residents
            try:
                result = residents_report(
                    account=account,
                    residents=form.cleaned_data["residents"],
                    changed_on=form.cleaned_data["changed_on"],
                    reported_on=form.cleaned_data["reported_on"],
                    channel="operator",
                    user=staff,
                )
            except ResidentsInvalid as error:
                field = {"reported_before_change": "reported_on", "reported_in_future": "reported_on"}.get(
                    error.code, "changed_on" if error.code.startswith("date") else "residents"
                )
                form.add_error(field, str(error))
                status = 422
            else:
                change_record(
                    actor=staff,
                    instance=account,
                    account=account,
                    changes={"residents": (before, form.cleaned_data["residents"])},
                    reason=_("reported on %(day)s") % {"day": f"{form.cleaned_data['reported_on']:%d.%m.%Y}"},
                    extra={"effective_from": f"{result.effective_from}", "rebilled": len(result.rebilled)},
                )
                messages.success(request, residents_words(result))
                return redirect("backoffice:account", account.number)
        else:
            status = 422
    return render(request, "backoffice/residents.html", {"account": account, "form": form}, status=status)
