"""The household reports a change in the number of residents (``core.residents``)."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from meterdesk.core.residents import MAX_RESIDENTS, ResidentsInvalid, residents_report, residents_words
from meterdesk.customers.models import Account, User
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.selectors import account_for_user
from meterdesk.utility.selectors import rules_profile_get


class ResidentsForm(forms.Form):
    residents = forms.IntegerField(label=gettext_lazy("Residents now"), min_value=0, max_value=MAX_RESIDENTS)
    changed_on = forms.DateField(
        label=gettext_lazy("Since"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


@login_required
@require_http_methods(["GET", "POST"])
def residents(request: HttpRequest, number: str) -> HttpResponse:
    user = cast(User, request.user)
    try:
        account: Account = account_for_user(user, number)
    except Account.DoesNotExist as error:
        raise Http404 from error
    form = ResidentsForm(request.POST or None, initial={"residents": account.residents})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = residents_report(
                    account=account,
                    residents=form.cleaned_data["residents"],
                    changed_on=form.cleaned_data["changed_on"],
                    channel="web",
                    user=user,
                )
            except ResidentsInvalid as error:
                form.add_error("changed_on" if error.code.startswith("date") else "residents", str(error))
                status = 422
            else:
                messages.success(request, residents_words(result))
                return redirect("portal:dashboard")
        else:
            status = 422
    days = profile_load(rules_profile_get()).residents_report_days
    history = account.residents_history.order_by("-effective_from")[:10]
    return render(
        request,
        "portal/residents.html",
        {"form": form, "account": account, "days": days, "history": history},
        status=status,
    )
