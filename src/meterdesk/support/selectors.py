"""The reads of support: a customer's threads and what they may see of them; the staff's queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet

from meterdesk.customers.models import User
from meterdesk.support.due import overdue
from meterdesk.support.models import Attachment, CannedAnswer, Kind, Message, Status, Thread

#: What a customer is shown of a thread: never the internal notes.
SHOWN = (Kind.CUSTOMER, Kind.ANSWER)


def threads_of(user: User) -> QuerySet[Thread]:
    return Thread.objects.filter(user=user).select_related("account").order_by("-updated_at", "-pk")


def thread_of(user: User, thread_id: int) -> Thread:
    """The login's own thread, else ``Thread.DoesNotExist`` (someone else's is the same as none)."""
    return threads_of(user).get(pk=thread_id)


def messages_shown(thread: Thread, *, staff: bool = False) -> list[Message]:
    """The thread's messages with their files, oldest first; the notes only for staff."""
    found = thread.messages.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("pk"))
    )
    if not staff:
        found = found.filter(kind__in=SHOWN)
    return list(found)


def attachment_of(user: User, attachment_id: int) -> Attachment:
    """A file of a message the login may see (its own thread, not a note), else DoesNotExist."""
    return Attachment.objects.select_related("message").get(
        pk=attachment_id, message__thread__user=user, message__kind__in=SHOWN
    )


def canned_answers() -> list[CannedAnswer]:
    return list(CannedAnswer.objects.filter(active=True))


@dataclass(frozen=True)
class QueueRow:
    thread: Thread
    age: timedelta  # since the question came
    overdue: bool
    left: timedelta  # until the due time (negative once past)


@dataclass(frozen=True)
class QueueFilter:
    status: str = ""  # "" = every status but closed; "all" = every status
    topic: str = ""
    source: str = ""
    assigned: str = ""  # "" any, "me", "none"
    overdue: bool = False
    escalated: bool = False


def queue(filters: QueueFilter, *, staff: User, now: datetime, limit: int = 200) -> list[QueueRow]:
    """The queue as staff filter it: the most urgent (earliest due) first."""
    found = Thread.objects.select_related("account", "assigned_to", "user")
    if filters.status == "all":
        pass
    elif filters.status:
        found = found.filter(status=filters.status)
    else:
        found = found.exclude(status=Status.CLOSED)
    if filters.topic:
        found = found.filter(topic=filters.topic)
    if filters.source:
        found = found.filter(source=filters.source)
    if filters.assigned == "me":
        found = found.filter(assigned_to=staff)
    elif filters.assigned == "none":
        found = found.filter(assigned_to__isnull=True)
    if filters.overdue:
        found = found.filter(status__in=(Status.NEW, Status.IN_PROGRESS), due_at__lt=now)
    if filters.escalated:
        found = found.filter(Q(escalated_at__isnull=False), ~Q(status=Status.CLOSED))
    return [queue_row(thread, now) for thread in found.order_by("due_at", "pk")[:limit]]


def queue_row(thread: Thread, now: datetime) -> QueueRow:
    return QueueRow(
        thread=thread,
        age=now - thread.created_at,
        overdue=overdue(thread.status, thread.due_at, now),
        left=thread.due_at - now,
    )
