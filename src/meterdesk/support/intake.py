"""Callback requests of the phone line and letters the mail channel could not understand, brought
into the support queue as threads, once each. The channels sit above support, so their models are
looked up by name (``apps.get_model``), not imported."""

from __future__ import annotations

import email
import email.policy
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from meterdesk.customers.models import User
from meterdesk.metering.selectors import accounts_for_user
from meterdesk.support.due import due_at
from meterdesk.support.models import Kind, Message, Source, Thread, Topic
from meterdesk.support.services import MAX_TEXT

#: The phone line's callback topics in support's terms.
CALLBACK_TOPICS = {"meter_installation": Topic.METER, "verification": Topic.METER}


def _model(app: str, name: str) -> Any:
    return apps.get_model(app, name) if apps.is_installed(f"meterdesk.{app}") else None


def _known(source: str) -> set[str]:
    return set(Thread.objects.filter(source=source).values_list("source_ref", flat=True))


def _create(*, source: str, ref: str, topic: str, text: str, at: Any, **fields: Any) -> bool:
    try:
        with transaction.atomic():
            thread = Thread.objects.create(
                source=source,
                source_ref=ref,
                topic=topic,
                created_at=at,
                updated_at=at,
                due_at=due_at(topic, at),
                **fields,
            )
            Message.objects.create(thread=thread, kind=Kind.CUSTOMER, text=text[:MAX_TEXT], created_at=at)
    except IntegrityError:  # another request brought it in first
        return False
    return True


def callbacks_take() -> int:
    model = _model("phone", "CallbackRequest")
    if model is None:
        return 0
    known = _known(Source.PHONE)
    made = 0
    for request in model.objects.filter(done_at__isnull=True).select_related("account").order_by("pk"):
        if str(request.pk) in known:
            continue
        text = _("Please call back on %(number)s: %(topic)s.") % {
            "number": request.number,
            "topic": request.get_topic_display(),
        }
        made += _create(
            source=Source.PHONE,
            ref=str(request.pk),
            topic=CALLBACK_TOPICS.get(request.topic, Topic.OTHER),
            text=text,
            at=request.asked_at,
            account=request.account,
            contact=request.number,
        )
    return made


def _letter_text(raw: bytes, subject: str) -> str:
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        content = body.get_content() if body is not None else ""
    except Exception:  # a letter that does not parse is shown by its subject
        content = ""
    return "\n\n".join(part for part in (subject, str(content).strip()) if part) or _("(an empty letter)")


def letters_take() -> int:
    model = _model("mail", "Letter")
    if model is None:
        return 0
    known = _known(Source.MAIL)
    made = 0
    waiting = model.objects.filter(
        Q(outcome="not_understood") | Q(status="failed"), resolved_at__isnull=True
    ).order_by("pk")
    for letter in waiting.only("pk", "sender", "mail_from", "subject", "raw", "received_at", "verified"):
        if str(letter.pk) in known:
            continue
        sender = letter.sender or letter.mail_from
        # Only a letter whose origin the mail channel verified (DKIM, SPF) is shown to the login
        # of its sender: a forged From must not put text into someone's personal account.
        user = (
            User.objects.filter(email__iexact=sender, email_verified_at__isnull=False).first()
            if sender and letter.verified
            else None
        )
        accounts = list(accounts_for_user(user)[:2]) if user is not None else []
        made += _create(
            source=Source.MAIL,
            ref=str(letter.pk),
            topic=Topic.READINGS,
            text=_letter_text(bytes(letter.raw), letter.subject),
            at=letter.received_at,
            user=user,
            account=accounts[0] if len(accounts) == 1 else None,
            contact=sender,
        )
    return made


def queue_intake() -> int:
    """Bring in what the phone line and the mail channel left for staff; how many threads."""
    with translation.override(settings.LANGUAGE_CODE):
        return callbacks_take() + letters_take()
