"""Forms of the personal account. They parse input; the rules live in services and domain."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import User, phone_validator
from meterdesk.metering.messages import zone_label
from meterdesk.metering.models import Meter


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        # Logins are stored in lower case (UserManager.create_user), so look them up that way.
        return self.cleaned_data["username"].lower()


class AccountMeterFields(forms.Form):
    account_number = forms.CharField(
        label=_("Personal account number"),
        max_length=14,
        help_text=_("10 digits, printed at the top of every bill."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    meter_serial = forms.CharField(
        label=_("Meter serial number"),
        max_length=40,
        help_text=_("Printed on the meter and on the bill."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_account_number(self) -> str:
        value = "".join(self.cleaned_data["account_number"].split())
        if not value.isdigit() or len(value) != 10:
            raise forms.ValidationError(_("An account number has exactly 10 digits."), code="invalid")
        return value


class RegistrationForm(AccountMeterFields):
    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(
        label=_("Phone (optional)"),
        required=False,
        max_length=20,
        help_text=_("So that the phone line can recognise you, e.g. +79161234567."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_phone(self) -> str:
        # Drop the usual separators first ("+7 (916) 123-45-67"), then check what is left.
        value = "".join(ch for ch in self.cleaned_data.get("phone", "") if ch not in " -().\u00a0")
        if value:
            phone_validator(value)
        return value

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("A login with this e-mail already exists. Log in, or reset the password."), code="taken"
            )
        return email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error(
                "password2", forms.ValidationError(_("The two passwords differ."), code="mismatch")
            )
        elif p1:
            try:
                password_validation.validate_password(p1, User(email=data.get("email", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class LinkAccountForm(AccountMeterFields):
    pass


class ReadingForm(forms.Form):
    """One field per zone of the meter; the values stay text until the rules have checked them."""

    def __init__(self, *args: Any, meter: Meter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = meter
        for zone in range(1, meter.zones + 1):
            self.fields[f"t{zone}"] = forms.CharField(
                label=zone_label(meter.zones, zone),
                required=False,
                max_length=20,
                strip=True,
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal" if meter.decimal_places else "numeric",
                        "autocomplete": "off",
                    }
                ),
            )
        self.fields["confirm"] = forms.MultipleChoiceField(
            required=False,
            choices=[("rollover", "rollover"), ("high_consumption", "high_consumption")],
            widget=forms.MultipleHiddenInput,
        )

    def zone_fields(self) -> list[forms.BoundField]:
        return [self[f"t{zone}"] for zone in range(1, self.meter.zones + 1)]

    def raw_values(self) -> list[str]:
        return [self.cleaned_data.get(f"t{zone}", "") for zone in range(1, self.meter.zones + 1)]
