"""Forms of the personal account. They parse input; the rules live in services and domain."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import User
from meterdesk.customers.services import registration_code_required, user_password_set
from meterdesk.domain.readings import confirmation_parse
from meterdesk.metering.messages import zone_label
from meterdesk.metering.models import Meter
from meterdesk.portal.profile_forms import ConsentFields, phone_clean, phone_field


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if registration_code_required():
            self.fields["registration_code"] = forms.CharField(
                label=_("Registration code"),
                max_length=20,
                help_text=_("Printed on your bill next to the account number, e.g. 7K3QD-M9X2B."),
                widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
            )

    def clean_account_number(self) -> str:
        value = "".join(self.cleaned_data["account_number"].split())
        if not value.isdigit() or len(value) != 10:
            raise forms.ValidationError(_("An account number has exactly 10 digits."), code="invalid")
        return value


class RegistrationForm(ConsentFields, AccountMeterFields):
    field_order = [
        "account_number",
        "meter_serial",
        "registration_code",
        "email",
        "phone",
        "password1",
        "password2",
        "consent",
        "consent_version",
    ]

    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = phone_field(
        _("Mobile phone (optional)"),
        required=False,
        help_text=_("So that the customer line recognises you when you call, e.g. +7 916 123-45-67."),
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
        return phone_clean(self.cleaned_data.get("phone", ""))

    def clean_email(self) -> str:
        # Whether the address already has a login is not said here (docs/security.md).
        return str(self.cleaned_data["email"]).lower()

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


class NewPasswordMixin:
    """A password changed or reset signs the login out everywhere: its other sessions end and its
    device tokens are revoked (customers.services.user_password_set)."""

    user: User
    cleaned_data: dict[str, Any]

    def save(self, commit: bool = True) -> User:
        if not commit:  # pragma: no cover - Django's views always commit
            raise ValueError("a new password is always saved")
        return user_password_set(user=self.user, password=self.cleaned_data["new_password1"])


class PasswordChangeForm(NewPasswordMixin, auth_forms.PasswordChangeForm):
    pass


class SetPasswordForm(NewPasswordMixin, auth_forms.SetPasswordForm):
    pass


class ConfirmationsField(forms.Field):
    """The confirmations ticked: tokens naming the code, zone and value confirmed
    (``high_consumption:1=98765``, see ``domain.readings.confirmation_token``). Anything else
    confirms nothing, so a changed value or a tampered token is simply asked about again."""

    widget = forms.MultipleHiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list | tuple) else [value] if value else []
        return [item for item in items[:MAX_CONFIRMATIONS] if confirmation_parse(item) is not None]


#: A reading asks at most two confirmations per zone, of at most three zones.
MAX_CONFIRMATIONS = 6


class ReadingForm(forms.Form):
    """One field per zone of the meter; the values stay text until the rules have checked them."""

    def __init__(self, *args: Any, meter: Meter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = meter
        for zone in range(1, meter.zones + 1):
            self.fields[f"t{zone}"] = forms.CharField(
                label=zone_label(meter.zones, zone),
                required=False,
                max_length=40,  # longer values get the rules' own message (too many digits)
                strip=True,
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal" if meter.decimal_places else "numeric",
                        "autocomplete": "off",
                    }
                ),
            )
        self.fields["confirm"] = ConfirmationsField()

    def zone_fields(self) -> list[forms.BoundField]:
        return [self[f"t{zone}"] for zone in range(1, self.meter.zones + 1)]

    def raw_values(self) -> list[str]:
        return [self.cleaned_data.get(f"t{zone}", "") for zone in range(1, self.meter.zones + 1)]
