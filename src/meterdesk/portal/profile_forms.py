"""Forms of the profile: a phone number, the language, a new e-mail, the consent to personal data
processing (also part of registration). They parse input; the rules are in customers.profile and
customers.consent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.consent import CONSENT_VERSION
from meterdesk.customers.models import LANGUAGE_CHOICES, PhoneLabel
from meterdesk.customers.profile import PhoneError, phone_error_message
from meterdesk.domain.phones import MAX_TYPED, PHONE_INVALID, PhoneInvalid, phone_parse

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise


def phone_clean(value: str) -> str:
    """A typed number in E.164, or the form's error for one that is no number ("" stays "")."""
    value = value.strip()
    if not value:
        return ""
    try:
        return phone_parse(value)
    except PhoneInvalid as exc:
        raise forms.ValidationError(
            phone_error_message(PhoneError(PHONE_INVALID)), code=PHONE_INVALID
        ) from exc


def phone_field(label: _StrOrPromise, *, required: bool, help_text: _StrOrPromise = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=MAX_TYPED,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "type": "tel"}),
    )


class PhoneForm(forms.Form):
    number = phone_field(
        _("Phone number"), required=True, help_text=_("With the area code, e.g. +7 916 123-45-67.")
    )
    label = forms.ChoiceField(label=_("Kind"), choices=PhoneLabel.choices, initial=PhoneLabel.MOBILE)

    def clean_number(self) -> str:
        return phone_clean(self.cleaned_data.get("number", ""))


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language of the pages and letters"), choices=LANGUAGE_CHOICES)


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("New e-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("We send a link to it: the e-mail changes once you have followed the link."),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("To make sure it is you."),
    )


class ConsentFields(forms.Form):
    """The box of the consent to personal data processing, and the version of the text shown
    beside it (a hidden field, so that the version agreed to is the one that was read)."""

    consent = forms.BooleanField(
        label=_("I agree to the processing of my personal data on the terms above"),
        required=True,
        error_messages={
            "required": _("Tick the box: the personal account cannot work without your consent.")
        },
    )
    consent_version = forms.CharField(widget=forms.HiddenInput, required=False, max_length=20)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent_version"].initial = CONSENT_VERSION

    def consent_given(self) -> str:
        """The version of the text agreed to ("" if the box was not ticked)."""
        if not self.cleaned_data.get("consent"):
            return ""
        return str(self.cleaned_data.get("consent_version") or "")

    def consent_outdated(self) -> None:
        """The text changed since the form was shown: show the current one and ask again."""
        data = {key: value for key, value in self.data.items() if key != "consent"}
        data["consent_version"] = CONSENT_VERSION
        self.data = data
        self.add_error(
            "consent",
            forms.ValidationError(
                _("The text of the consent has changed since the page was opened: read it again."),
                code="consent_outdated",
            ),
        )
