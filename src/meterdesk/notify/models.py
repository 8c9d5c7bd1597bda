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
    DEBT_WARNING = "debt_warning", _("a warning of the debt (Decree 354 p. 119)")
    INSPECTION_SCHEDULED = "inspection_scheduled", _("an inspection of the meter is scheduled")
    SUPPORT_ANSWER = "support_answer", _("support has answered")
    SERVICE_SCHEDULED = "service_scheduled", _("an ordered service is scheduled")
    PROGRAMME_WIN = "programme_win", _("a prize of the programme is won")


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
            # The sender's claim, in its order: what is still to send, soonest first.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="notice_due_in_order",
                condition=models.Q(sent_at__isnull=True, failed_at__isnull=True),
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


class DebtStage(models.TextChoices):
    WARNED = "warned", _("warning stored, not delivered yet")
    DELIVERED = "delivered", _("warning delivered, time to pay running")
    RESTRICTION_DUE = "restriction_due", _("unpaid: supply may be restricted")
    SUSPENSION_DUE = "suspension_due", _("unpaid: supply may be suspended")
    PAID = "paid", _("paid")


class Delivery(models.TextChoices):
    NOTICE = "notice", _("by the notices (e-mail, SMS, personal account)")
    HAND = "hand", _("by hand, against signature")
    POST = "post", _("by registered post")


class DebtCase(models.Model):
    """A household's debt over the rules' threshold, from the warning to its payment (Decree 354
    pp. 117–119, the rules profile's ``debt_notice``): staff act on the open ones by stage."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="debt_cases", verbose_name=_("account")
    )
    period = models.DateField(_("month"), help_text=_("the month whose statement showed the debt"))
    debt = models.DecimalField(_("debt"), max_digits=14, decimal_places=2)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=2)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("warning delivered at"), null=True, blank=True)
    pay_by = models.DateField(_("to pay by"), null=True, blank=True)
    suspension_from = models.DateField(_("suspension possible from"), null=True, blank=True)
    delivery = models.CharField(
        _("delivered"), max_length=8, choices=Delivery.choices, blank=True, default=""
    )
    stage = models.CharField(_("stage"), max_length=16, choices=DebtStage.choices, default=DebtStage.WARNED)
    # What staff did (meterdesk restricts nothing itself): the days the supply was restricted, suspended.
    restricted_on = models.DateField(_("supply restricted on"), null=True, blank=True)
    suspended_on = models.DateField(_("supply suspended on"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("debt case")
        verbose_name_plural = _("debt cases")
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(closed_at__isnull=True), name="debt_case_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period:%Y-%m} {self.stage}"
