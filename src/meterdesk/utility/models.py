"""The utility that runs this installation: its name, time zone, reading window, bank details."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise


def validate_rules_profile(code: str) -> None:
    """A rules profile is a data file (domain/profiles/<code>.json): any file there is valid."""
    from meterdesk.domain.profiles import profile_codes

    if code not in profile_codes():
        raise ValidationError(
            _("Unknown rules profile %(code)s (known: %(known)s)."),
            params={"code": code, "known": ", ".join(profile_codes())},
        )


def _number(label: _StrOrPromise, digits: int, pattern: str = "") -> models.CharField[str, str]:
    """An optional number of a bill's payee details (INN, BIC, an account …): ``digits`` digits,
    or what ``pattern`` allows; empty while not given."""
    validator = RegexValidator(pattern or rf"^\d{{{digits}}}$")
    return models.CharField(label, max_length=digits, blank=True, default="", validators=[validator])


class UtilitySettings(models.Model):
    """One row: the settings of the utility. Read it with ``utility.selectors.utility_get``."""

    # Until the operator fills them in (docs/operations.md): no real company's name.
    name = models.CharField(_("name"), max_length=200, default="Энергосбытовая компания")
    short_name = models.CharField(_("short name"), max_length=60, default="Энергосбыт")
    time_zone = models.CharField(_("time zone"), max_length=60, default="Europe/Moscow")
    window_start_day = models.PositiveSmallIntegerField(
        _("reading window opens on day"), default=15, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    window_end_day = models.PositiveSmallIntegerField(
        _("reading window closes after day"),
        default=26,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
    )
    rules_profile = models.CharField(
        _("rules profile"),
        max_length=40,
        default="ru-354-current",
        validators=[validate_rules_profile],
        help_text=_("The billing rules: a profile file in domain/profiles (ru-354-current, ru-354-2012, …)."),
    )
    tariff_region = models.CharField(_("tariff region"), max_length=40, default="moscow")
    address = models.CharField(_("address"), max_length=300, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="")
    support_email = models.EmailField(_("support e-mail"), blank=True, default="")
    inn = _number(_("INN"), 12, r"^(\d{10}|\d{12})$")  # 10 digits for a company, 12 for a person
    kpp = _number(_("KPP"), 9)
    bank_name = models.CharField(_("bank"), max_length=200, blank=True, default="")
    bic = _number(_("BIC"), 9)
    settlement_account = _number(_("settlement account"), 20)
    correspondent_account = _number(_("correspondent account"), 20)

    class Meta:
        verbose_name = _("utility settings")
        verbose_name_plural = _("utility settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_start_day__lte=models.F("window_end_day")),
                name="utility_window_start_before_end",
            ),
            models.CheckConstraint(
                condition=models.Q(window_start_day__gte=1, window_end_day__lte=31),
                name="utility_window_days_in_month",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReferenceStamp(models.Model):
    """A value that changes (by database triggers, in the same transaction) whenever the reference
    data changes: the utility's settings, tariffs with their prices and bands, consumption norms.

    Each process keeps that data in memory (``utility.selectors.reference_get``) and reads only
    this one row to know whether its copy is still current, however the data was changed: the
    admin, the import, another process, raw SQL. The triggers are in the migration that creates
    this table; the row is absent until the first change after the table was created or emptied.
    """

    name = models.CharField(_("name"), max_length=20, primary_key=True)
    stamp = models.BigIntegerField(_("stamp"))

    class Meta:
        verbose_name = _("reference data stamp")
        verbose_name_plural = _("reference data stamps")

    def __str__(self) -> str:
        return f"{self.name}: {self.stamp}"


class ReadingWindowVersion(models.Model):
    """The reading window from a month on: a month's window is the latest version that starts on
    or before its first day; before the first version, the utility's settings. Versions start on
    the first day of a month and are never edited (the back office adds one; docs/adr/0023)."""

    valid_from = models.DateField(_("valid from"), unique=True)
    start_day = models.PositiveSmallIntegerField(
        _("reading window opens on day"), validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    end_day = models.PositiveSmallIntegerField(
        _("reading window closes after day"), validators=[MinValueValidator(1), MaxValueValidator(31)]
    )

    class Meta:
        verbose_name = _("reading window")
        verbose_name_plural = _("reading windows")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_day__gte=1, start_day__lte=models.F("end_day"), end_day__lte=31),
                name="reading_window_version_days",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start_day}-{self.end_day} from {self.valid_from}"


class BankDetailsVersion(models.Model):
    """The payee's bank details from a day on: a bill of month M prints the version valid on M's
    bill date (the 1st of the month after M) as known when M was closed; before the first
    version, the utility's settings. Never edited (the back office adds one; docs/adr/0023)."""

    valid_from = models.DateField(_("valid from"), unique=True)
    bank_name = models.CharField(_("bank"), max_length=200)
    bic = _number(_("BIC"), 9)
    settlement_account = _number(_("settlement account"), 20)
    correspondent_account = _number(_("correspondent account"), 20)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("bank details")
        verbose_name_plural = _("bank details")

    def __str__(self) -> str:
        return f"{self.bank_name} {self.settlement_account} from {self.valid_from}"


class RulesProfileVersion(models.Model):
    """The rules profile from a month on: month M is billed by the latest version starting on or
    before its first day; before the first version, the utility's settings. A closed month keeps
    the profile its close recorded (``BillingRun.rules_profile``). Never edited (docs/adr/0023)."""

    valid_from = models.DateField(_("valid from"), unique=True)
    code = models.CharField(_("rules profile"), max_length=40, validators=[validate_rules_profile])

    class Meta:
        verbose_name = _("rules profile version")
        verbose_name_plural = _("rules profile versions")

    def __str__(self) -> str:
        return f"{self.code} from {self.valid_from}"
