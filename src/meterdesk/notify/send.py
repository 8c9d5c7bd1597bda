"""Sending the stored notices: e-mails through one connection per batch, SMS through the gateway.

As the readings' confirmations are sent (core/confirmations.py): a sender **claims** a batch of the
notices due in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), moving their next
try ``LEASE`` ahead, **sends** them, then **records** each outcome: sent; refused, to be tried again
later; or given up after ``MAX_ATTEMPTS`` (an SMS the gateway will never take — a number that is
not a mobile, a number past its messages for the day — at once). A sender killed mid-batch leaves
its notices to be claimed again when the lease runs out: a notice is never lost, and sent twice only
if the sender died between the server taking it and the record.

E-mails through the SMTP backend are written by ``_Letters`` (headers and a base64 body, the
subject encoded once per batch) and handed to the one SMTP connection as bytes: no e-mail object per
notice. Other mail backends (files, the tests' outbox) get Django's ``EmailMessage``; both carry the
same headers, ``X-Meterdesk-Notice`` naming the notice's key among them.

SMS keep **quiet hours** (``METERDESK_NOTIFY_QUIET_HOURS``, the utility's time): no SMS is claimed
then; they wait for the morning. Every e-mail carries a one-click unsubscribe link for its topic
(RFC 8058: ``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.header import Header
from email.utils import formatdate
from typing import NamedTuple

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME
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
FLUSH = 50  # notices recorded as sent at a time within a batch
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


class Claimed(NamedTuple):
    """A notice claimed for sending: only what sending needs."""

    pk: int
    user_id: int
    topic: str
    channel: str
    key: str
    to: str
    subject: str
    body: str
    attempts: int


_CLAIMED = ("pk", "user_id", "topic", "channel", "key", "to", "subject", "body", "attempts")


def _claim(batch: int, now: datetime) -> list[Claimed]:
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
        rows = [Claimed(*row) for row in due.values_list(*_CLAIMED)[:batch]]
        if rows:
            Notice.objects.filter(pk__in=[n.pk for n in rows]).update(
                next_attempt_at=now + LEASE, attempts=F("attempts") + 1
            )
    return [n._replace(attempts=n.attempts + 1) for n in rows]


_SLOT = "SLOT"


def _unsubscribe_url(notice: Claimed, prefix: str | None = None) -> str:
    """The notice's one-click link; ``prefix``: the link of the token ``_SLOT`` (``_prefix``)."""
    token = unsubscribe_token(notice.user_id, notice.topic, notice.channel)
    if prefix is None:
        return settings.METERDESK_SITE_URL + reverse("notify:unsubscribe", args=[token])
    return prefix.replace(_SLOT, token)


def _prefix() -> str:
    return settings.METERDESK_SITE_URL + reverse("notify:unsubscribe", args=[_SLOT])


def _headers(notice: Claimed, prefix: str | None = None) -> dict[str, str]:
    return {
        "List-Unsubscribe": f"<{_unsubscribe_url(notice, prefix)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Meterdesk-Notice": notice.key,
    }


def _message(notice: Claimed) -> EmailMessage:
    return EmailMessage(notice.subject, notice.body + "\n", None, [notice.to], headers=_headers(notice))


class _Letters:
    """The bytes of each e-mail of a batch, for the SMTP connection (what ``_message`` says)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, encoding)
        self.date = formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
        self.domain = str(DNS_NAME)
        self.subjects: dict[str, str] = {}
        self.prefix = _prefix()

    def _subject(self, text: str) -> str:
        known = self.subjects.get(text)
        if known is None:
            flat = " ".join(text.split())
            known = flat if flat.isascii() else Header(flat, "utf-8").encode(linesep="\r\n")
            self.subjects[text] = known
        return known

    def recipient(self, notice: Claimed) -> str:
        to = notice.to
        if to.isascii() and "@" in to and not any(c in to for c in '<>"(),;: \r\n\t'):
            return to  # a plain address as sanitize_address would give it
        return sanitize_address(to, self.encoding)

    def build(self, notice: Claimed) -> bytes:
        headers = "".join(f"{name}: {value}\r\n" for name, value in _headers(notice, self.prefix).items())
        head = (
            f"From: {self.sender}\r\nTo: {self.recipient(notice)}\r\n"
            f"Subject: {self._subject(notice.subject)}\r\nDate: {self.date}\r\n"
            # The same on every try: a letter sent again is the same letter to the mail clients.
            f"Message-ID: <notice-{notice.pk}.{hashlib.sha256(notice.key.encode()).hexdigest()[:16]}"
            f"@{self.domain}>\r\n"
            'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: base64\r\n{headers}\r\n"
        )
        body = base64.encodebytes((notice.body + "\n").encode()).replace(b"\n", b"\r\n")
        return head.encode("ascii") + body


class _Sent:
    """The notices of a batch handed over so far, recorded as sent every ``FLUSH`` of them: a
    sender killed mid-batch sends again at most the last ``FLUSH`` it handed over."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.ids: list[int] = []
        self.recorded = 0
        self.now = now

    def append(self, pk: int) -> None:
        self.ids.append(pk)
        if len(self.ids) - self.recorded >= FLUSH:
            self.flush()

    def flush(self) -> None:
        fresh = self.ids[self.recorded :]
        if fresh:
            Notice.objects.filter(pk__in=fresh).update(sent_at=self.now(), last_error="")
        self.recorded = len(self.ids)


def _emails_send(emails: list[Claimed], sent: _Sent, failed: dict[int, tuple[str, bool]]) -> None:
    link = get_connection(fail_silently=False)
    try:
        link.open()
    except Exception as error:  # the mail server is down: the batch's e-mails wait
        log.warning("could not reach the mail server: %s", error)
        failed.update((n.pk, (str(error), False)) for n in emails)
        return
    try:
        if isinstance(link, SmtpBackend) and link.connection is not None:
            letters = _Letters(settings.DEFAULT_CHARSET)
            smtp = link.connection
            for notice in emails:
                try:
                    smtp.sendmail(letters.sender, [letters.recipient(notice)], letters.build(notice))
                    sent.append(notice.pk)
                except Exception as error:  # this address refused: the others go on
                    failed[notice.pk] = (str(error), False)
        else:
            for notice in emails:
                try:
                    link.send_messages([_message(notice)])
                    sent.append(notice.pk)
                except Exception as error:
                    failed[notice.pk] = (str(error), False)
    finally:
        link.close()


def notices_send(*, batch: int = BATCH, now: Callable[[], datetime] = timezone.now) -> Sent:
    """Send one batch of the notices due (``claimed`` 0: nothing was due)."""
    notices = _claim(batch, now())
    if not notices:
        return Sent()
    sent = _Sent(now)
    failed: dict[int, tuple[str, bool]] = {}  # notice → (error, final)
    emails = [n for n in notices if n.channel == NoticeChannel.EMAIL]
    if emails:
        _emails_send(emails, sent, failed)
    for notice in notices:
        if notice.channel != NoticeChannel.SMS:
            continue
        try:
            sms_send(notice.to, notice.body)
            sent.append(notice.pk)
        except SmsError as error:
            failed[notice.pk] = (str(error), error.code != "gateway")
    return _record(notices, sent, failed, now())


def _record(notices: list[Claimed], sent: _Sent, failed: dict[int, tuple[str, bool]], now: datetime) -> Sent:
    retried = given_up = 0
    with transaction.atomic():
        sent.flush()
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
    return Sent(claimed=len(notices), sent=len(sent.ids), retried=retried, given_up=given_up)
