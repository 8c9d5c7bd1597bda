"""The office terminals (docs/terminal.md): each touch screen registered by staff, the sessions
held on it and the readings given through it (per-device counts for the statistics)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account
from meterdesk.metering.models import Reading


class Terminal(models.Model):
    """A registered touch screen. Only hashes of its secrets are kept: the enrolment link (shown
    once to staff, opened once on the device) and the key the device then holds in a signed
    cookie. A revoked terminal shows nothing but a notice."""

    name = models.CharField(_("name"), max_length=100)
    location = models.CharField(_("office / location"), max_length=200)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    enrolment_hash = models.CharField(
        _("enrolment link hash"), max_length=64, blank=True, default="", editable=False
    )
    enrolment_expires_at = models.DateTimeField(
        _("enrolment link expires at"), null=True, blank=True, editable=False
    )
    key_hash = models.CharField(_("device key hash"), max_length=64, blank=True, default="", editable=False)
    enrolled_at = models.DateTimeField(_("enrolled at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("office terminal")
        verbose_name_plural = _("office terminals")

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class SessionEnd(models.TextChoices):
    FINISH = "finish", _("finished by the customer")
    TIMEOUT = "timeout", _("ended after inactivity")


class TerminalSession(models.Model):
    """One household's use of a terminal, from identification to "Finish" or inactivity."""

    terminal = models.ForeignKey(
        Terminal, on_delete=models.PROTECT, related_name="sessions", verbose_name=_("office terminal")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("personal account")
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end = models.CharField(
        _("how it ended"), max_length=10, choices=SessionEnd.choices, blank=True, default=""
    )

    class Meta:
        verbose_name = _("terminal session")
        verbose_name_plural = _("terminal sessions")
        indexes = [models.Index(fields=["terminal", "started_at"])]

    def __str__(self) -> str:
        return f"{self.terminal_id}: {self.started_at:%Y-%m-%d %H:%M}"


class TerminalReading(models.Model):
    """A reading given at a terminal (its channel is ``terminal``): which device and session."""

    reading = models.OneToOneField(
        Reading, on_delete=models.PROTECT, related_name="+", verbose_name=_("reading")
    )
    session = models.ForeignKey(
        TerminalSession, on_delete=models.PROTECT, related_name="readings", verbose_name=_("terminal session")
    )
    terminal = models.ForeignKey(
        Terminal, on_delete=models.PROTECT, related_name="readings", verbose_name=_("office terminal")
    )

    class Meta:
        verbose_name = _("reading at a terminal")
        verbose_name_plural = _("readings at terminals")

    def __str__(self) -> str:
        return f"{self.terminal_id}: {self.reading_id}"
