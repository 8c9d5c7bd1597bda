"""The writes of support: a customer's question and further messages; staff's assignment,
answers, notes and statuses, each recorded in the back office's audit (django-auditlog's
``LogEntry``, the shape of ``backoffice.audit``); overdue threads escalated."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from meterdesk.customers.models import Account, User
from meterdesk.support.attachments import Upload, file_path, file_store, uploads_check
from meterdesk.support.due import OPEN, due_at
from meterdesk.support.models import Attachment, Kind, Message, Source, Status, Thread
from meterdesk.utility.selectors import utility_get

log = logging.getLogger(__name__)

MAX_TEXT = 4000
#: A login's messages to support in 24 hours: enough for any question, and a bound on the files a
#: login can make the utility store (3 files of 5 MB a message).
MAX_A_DAY = 20

EMPTY_TEXT = "text_empty"
LONG_TEXT = "text_too_long"
TOO_MANY_MESSAGES = "messages_too_many"


class TextError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class TooManyMessages(Exception):
    code = TOO_MANY_MESSAGES


def _customer_limit(user: User) -> None:
    since = timezone.now() - timedelta(hours=24)
    if Message.objects.filter(author=user, kind=Kind.CUSTOMER, created_at__gte=since).count() >= MAX_A_DAY:
        raise TooManyMessages


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise TextError(EMPTY_TEXT)
    if len(text) > MAX_TEXT:
        raise TextError(LONG_TEXT)
    return text


def _message_add(
    thread: Thread, *, kind: str, author: User | None, text: str, uploads: Sequence[Upload] = ()
) -> Message:
    """The message and its files; the files are checked before anything is written and removed
    again should the transaction fail."""
    checked = uploads_check(list(uploads))
    message = Message.objects.create(thread=thread, kind=kind, author=author, text=text)
    written: list[str] = []
    try:
        for item in checked:
            stored, digest = file_store(item)
            written.append(stored)
            Attachment.objects.create(
                message=message,
                name=item.name,
                content_type=item.content_type,
                size=len(item.data),
                stored=stored,
                sha256=digest,
            )
    except BaseException:
        _remove(written)
        raise
    return message


def _remove(stored: Iterable[str]) -> None:
    for name in stored:
        try:
            file_path(name).unlink()
        except OSError:
            log.warning("could not remove support file %s", name)


@transaction.atomic
def thread_open(
    *,
    user: User,
    account: Account | None,
    topic: str,
    text: str,
    uploads: Sequence[Upload] = (),
    source: str = Source.WEB,
) -> Thread:
    """A customer's question (``account`` is one of ``user``'s, checked by the caller)."""
    text = _text(text)
    _customer_limit(user)
    now = timezone.now()
    thread = Thread.objects.create(
        user=user,
        account=account,
        topic=topic,
        source=source,
        contact=user.email,
        created_at=now,
        updated_at=now,
        due_at=due_at(topic, now),
    )
    _message_add(thread, kind=Kind.CUSTOMER, author=user, text=text, uploads=uploads)
    return thread


@transaction.atomic
def thread_customer_write(
    *, user: User, thread: Thread, text: str, uploads: Sequence[Upload] = ()
) -> Message:
    """The customer writes again in their thread: it goes back to staff, with a new due time."""
    text = _text(text)
    _customer_limit(user)
    locked = Thread.objects.select_for_update().get(pk=thread.pk, user=user)
    message = _message_add(locked, kind=Kind.CUSTOMER, author=user, text=text, uploads=uploads)
    now = timezone.now()
    locked.status = Status.NEW if locked.assigned_to_id is None else Status.IN_PROGRESS
    locked.due_at = due_at(locked.topic, now)
    locked.updated_at = now
    locked.closed_at = None
    locked.escalated_at = None
    locked.save(update_fields=["status", "due_at", "updated_at", "closed_at", "escalated_at"])
    thread.refresh_from_db()
    return message


# --- staff ------------------------------------------------------------------------------------------


def _audit(
    *, actor: User | None, thread: Thread, changes: dict[str, tuple[object, object]], what: str
) -> LogEntry:
    """One row of the back office's audit for ``thread`` (who, when, before and after, what)."""
    entry = LogEntry.objects.log_create(
        thread,
        action=LogEntry.Action.UPDATE,
        changes={
            field: [None if a is None else str(a), None if b is None else str(b)]
            for field, (a, b) in changes.items()
        },
        actor=actor,
        actor_email=actor.email if actor else "",
        additional_data={
            "account": thread.account.number if thread.account else "",
            "reason": "",
            "support": what,
        },
        force_log=True,
    )
    assert entry is not None  # noqa: S101 - force_log always writes
    return entry


def _locked(thread: Thread) -> Thread:
    return Thread.objects.select_related("account", "user").select_for_update(of=("self",)).get(pk=thread.pk)


@transaction.atomic
def thread_assign(*, staff: User, thread: Thread, assignee: User | None) -> None:
    locked = _locked(thread)
    before = locked.assigned_to
    if before == assignee:
        return
    locked.assigned_to = assignee
    changes: dict[str, tuple[object, object]] = {
        "assigned_to": (before.email if before else None, assignee.email if assignee else None)
    }
    if assignee is not None and locked.status == Status.NEW:
        locked.status = Status.IN_PROGRESS
        changes["status"] = (Status.NEW, Status.IN_PROGRESS)
    locked.updated_at = timezone.now()
    locked.save(update_fields=["assigned_to", "status", "updated_at"])
    _audit(actor=staff, thread=locked, changes=changes, what="assign")
    thread.refresh_from_db()


def _status_change(locked: Thread, status: str, now: datetime) -> dict[str, tuple[object, object]]:
    before = locked.status
    if before == status:
        return {}
    locked.status = status
    locked.closed_at = now if status == Status.CLOSED else None
    if status in OPEN and before not in OPEN:
        locked.due_at = due_at(locked.topic, now)
        locked.escalated_at = None
    return {"status": (before, status)}


def _callback_done(thread: Thread, now: datetime) -> None:
    """A callback request's thread closed: the phone line's request is done too."""
    if thread.source == Source.PHONE and thread.source_ref:
        from django.apps import apps

        if apps.is_installed("meterdesk.phone"):
            model = apps.get_model("phone", "CallbackRequest")
            model.objects.filter(pk=thread.source_ref, done_at__isnull=True).update(done_at=now)


@transaction.atomic
def thread_status_set(*, staff: User, thread: Thread, status: str) -> None:
    locked = _locked(thread)
    now = timezone.now()
    changes = _status_change(locked, status, now)
    if not changes:
        return
    locked.updated_at = now
    locked.save(update_fields=["status", "closed_at", "due_at", "escalated_at", "updated_at"])
    if status == Status.CLOSED:
        _callback_done(locked, now)
    _audit(actor=staff, thread=locked, changes=changes, what="status")
    thread.refresh_from_db()


@transaction.atomic
def thread_note(*, staff: User, thread: Thread, text: str) -> Message:
    """An internal note: staff see it; the customer never does."""
    locked = _locked(thread)
    message = _message_add(locked, kind=Kind.NOTE, author=staff, text=_text(text))
    _audit(actor=staff, thread=locked, changes={"note": (None, message.pk)}, what="note")
    return message


@transaction.atomic
def thread_answer(*, staff: User, thread: Thread, text: str, status: str = Status.WAITING) -> Message:
    """Staff answer: the customer sees it in the personal account and is told by e-mail (after
    the commit; a failure to send is logged and undoes nothing)."""
    locked = _locked(thread)
    message = _message_add(locked, kind=Kind.ANSWER, author=staff, text=_text(text))
    now = timezone.now()
    changes: dict[str, tuple[object, object]] = {"answer": (None, message.pk)}
    if locked.assigned_to_id is None:
        locked.assigned_to = staff
        changes["assigned_to"] = (None, staff.email)
    changes.update(_status_change(locked, status, now))
    locked.updated_at = now
    locked.save(update_fields=["assigned_to", "status", "closed_at", "due_at", "escalated_at", "updated_at"])
    if status == Status.CLOSED:
        _callback_done(locked, now)
    _audit(actor=staff, thread=locked, changes=changes, what="answer")
    transaction.on_commit(lambda: answer_mail(locked, message))
    return message


def answer_notice(thread: Thread, message: Message, url: str) -> None:
    """Tell the thread's login of an answer by its channels (a notice, stored once per answer and
    sent by the notices' sender; docs/notifications.md)."""
    from meterdesk.notify.models import Topic as NoticeTopic
    from meterdesk.notify.prepare import Event, notices_store

    user = thread.user
    if user is None:
        return
    account = thread.account or Account.objects.filter(links__user=user).order_by("pk").first()
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = str(thread.get_topic_display())
    values = {"number": account.number if account else "", "subject": subject, "link": url}
    event = Event(
        user.pk, account.pk if account else None, f"{message.pk}", user.email, user.language, values
    )
    notices_store(NoticeTopic.SUPPORT_ANSWER, [event])


def answer_mail(thread: Thread, message: Message) -> None:
    """The answer told: to the login by its notices, or by letter to the address a letter came
    from."""
    url = settings.METERDESK_SITE_URL + reverse("support:thread", args=[thread.pk])
    context = {"thread": thread, "message": message, "url": url if thread.user_id else ""}
    if thread.user is not None:
        answer_notice(thread, message, url)
        return
    if thread.source != Source.MAIL or "@" not in thread.contact:
        return  # a callback is answered by calling back
    with translation.override(settings.LANGUAGE_CODE):
        context = {**context, "utility": utility_get()}
        subject = " ".join(render_to_string("support/email/answer_subject.txt", context).split())
        body = render_to_string("support/email/answer.txt", context)
    try:
        EmailMessage(subject, body, None, [thread.contact]).send()
    except Exception:
        log.exception("could not send the answer of support thread %s", thread.pk)


@transaction.atomic
def threads_escalate(*, now: datetime | None = None) -> list[Thread]:
    """Mark the threads past their due time (and not yet escalated) as escalated to a
    supervisor; the audit has a row for each. The threads marked."""
    now = now or timezone.now()
    found = list(
        Thread.objects.select_for_update(skip_locked=True)
        .filter(status__in=OPEN, due_at__lt=now, escalated_at__isnull=True)
        .order_by("due_at")
    )
    for thread in found:
        thread.escalated_at = now
        thread.save(update_fields=["escalated_at"])
        _audit(actor=None, thread=thread, changes={"escalated_at": (None, now.isoformat())}, what="escalate")
    return found


def escalation_mail(threads: Sequence[Thread], supervisors: Sequence[str]) -> None:
    """One letter to the supervisors listing the threads just escalated."""
    if not threads or not supervisors:
        return
    site = settings.METERDESK_SITE_URL
    with translation.override(settings.LANGUAGE_CODE):
        context = {"rows": [(t, site + reverse("backoffice:support_thread", args=[t.pk])) for t in threads]}
        subject = " ".join(render_to_string("support/email/escalated_subject.txt", context).split())
        body = render_to_string("support/email/escalated.txt", context)
    EmailMessage(subject, body, None, list(supervisors)).send()
