"""Sending the stored notices: e-mails through one connection per batch, SMS through the gateway.

As the readings' confirmations are sent (core/confirmations.py): a sender **claims** a batch of the
notices due in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), moving their next
try ``LEASE`` ahead, **sends** them, then **records** each outcome: sent; refused, to be tried again
later; or given up after ``MAX_ATTEMPTS`` (an SMS the gateway will never take — a number that is
not a mobile, a number past its messages for the day — at once). A sender killed mid-batch leaves
its notices to be claimed again when the lease runs out: a notice is never lost, and sent twice only
if the sender died between the server taking it and the record.

SMS keep **quiet hours** (``METERDESK_NOTIFY_QUIET_HOURS``, the utility's time): no SMS is claimed
then; they wait for the morning. Every e-mail carries a one-click unsubscribe link for its topic
(RFC 8058: ``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from meterdesk.notify.models import Notice, NoticeChannel
from meterdesk.sms import SmsError, sms_send
from meterdesk.utility.selectors import utility_now

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))
MAX_ATTEMPTS = 5
BATCH = 500
UNSUBSCRIBE_SALT = "meterdesk.notify.unsubscribe"


@dataclass(frozen=True)
class Sent:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    given_up: int = 0


def unsubscribe_token(user_id: int, topic: str, channel: str) -> str:
    return signing.dumps({"u": user_id, "t": topic, "c": channel}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[int, str, str]:
    """(login, topic, channel) of a link; ``signing.BadSignature`` for a forged one."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    return int(data["u"]), str(data["t"]), str(data["c"])


def quiet_now(now: datetime) -> bool:
    """Whether ``now`` falls in the quiet hours (``21:00-09:00``: across midnight)."""
    spec = str(getattr(settings, "METERDESK_NOTIFY_QUIET_HOURS", "") or "")
    if not spec:
        return False
    begin_text, _sep, end_text = spec.partition("-")
    begin, end = time.fromisoformat(begin_text.strip()), time.fromisoformat(end_text.strip())
    moment = utility_now(now=now).time()
    return (begin <= moment or moment < end) if begin > end else begin <= moment < end


def _claim(batch: int, now: datetime) -> list[Notice]:
    due = Notice.objects.filter(
        sent_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "id")
    if quiet_now(now):
        due = due.exclude(channel=NoticeChannel.SMS)
    if not due.exists():
        return []
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        notices = list(due[:batch])
        if notices:
            Notice.objects.filter(pk__in=[n.pk for n in notices]).update(
                next_attempt_at=now + LEASE, attempts=F("attempts") + 1
            )
            for notice in notices:
                notice.attempts += 1
    return notices


def _message(notice: Notice) -> EmailMessage:
    url = settings.METERDESK_SITE_URL + reverse(
        "notify:unsubscribe", args=[unsubscribe_token(notice.user_id, notice.topic, notice.channel)]
    )
    return EmailMessage(
        notice.subject,
        notice.body + "\n",
        None,
        [notice.to],
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def notices_send(*, batch: int = BATCH, now: Callable[[], datetime] = timezone.now) -> Sent:
    """Send one batch of the notices due (``claimed`` 0: nothing was due)."""
    notices = _claim(batch, now())
    if not notices:
        return Sent()
    sent: list[int] = []
    failed: dict[int, tuple[str, bool]] = {}  # notice → (error, final)
    emails = [n for n in notices if n.channel == NoticeChannel.EMAIL]
    if emails:
        link = get_connection(fail_silently=False)
        try:
            link.open()
        except Exception as error:  # the mail server is down: the batch's e-mails wait
            log.warning("could not reach the mail server: %s", error)
            failed.update((n.pk, (str(error), False)) for n in emails)
        else:
            try:
                for notice in emails:
                    try:
                        link.send_messages([_message(notice)])
                        sent.append(notice.pk)
                    except Exception as error:  # this address refused: the others go on
                        failed[notice.pk] = (str(error), False)
            finally:
                link.close()
    for notice in notices:
        if notice.channel != NoticeChannel.SMS:
            continue
        try:
            sms_send(notice.to, notice.body)
            sent.append(notice.pk)
        except SmsError as error:
            failed[notice.pk] = (str(error), error.code != "gateway")
    return _record(notices, sent, failed, now())


def _record(
    notices: list[Notice], sent: list[int], failed: dict[int, tuple[str, bool]], now: datetime
) -> Sent:
    retried = given_up = 0
    with transaction.atomic():
        if sent:
            Notice.objects.filter(pk__in=sent).update(sent_at=now, last_error="")
        for notice in notices:
            if notice.pk not in failed:
                continue
            error, final = failed[notice.pk]
            if final or notice.attempts >= MAX_ATTEMPTS:
                given_up += 1
                changes: dict[str, object] = {"failed_at": now}
            else:
                retried += 1
                changes = {"next_attempt_at": now + RETRY_DELAYS[min(notice.attempts, len(RETRY_DELAYS)) - 1]}
            Notice.objects.filter(pk=notice.pk).update(last_error=error[:2000], **changes)
    return Sent(claimed=len(notices), sent=len(sent), retried=retried, given_up=given_up)
