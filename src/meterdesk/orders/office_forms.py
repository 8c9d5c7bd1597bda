"""The back office's forms of service requests (their words live in this app's catalogue)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy, pgettext_lazy

from meterdesk.orders.models import WINDOWS, Status
from meterdesk.orders.services import MAX_COMMENT


def _day() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("in progress")), ("all", gettext_lazy("any")), *Status.choices],
    )
    day_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=_day())
    day_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=_day())
    number = forms.CharField(label=gettext_lazy("Request or account number"), required=False, max_length=16)


class ScheduleForm(forms.Form):
    on = forms.DateField(label=gettext_lazy("Day"), widget=_day())
    window = forms.ChoiceField(label=gettext_lazy("Time window"), choices=[(w, w) for w in WINDOWS])


class DoneForm(forms.Form):
    outcome = forms.CharField(
        label=gettext_lazy("What was done"), max_length=MAX_COMMENT, widget=forms.Textarea(attrs={"rows": 3})
    )
    done_on = forms.DateField(label=gettext_lazy("Done on"), required=False, widget=_day())


class CloseForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[
            (Status.FAILED, pgettext_lazy("service request", "failed")),
            (Status.CANCELLED, pgettext_lazy("service request", "cancelled")),
        ],
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=MAX_COMMENT, widget=forms.Textarea(attrs={"rows": 2})
    )
