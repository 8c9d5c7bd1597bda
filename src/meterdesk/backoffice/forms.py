"""The back office's forms: they parse input; the rules are the core's."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from meterdesk.backoffice.services import CORRECTABLE, KEYED_CHANNELS
from meterdesk.customers.models import Account
from meterdesk.domain.readings import confirmation_parse
from meterdesk.metering.messages import zone_label
from meterdesk.metering.models import Channel, Meter
from meterdesk.utility.selectors import utility_now

#: A reading asks at most two confirmations per zone, of at most three zones.
MAX_CONFIRMATIONS = 6


class StaffLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"})
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].lower()

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(_("This login is not one of the staff's."), code="not_staff")


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Account, meter, phone, e-mail, surname or address"),
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "autocomplete": "off"}),
    )


class ConfirmationsField(forms.Field):
    """The confirmations ticked (``domain.readings.confirmation_token``); anything else confirms
    nothing, so a changed value is simply asked about again."""

    widget = forms.MultipleHiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list | tuple) else [value] if value else []
        return [item for item in items[:MAX_CONFIRMATIONS] if confirmation_parse(item) is not None]


def _channel_choices() -> list[tuple[str, Any]]:
    return [(c.value, c.label) for c in KEYED_CHANNELS]


class KeyedReadingForm(forms.Form):
    """A reading keyed in for one meter: the slip's date, how it came, a value per zone."""

    channel = forms.ChoiceField(label=_("Came by"), choices=_channel_choices, initial=Channel.PAPER)
    slip_date = forms.DateField(
        label=_("Date on the slip"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("The reading counts for the window of this day."),
    )
    reason = forms.CharField(
        label=_("Reason for a correction"),
        required=False,
        max_length=300,
        help_text=_("Needed when the reading replaces one already given this month."),
    )

    def __init__(self, *args: Any, meter: Meter, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("slip_date", utility_now().date())
        super().__init__(*args, **kwargs)
        self.meter = meter
        for zone in range(1, meter.zones + 1):
            self.fields[f"t{zone}"] = forms.CharField(
                label=zone_label(meter.zones, zone),
                required=False,
                max_length=40,  # longer values get the rules' own message (too many digits)
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
        self.fields["confirm"] = ConfirmationsField()
        self.order_fields(["slip_date", "channel", *(f"t{z}" for z in range(1, meter.zones + 1))])

    def clean_slip_date(self) -> date:
        value: date = self.cleaned_data["slip_date"]
        if value > utility_now().date():
            raise forms.ValidationError(_("A slip cannot be dated in the future."), code="future")
        return value

    def zone_fields(self) -> list[forms.BoundField]:
        return [self[f"t{zone}"] for zone in range(1, self.meter.zones + 1)]

    def raw_values(self) -> list[str]:
        return [self.cleaned_data.get(f"t{zone}", "") for zone in range(1, self.meter.zones + 1)]


class BatchSlipForm(forms.Form):
    """One slip of a stack: the account, the meter if it has several, the values."""

    account = forms.CharField(
        label=_("Account"),
        max_length=14,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "autofocus": True}),
    )
    serial = forms.CharField(
        label=_("Meter serial (if several)"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    t1 = forms.CharField(
        label=_("T1"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    t2 = forms.CharField(
        label=_("T2"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    t3 = forms.CharField(
        label=_("T3"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    slip_date = forms.DateField(
        label=_("Date on the slip"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(label=_("Reason for a correction"), required=False, max_length=300)
    confirm = ConfirmationsField()

    def clean_account(self) -> str:
        return "".join(self.cleaned_data["account"].split())

    def clean_slip_date(self) -> date:
        value: date = self.cleaned_data["slip_date"]
        if value > utility_now().date():
            raise forms.ValidationError(_("A slip cannot be dated in the future."), code="future")
        return value

    def meter(self) -> Meter | None:
        """The slip's meter: the account's meter of that serial, or its only meter in service."""
        account = Account.objects.filter(number=self.cleaned_data["account"]).first()
        if account is None:
            return None
        meters = Meter.objects.select_related("account").filter(account=account, removed_on__isnull=True)
        serial = self.cleaned_data.get("serial", "").strip()
        if serial:
            return meters.filter(serial__iexact=serial).first()
        found = list(meters[:2])
        return found[0] if len(found) == 1 else None

    def values(self, meter: Meter) -> list[str]:
        return [self.cleaned_data.get(f"t{zone}", "") for zone in range(1, meter.zones + 1)]


class AccountCorrectForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason for the correction"),
        max_length=300,
        help_text=_("Kept in the account's history of changes with the change."),
    )

    class Meta:
        model = Account
        fields = CORRECTABLE
