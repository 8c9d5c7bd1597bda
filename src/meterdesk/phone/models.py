"""The phone line's data: the customer offices it names (reference data with their coordinates),
the coordinates of the buildings it serves, every call with its path, and callback requests."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account


class Office(models.Model):
    """A customer office: the line names the nearest to the caller's building, with its hours."""

    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    hours_ru = models.CharField(_("hours (Russian)"), max_length=300)
    hours_en = models.CharField(_("hours (English)"), max_length=300)
    active = models.BooleanField(_("open to the public"), default=True)

    class Meta:
        verbose_name = _("customer office")
        verbose_name_plural = _("customer offices")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class OfficeVersion(models.Model):
    """An office's name, address, place, hours and whether it is open, from a day on: the office
    as of a day is its latest version starting on or before it; before the first version, the
    office's own row. Never edited (the back office adds one; docs/adr/0023)."""

    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="versions")
    valid_from = models.DateField(_("valid from"))
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    hours_ru = models.CharField(_("hours (Russian)"), max_length=300)
    hours_en = models.CharField(_("hours (English)"), max_length=300)
    active = models.BooleanField(_("open to the public"), default=True)

    class Meta:
        verbose_name = _("office version")
        verbose_name_plural = _("office versions")
        constraints = [
            models.UniqueConstraint(fields=["office", "valid_from"], name="phone_office_version_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.name} from {self.valid_from}"


class Building(models.Model):
    """Where a building stands, by the street and house of the accounts' addresses
    (``phone.backend.street_house``): the nearest office is measured from it."""

    street_house = models.CharField(_("street and house"), max_length=200, unique=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")

    def __str__(self) -> str:
        return self.street_house


class Outcome(models.TextChoices):
    READING = "reading", _("reading given")
    INFORMED = "informed", _("information given")
    OPERATOR = "operator", _("transferred to an operator")
    CALLBACK = "callback", _("callback requested")
    NOT_IDENTIFIED = "not_identified", _("not identified")
    ABANDONED = "abandoned", _("abandoned")


class Call(models.Model):
    """One call to the line: who called, which account it was identified as, the path through the
    dialog and the keys pressed (no card data ever: the line takes none), how it ended."""

    caller = models.CharField(_("calling number"), max_length=32, blank=True, default="")
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("personal account"),
    )
    via = models.CharField(_("via"), max_length=10, default="sip")
    language = models.CharField(_("language"), max_length=8, default="ru")
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    path = models.TextField(_("path through the dialog"), blank=True, default="")
    inputs = models.TextField(_("keys pressed"), blank=True, default="")
    topics = models.CharField(_("topics"), max_length=200, blank=True, default="")
    readings = models.PositiveSmallIntegerField(_("readings stored"), default=0)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["started_at"], name="phone_call_started_idx")]

    def __str__(self) -> str:
        return f"{self.caller or '?'} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


class CallbackTopic(models.TextChoices):
    METER_INSTALLATION = "meter_installation", _("meter installation or replacement")
    VERIFICATION = "verification", _("meter verification")
    OPERATOR = "operator", _("a question for an operator")


class CallbackRequest(models.Model):
    """A caller's request to be called back, which staff see and close."""

    number = models.CharField(_("number to call"), max_length=32)
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="callbacks",
        verbose_name=_("personal account"),
    )
    topic = models.CharField(_("topic"), max_length=30, choices=CallbackTopic.choices)
    asked_at = models.DateTimeField(_("asked at"), default=timezone.now)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("callback request")
        verbose_name_plural = _("callback requests")
        ordering = ["-asked_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.number} {self.get_topic_display()}"
