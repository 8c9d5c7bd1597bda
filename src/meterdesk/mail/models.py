"""Letters with readings: each raw letter with its envelope (stored before the SMTP server says
250, or before the mailbox's copy is marked), what came of it, the readings it gave, and the
answers sent back (an outbox: stored with the outcome, sent by the task workers)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from meterdesk.metering.models import Meter, Reading


class Via(models.TextChoices):
    SMTP = "smtp", _("own mail server")
    IMAP = "imap", _("mailbox")
    STAFF = "staff", _("keyed by staff")


class Status(models.TextChoices):
    RECEIVED = "received", _("waiting to be processed")
    DONE = "done", _("processed")
    FAILED = "failed", _("could not be processed")


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", _("readings accepted")
    PARTLY = "partly", _("some readings accepted")
    REFUSED = "refused", _("readings refused")
    NOT_UNDERSTOOD = "not_understood", _("not understood")
    AUTOMATIC = "automatic", _("automatic letter, not answered")
    DUPLICATE = "duplicate", _("a copy of a letter already processed")


class Letter(models.Model):
    """One letter as it arrived, and what came of it."""

    via = models.CharField(_("arrived through"), max_length=10, choices=Via.choices)
    received_at = models.DateTimeField(_("received at"))
    # The SMTP envelope: the return path ("" for a bounce), the recipients, the client.
    mail_from = models.CharField(_("envelope sender"), max_length=500, blank=True, default="")
    rcpt_to = models.TextField(_("envelope recipients"), blank=True, default="")
    peer = models.CharField(_("sent from"), max_length=200, blank=True, default="")
    helo = models.CharField(_("HELO name"), max_length=255, blank=True, default="")
    raw = models.BinaryField(_("raw source"))
    size = models.PositiveIntegerField(_("size, bytes"))
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # When the letter is due to be (tried again to be) processed: a task is enqueued with the
    # letter; should its worker die, the sweep of ``meterdesk mail serve`` enqueues it again then.
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error"), blank=True, default="")
    # What was read and decided (once processed).
    sender = models.CharField(_("from"), max_length=254, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=500, blank=True, default="")
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    verified = models.BooleanField(_("origin verified"), default=False)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True, default="")
    #: why no answer was sent ("" when one was)
    unanswered = models.CharField(_("not answered because"), max_length=100, blank=True, default="")
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # A letter not understood waits for staff, who key its reading (which answers the sender).
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )

    class Meta:
        verbose_name = _("letter")
        verbose_name_plural = _("letters")
        indexes = [
            models.Index(fields=["message_id"], name="mail_letter_message_id"),
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status="received"),
                name="mail_letter_pending",
            ),
            models.Index(fields=["received_at"], name="mail_letter_received"),
        ]

    def __str__(self) -> str:
        return f"{self.sender or self.mail_from or '?'}: {self.subject}"[:120]


class Item(models.Model):
    """One meter's readings read from a letter, and what the core said of them."""

    letter = models.ForeignKey(
        Letter, on_delete=models.CASCADE, related_name="items", verbose_name=_("letter")
    )
    account_number = models.CharField(_("account number"), max_length=20, blank=True, default="")
    serial = models.CharField(_("meter serial"), max_length=40, blank=True, default="")
    values = models.CharField(_("values"), max_length=200, blank=True, default="")
    meter = models.ForeignKey(
        Meter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("meter")
    )
    #: ``accepted``, the core's refusal code, or this channel's own (``unknown_account`` …)
    code = models.CharField(_("outcome"), max_length=40)
    reading = models.ForeignKey(
        Reading, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("reading")
    )
    #: the confirmations asked for (``CheckedReading.token``), comma-separated: a reply "yes"
    #: sends them back
    confirm = models.CharField(_("confirmations asked"), max_length=300, blank=True, default="")
    login_id = models.BigIntegerField(_("login"), null=True, blank=True)
    #: each value's problem as ``zone:code``, comma-separated (what the answer explained)
    issues = models.CharField(_("problems"), max_length=300, blank=True, default="")
    #: the month's charge the answer showed (``billing.preview.charge_dumps``)
    charge = models.TextField(_("charge"), blank=True, default="")

    class Meta:
        verbose_name = _("reading in a letter")
        verbose_name_plural = _("readings in letters")

    def __str__(self) -> str:
        return f"{self.account_number} {self.serial} {self.values}: {self.code}"


class Answer(models.Model):
    """An answer to a letter: stored with the letter's outcome (so it exists if and only if the
    outcome does), sent by a task, tried again after a failure like the confirmation e-mails."""

    letter = models.ForeignKey(
        Letter, on_delete=models.CASCADE, related_name="answers", verbose_name=_("letter")
    )
    to = models.CharField(pgettext_lazy("mail recipient", "to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=500)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=8)
    message_id = models.CharField(_("Message-ID"), max_length=255)
    in_reply_to = models.CharField(_("in reply to"), max_length=255, blank=True, default="")
    references = models.TextField(_("references"), blank=True, default="")
    #: the readings whose confirmation PDF goes with it (ids, comma-separated)
    readings = models.CharField(_("readings confirmed"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("given up at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        indexes = [
            models.Index(fields=["to", "created_at"], name="mail_answer_to"),
            models.Index(fields=["message_id"], name="mail_answer_message_id"),
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(sent_at__isnull=True, failed_at__isnull=True),
                name="mail_answer_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"[:120]


class Unresolved(Letter):
    """Letters not understood (or not processed) waiting for staff: the admin's queue."""

    class Meta:
        proxy = True
        verbose_name = _("letter waiting for staff")
        verbose_name_plural = _("letters waiting for staff")
