"""Inspections of meters (Decree 354 pp. 82–85): planned, told to the household, visited.

A visit ends as ``done`` (with the control reading, the seals, the meter's condition and a photo) or
``refused`` (the household did not let the inspector reach the meter: an act of refusal). The
photo's bytes are kept under the data directory by a random name (``inspections.photos``), never
where the web server serves files; staff see it through a view that checks the role."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meterdesk.metering.models import Meter, Reading


class Reason(models.TextChoices):
    ANNUAL = "annual", _("yearly check")
    SILENT = "silent", _("no readings for six months")
    REQUESTED = "requested", _("requested")


class Status(models.TextChoices):
    PLANNED = "planned", _("planned")
    NOTIFIED = "notified", _("household notified")
    DONE = "done", _("done")
    REFUSED = "refused", _("access refused")
    CANCELLED = "cancelled", _("cancelled")


#: An inspection still to be visited: at most one per meter.
OPEN = (Status.PLANNED, Status.NOTIFIED)


class Condition(models.TextChoices):
    OK = "ok", _("in order")
    SEAL_BROKEN = "seal_broken", _("seal broken")
    DAMAGED = "damaged", _("damaged")
    NOT_WORKING = "not_working", _("not working")


class Inspection(models.Model):
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("meter")
    )
    planned_on = models.DateField(_("planned on"))
    hours_from = models.TimeField(_("from"))
    hours_to = models.TimeField(_("to"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("inspector"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    #: The place in the inspector's route of the day (by street and house).
    route_order = models.PositiveIntegerField(_("order in the route"), default=0)
    street = models.CharField(_("street"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    visited_at = models.DateTimeField(_("visited at"), null=True, blank=True)
    reading = models.OneToOneField(
        Reading,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspection",
        verbose_name=_("control reading"),
    )
    seals = models.CharField(_("seal numbers"), max_length=200, blank=True, default="")
    condition = models.CharField(_("meter condition"), max_length=12, choices=Condition.choices, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True, default="")
    photo = models.CharField(_("photo (stored name)"), max_length=100, blank=True, default="")
    photo_type = models.CharField(_("photo type"), max_length=30, blank=True, default="")
    photo_sha256 = models.CharField(_("photo SHA-256"), max_length=64, blank=True, default="")
    #: The act of a refusal of access: its number among the meter's refusals in a row (p.85).
    refusals_in_row = models.PositiveSmallIntegerField(_("refusals in a row"), default=0)
    cancel_reason = models.CharField(_("why cancelled"), max_length=300, blank=True, default="")
    #: The key the inspector's phone gave the visit's form: a form sent again is answered from it.
    client_key = models.CharField(_("client key"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        constraints = [
            models.UniqueConstraint(
                fields=["meter"],
                condition=models.Q(status__in=["planned", "notified"]),
                name="inspection_one_open_per_meter",
            ),
            models.UniqueConstraint(
                fields=["client_key"], condition=~models.Q(client_key=""), name="inspection_client_key_once"
            ),
            models.CheckConstraint(
                condition=models.Q(hours_from__lt=models.F("hours_to")), name="inspection_hours"
            ),
        ]
        indexes = [
            models.Index(fields=["planned_on", "inspector"]),
            models.Index(fields=["meter", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.meter.serial} {self.planned_on:%d.%m.%Y}"

    @property
    def hours(self) -> str:
        return f"{self.hours_from:%H:%M}–{self.hours_to:%H:%M}"
