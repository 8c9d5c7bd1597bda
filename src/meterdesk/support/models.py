"""Customer support: threads of messages between a household and staff, with attachments kept
under the data directory; the queue's statuses, due times and escalation; canned answers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account


class Topic(models.TextChoices):
    READINGS = "readings", _("readings")
    BILL = "bill", _("bill")
    PAYMENT = "payment", _("payment")
    METER = "meter", _("meter")
    OTHER = "other", _("other")


class Status(models.TextChoices):
    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    WAITING = "waiting", _("waiting for customer")
    CLOSED = "closed", _("closed")


class Source(models.TextChoices):
    WEB = "web", _("personal account")
    API = "api", _("API")
    PHONE = "phone", _("callback request")
    MAIL = "mail", _("letter not understood")


class Kind(models.TextChoices):
    CUSTOMER = "customer", _("from the customer")
    ANSWER = "answer", _("answer")
    NOTE = "note", _("internal note")


class Thread(models.Model):
    """One question and everything said about it. A thread from the phone line or the mail
    channel names its origin (``source``, ``source_ref``) and may have no login."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="support_threads",
        verbose_name=_("login"),
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_threads",
        verbose_name=_("personal account"),
    )
    topic = models.CharField(_("topic"), max_length=10, choices=Topic.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.WEB)
    # The callback request's or letter's id, so that each arrives once.
    source_ref = models.CharField(_("origin"), max_length=40, blank=True, default="")
    # Who to answer when there is no login: a phone number or an e-mail address.
    contact = models.CharField(_("contact"), max_length=254, blank=True, default="")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    due_at = models.DateTimeField(_("answer due by"))
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("support thread")
        verbose_name_plural = _("support threads")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_ref"],
                condition=~models.Q(source_ref=""),
                name="support_thread_origin_once",
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="support_thread_queue"),
            models.Index(fields=["user", "-updated_at"], name="support_thread_of_login"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_topic_display()}"


class Message(models.Model):
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="messages", verbose_name=_("thread")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("support message")
        verbose_name_plural = _("support messages")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.thread_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    """A file a customer sent: its bytes are under the data directory by a random name
    (``stored``); ``name`` is only what the customer's file was called."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size, bytes"))
    stored = models.CharField(_("stored as"), max_length=80, unique=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class CannedAnswer(models.Model):
    """A ready answer to a common question, in both languages; staff insert it into a reply."""

    title = models.CharField(_("title"), max_length=120)
    topic = models.CharField(_("topic"), max_length=10, choices=Topic.choices, blank=True, default="")
    text_ru = models.TextField(_("text in Russian"))
    text_en = models.TextField(_("text in English"))
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("canned answer")
        verbose_name_plural = _("canned answers")
        ordering = ["topic", "title"]

    def __str__(self) -> str:
        return self.title

    def text(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_ru
