"""Staff forms of the unmatched queue: assign an account, reject with a reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account


class AssignForm(forms.Form):
    account_number = forms.RegexField(
        label=_("Account number"),
        regex=r"^\d{10}$",
        max_length=10,
        error_messages={"invalid": _("An account number has exactly 10 digits.")},
        help_text=_("The personal account to credit with this payment."),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example, how the right account was found."),
    )

    def clean_account_number(self) -> Account:
        number = self.cleaned_data["account_number"]
        account = Account.objects.filter(number=number).first()
        if account is None:
            raise forms.ValidationError(_("There is no account %(number)s."), params={"number": number})
        return account

    @property
    def account(self) -> Account:
        value: Any = self.cleaned_data["account_number"]
        return value


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the payment goes back to the bank, e.g. the account number cannot be found."),
    )

    def clean_reason(self) -> str:
        text = self.cleaned_data["reason"].strip()
        if not text:
            raise forms.ValidationError(_("Give the reason for returning the payment to the bank."))
        return text
