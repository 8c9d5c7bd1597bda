"""Reminders and notices to households: each one stored once, by a key naming its event, before it
is sent (docs/notifications.md); and each login's choices of what it gets by which channel."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account


class Topic(models.TextChoices):
    WINDOW_OPEN = "window_open", _("the readings window has opened")
    WINDOW_CLOSING = "window_closing", _("the readings window closes soon")
    BILL_READY = "bill_ready", _("the month's bill is ready")
    PAYMENT_RECEIVED = "payment_received", _("a payment is received")
    VERIFICATION_DUE = "verification_due", _("a meter's verification is due")


class NoticeChannel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    SMS = "sms", _("SMS")
    CABINET = "cabinet", _("personal account")


#: What a login gets when it has chosen nothing: e-mail and the personal account; SMS (it costs the
#: utility money and reaches a phone at any hour) only when asked for.
DEFAULT_ON = {NoticeChannel.EMAIL: True, NoticeChannel.SMS: False, NoticeChannel.CABINET: True}


class Notice(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices", verbose_name=_("login")
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("account")
    )
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=NoticeChannel.choices)
    # The event it tells of, once per login and channel: "window_open:2026-12:<account>:<login>:email".
    key = models.CharField(_("event"), max_length=120, unique=True)
    to = models.CharField(_("to"), max_length=254, blank=True, default="")
    language = models.CharField(_("language"), max_length=8, default="ru")
    subject = models.CharField(_("subject"), max_length=200, blank=True, default="")
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("given up at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="notice_due", condition=models.Q(sent_at__isnull=True)
            ),
            models.Index(fields=["user", "channel", "-created_at"], name="notice_of_login"),
        ]

    def __str__(self) -> str:
        return self.key


class Preference(models.Model):
    """A login's choice for one topic and channel (none stored: ``DEFAULT_ON``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notice_preferences",
        verbose_name=_("login"),
    )
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=NoticeChannel.choices)
    enabled = models.BooleanField(_("on"))
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("notice preference")
        verbose_name_plural = _("notice preferences")
        constraints = [models.UniqueConstraint(fields=["user", "topic", "channel"], name="preference_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.topic} {self.channel} {self.enabled}"
