"""Forms of payments: what to pay (the accounts, their amounts, card or SBP, autopayment), turning
autopayment on with a saved card, and the sandbox's card form."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from meterdesk.billing.messages import money
from meterdesk.customers.models import Account
from meterdesk.payments.models import PaymentMethod, SavedCard
from meterdesk.payments.sandbox import card_scheme, expiry_ok, luhn_ok
from meterdesk.payments.services import KOPECK, Share, amount_limits
from meterdesk.utility.selectors import utility_now

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

KEY_PATTERN = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def parse_amount(text: str) -> Decimal | None:
    """``1 234,56``, ``1234.56``, ``1234,5 ₽`` → Decimal; None when it is not a number."""
    cleaned = re.sub(r"[\s\u00a0\u202f₽]|руб\.?", "", text.strip(), flags=re.IGNORECASE).replace(",", ".")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
        return None


def amount_clean(text: str) -> Decimal:
    """An amount as typed, checked against the payment's limits; raises ValidationError."""
    amount = parse_amount(text)
    if amount is None:
        raise forms.ValidationError(_("Enter the amount as a number, e.g. 1500,50."), code="invalid")
    if amount != amount.quantize(KOPECK):
        raise forms.ValidationError(
            _("An amount has at most two digits after the comma (kopecks)."), code="kopecks"
        )
    low, high = amount_limits()
    if amount < low:
        raise forms.ValidationError(
            _("The smallest payment is %(low)s.") % {"low": money(low)}, code="too_small"
        )
    if amount > high:
        raise forms.ValidationError(
            _("The largest payment is %(high)s. Pay a larger sum in parts, or through your bank.")
            % {"high": money(high)},
            code="too_large",
        )
    return amount.quantize(KOPECK)


def _amount_field(label: _StrOrPromise, *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=20,
        required=required,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


class PayForm(forms.Form):
    """What to pay: the page's account (``amount``), any of the login's other accounts with it
    (``also_<number>`` and ``amount_<number>``: one payment for a flat and a dacha), by card or by
    SBP, and — by card — whether to save the card for autopayment."""

    amount = _amount_field(_("Amount, ₽"))
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    method = forms.ChoiceField(
        label=_("How to pay"),
        choices=[
            (PaymentMethod.CARD.value, _("Bank card (Mir, Visa, Mastercard)")),
            (PaymentMethod.SBP.value, _("SBP, the Faster Payments System: by QR code or in your bank's app")),
        ],
        widget=forms.RadioSelect,
        required=False,
    )
    autopay = forms.BooleanField(
        label=_("Save the card and pay the bills of the accounts paid here automatically (autopayment)"),
        required=False,
    )

    def __init__(self, *args: Any, others: Sequence[Account] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        low, high = amount_limits()
        self.fields["amount"].help_text = _(
            "From %(low)s to %(high)s, roubles and kopecks, e.g. 1500,50."
        ) % {
            "low": money(low),
            "high": money(high),
        }
        self.others = list(others)
        for other in self.others:
            self.fields[f"also_{other.number}"] = forms.BooleanField(
                label=_("Also pay account %(number)s, %(address)s")
                % {"number": other.number, "address": other.address},
                required=False,
            )
            self.fields[f"amount_{other.number}"] = _amount_field(
                _("Amount for account %(number)s, ₽") % {"number": other.number}, required=False
            )

    def other_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """Each other account's checkbox and amount field, for the template."""
        return [(self[f"also_{o.number}"], self[f"amount_{o.number}"]) for o in self.others]

    def clean_amount(self) -> Decimal:
        return amount_clean(self.cleaned_data["amount"])

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not KEY_PATTERN.match(key):
            raise forms.ValidationError(_("The form has expired: please fill it in again."), code="key")
        return key

    def clean_method(self) -> str:
        return self.cleaned_data.get("method") or PaymentMethod.CARD.value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for other in self.others:
            if not data.get(f"also_{other.number}"):
                continue
            field = f"amount_{other.number}"
            try:
                data[field] = amount_clean(self.data.get(self.add_prefix(field), "") or "")
            except forms.ValidationError as error:
                self.add_error(field, error)
        if data.get("autopay") and data.get("method") == PaymentMethod.SBP:
            self.add_error(
                "autopay", forms.ValidationError(_("Autopayment is by card only."), code="autopay_sbp")
            )
        if not self.errors:
            _low, high = amount_limits()
            total = data["amount"] + sum(
                (data[f"amount_{o.number}"] for o in self.others if data.get(f"also_{o.number}")), Decimal(0)
            )
            if total > high:
                raise forms.ValidationError(
                    _("Together the amounts exceed the largest payment, %(high)s. Pay in two payments.")
                    % {"high": money(high)},
                    code="too_large",
                )
        return data

    def shares_of(self, account: Account) -> list[Share]:
        """The accounts to pay with their amounts, the page's ``account`` first."""
        data = self.cleaned_data
        shares = [Share(account, data["amount"])]
        shares.extend(
            Share(other, data[f"amount_{other.number}"])
            for other in self.others
            if data.get(f"also_{other.number}")
        )
        return shares


class CardField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A saved card, shown as the customer knows it: ``Visa *4242``."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.masked)


class AutopayOnForm(forms.Form):
    """Autopayment with a card saved before: which card, and the consent."""

    card = CardField(
        label=_("Card"), queryset=SavedCard.objects.none(), widget=forms.RadioSelect, empty_label=None
    )
    consent = forms.BooleanField(label=_("I agree"), required=True)

    def __init__(self, *args: Any, cards: Sequence[SavedCard] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(CardField, self.fields["card"])
        field.queryset = SavedCard.objects.filter(pk__in=[card.pk for card in cards])
        field.error_messages["required"] = _("Choose a card.")
        self.fields["consent"].error_messages["required"] = _("Tick the box to agree to autopayment.")
        if len(cards) == 1:
            field.initial = cards[0].pk


def new_key() -> str:
    return str(uuid.uuid4())


def _card_field(
    label: _StrOrPromise,
    max_length: int,
    autocomplete: str,
    *,
    digits: bool = True,
    secret: bool = False,
    placeholder: str = "",
) -> forms.CharField:
    """A field of the card form, named for the browser's card autofill; ``digits``: a digit
    keypad on phones; ``secret``: not shown as typed."""
    attrs = {"inputmode": "numeric"} if digits else {}
    attrs["autocomplete"] = autocomplete
    if placeholder:
        attrs["placeholder"] = placeholder
    widget = forms.PasswordInput if secret else forms.TextInput
    return forms.CharField(label=label, max_length=max_length, widget=widget(attrs=attrs))


class SandboxCardForm(forms.Form):
    number = _card_field(_("Card number"), 23, "cc-number")
    expiry = _card_field(_("Valid until (MM/YY)"), 5, "cc-exp", placeholder="12/30")
    cvc = _card_field(_("CVC/CVV (3 digits on the back)"), 3, "cc-csc", secret=True)
    holder = _card_field(_("Cardholder name (as on the card)"), 60, "cc-name", digits=False)

    def clean_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not number.isdigit() or not 13 <= len(number) <= 19:
            raise forms.ValidationError(_("A card number has 13 to 19 digits."), code="invalid")
        if not luhn_ok(number):
            raise forms.ValidationError(_("This card number is not valid: check the digits."), code="luhn")
        if not card_scheme(number):
            raise forms.ValidationError(_("Only Visa, Mastercard and Mir cards are accepted."), code="scheme")
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*([0-9]{1,2})\s*/\s*([0-9]{2})\s*", self.cleaned_data["expiry"])
        if not match:
            raise forms.ValidationError(_("Enter the month and year as MM/YY, e.g. 12/30."), code="invalid")
        month, year = int(match.group(1)), 2000 + int(match.group(2))
        if not 1 <= month <= 12:
            raise forms.ValidationError(_("Enter the month and year as MM/YY, e.g. 12/30."), code="invalid")
        if not expiry_ok(month, year, utility_now().date()):
            raise forms.ValidationError(_("This card has expired."), code="expired")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"[0-9]{3}", cvc):
            raise forms.ValidationError(_("The CVC has 3 digits."), code="invalid")
        return cvc

    def clean_holder(self) -> str:
        holder = " ".join(self.cleaned_data["holder"].split()).upper()
        if not re.fullmatch(r"[A-Z][A-Z .'-]{1,59}", holder):
            raise forms.ValidationError(
                _("Enter the name in Latin letters, as printed on the card."), code="invalid"
            )
        return holder
