"""The e-mailed confirmation of an accepted reading (its number, its values and the month's charge),
and the outbox it waits in (docs/adr/0010-confirmation-outbox.md). It shows billing's charge, so
it is composed here, above metering and billing; its table, ``metering.ConfirmationMail``, goes
with the reading.

A submission stores its confirmation (``confirmation_enqueue`` → ``outbox_add``: one insert, in
the submission's own transaction, so the mail exists if and only if the reading does). Senders (``meterdesk
send-confirmations``, started by ``meterdesk serve``) take the mails due in batches:

1. **Claim** up to ``batch`` mails in one short transaction (PostgreSQL: ``FOR UPDATE SKIP
   LOCKED``, so several senders share the queue without waiting for each other; SQLite
   serialises writers anyway): their attempt is counted and their next try moved ``LEASE`` ahead,
   so that a sender that dies mid-batch leaves them to be claimed again then.
2. **Render and send** them: the readings in one query, each mail in its customer's language,
   all through one connection to the mail server.
3. **Record** the outcome in one transaction: the sent ones as sent; the refused ones to be tried
   again after ``RETRY_DELAYS`` (1 minute, growing to 12 hours); after ``MAX_ATTEMPTS`` tries,
   given up (logged, and shown to operators in the admin).

Delivery is at least once: a sender killed after the mail server took a mail and before step 3
committed sends it again when its claim runs out. A mail is never lost, and never sent twice
otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db import DatabaseBackend

from meterdesk.billing.preview import ChargePreview, charge_dumps, charge_loads
from meterdesk.metering.models import ConfirmationMail, Reading
from meterdesk.sqlrows import Rows
from meterdesk.utility.selectors import reference_get, utility_now

log = logging.getLogger(__name__)

#: How long a sender's claim on a batch lasts: after it, mails it has not reported are due again.
LEASE = timedelta(minutes=10)
#: The wait after the 1st, 2nd, … failed try; the last one repeats until MAX_ATTEMPTS.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=12),
)
#: Tries before a mail is given up (over about two days with the delays above).
MAX_ATTEMPTS = 8
#: Mails a sender claims at once.
DEFAULT_BATCH = 200
#: How long a sent mail stays in the outbox (a sender deletes older ones once an hour, PRUNE_EVERY).
KEEP_SENT = timedelta(days=30)
PRUNE_EVERY = 3600.0

_MAILS = Rows(ConfirmationMail, "c")


def confirmation_enqueue(reading: Reading, charge: ChargePreview, email: str, language: str) -> None:
    """Have the confirmation e-mailed once the transaction has committed.

    Where tasks run on workers (the database task backend: production), the mail is stored in the
    outbox in this very transaction: it exists if and only if the reading does, costs one insert
    instead of rendering and sending the mail while the customer waits, and the senders send it
    in a batch, retrying if the mail server refuses. With any other backend (the immediate one of
    the tests and one-off scripts) it is sent on commit, so a reading that is rolled back never
    sends a mail.
    """
    if isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        outbox_add(reading, charge_dumps(charge), email, language, now=reading.submitted_at)
    else:
        transaction.on_commit(lambda: confirmation_send(reading, charge, email, language))


def confirmation_send(reading: Reading, charge: ChargePreview, email: str, language: str) -> None:
    """E-mail the customer's proof of submission at once (without the outbox: tests, one-off
    scripts). A mail failure never undoes the reading: it is logged."""
    try:
        confirmation_message(reading, charge, email, language).send()
    except Exception:
        log.exception("could not e-mail the confirmation of reading %s", reading.pk)


def outbox_add(reading: Reading, charge: str, email: str, language: str, now: datetime | None = None) -> None:
    """Store the confirmation of ``reading`` (already inserted, in the caller's transaction) for
    the senders. ``charge``: ``billing.preview.charge_dumps`` of the month's charge."""
    moment = now or timezone.now()
    _MAILS.insert(
        ConfirmationMail(
            reading_id=reading.pk,
            email=email,
            language=language,
            charge=charge,
            created_at=moment,
            next_attempt_at=moment,
        )
    )


def confirmation_message(reading: Reading, charge: ChargePreview, email: str, language: str) -> EmailMessage:
    """The confirmation of ``reading`` (with its meter and account) to ``email``, rendered in
    ``language``."""
    from meterdesk.metering.messages import zone_label

    utility = reference_get().utility
    with translation.override(language):
        values = [(zone_label(reading.meter.zones, z), v) for z, v in enumerate(reading.values, start=1)]
        context = {
            "values": values,
            "reading": reading,
            "meter": reading.meter,
            "account": reading.meter.account,
            "charge": charge,
            "utility": utility,
            "submitted_local": utility_now(utility, reading.submitted_at),
        }
        subject = render_to_string("metering/email/confirmation_subject.txt", context).strip()
        body = render_to_string("metering/email/confirmation.txt", context)
    # One line: a header cannot hold a line break (a template's stray newline would be refused).
    return EmailMessage(" ".join(subject.split()), body, None, [email])


@dataclass(frozen=True)
class SendSummary:
    """What one batch did: mails claimed, sent, to be tried again, given up."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    given_up: int = 0

    def __add__(self, other: SendSummary) -> SendSummary:
        return SendSummary(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retried + other.retried,
            self.given_up + other.given_up,
        )


def _claim(batch: int, now: datetime) -> list[ConfirmationMail]:
    due = ConfirmationMail.objects.filter(
        sent_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "id")
    # An idle sender only reads: no write transaction (on SQLite, the database's one write lock)
    # unless a mail is due.
    if not due.exists():
        return []
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        mails = list(due.only("id", "reading_id", "email", "language", "charge", "attempts")[:batch])
        if mails:
            ConfirmationMail.objects.filter(pk__in=[m.pk for m in mails]).update(
                next_attempt_at=now + LEASE, attempts=F("attempts") + 1
            )
            for mail in mails:
                mail.attempts += 1
    return mails


def _retry_at(attempts: int, now: datetime) -> datetime:
    return now + RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def confirmations_send(
    *, batch: int = DEFAULT_BATCH, now: Callable[[], datetime] = timezone.now
) -> SendSummary:
    """Send one batch of the mails due; returns what it did (``claimed`` 0: nothing was due)."""
    started = now()
    mails = _claim(batch, started)
    if not mails:
        return SendSummary()
    readings = Reading.objects.select_related("meter__account").in_bulk([m.reading_id for m in mails])
    messages: list[tuple[ConfirmationMail, EmailMessage]] = []
    failed: dict[int, str] = {}
    for mail in mails:
        try:
            messages.append(
                (
                    mail,
                    confirmation_message(
                        readings[mail.reading_id], charge_loads(mail.charge), mail.email, mail.language
                    ),
                )
            )
        except Exception as error:  # a mail that cannot be rendered must not stop the others
            log.exception("could not render the confirmation of reading %s", mail.reading_id)
            failed[mail.pk] = _error_text(error)
    sent: list[int] = []
    if messages:
        link = get_connection(fail_silently=False)
        try:
            link.open()
        except Exception as error:  # the mail server is down: every mail of the batch waits
            log.warning("could not reach the mail server: %s", error)
            failed.update((mail.pk, _error_text(error)) for mail, _m in messages)
        else:
            try:
                for mail, message in messages:
                    try:
                        if link.send_messages([message]) == 1:
                            sent.append(mail.pk)
                        else:  # pragma: no cover - a backend that neither sends nor raises
                            failed[mail.pk] = "the mail backend did not send it"
                    except Exception as error:  # refused (this address, this message): the others go on
                        log.warning(
                            "could not e-mail the confirmation of reading %s: %s", mail.reading_id, error
                        )
                        failed[mail.pk] = _error_text(error)
            finally:
                link.close()
    return _record(mails, sent, failed, now())


def _record(
    mails: Sequence[ConfirmationMail], sent: list[int], failed: dict[int, str], now: datetime
) -> SendSummary:
    retried = given_up = 0
    with transaction.atomic():
        if sent:
            ConfirmationMail.objects.filter(pk__in=sent).update(sent_at=now, last_error="")
        for mail in mails:
            if mail.pk not in failed:
                continue
            if mail.attempts >= MAX_ATTEMPTS:
                given_up += 1
                log.error(
                    "gave up the confirmation of reading %s after %s tries", mail.reading_id, mail.attempts
                )
                changes: dict[str, Any] = {"failed_at": now}
            else:
                retried += 1
                changes = {"next_attempt_at": _retry_at(mail.attempts, now)}
            ConfirmationMail.objects.filter(pk=mail.pk).update(last_error=failed[mail.pk], **changes)
    return SendSummary(claimed=len(mails), sent=len(sent), retried=retried, given_up=given_up)


def confirmations_loop(
    *,
    batch: int = DEFAULT_BATCH,
    idle: float = 1.0,
    keep: timedelta | None = KEEP_SENT,
    stop: threading.Event | None = None,
    report: Callable[[SendSummary], None] = lambda _s: None,
) -> None:
    """Send batches until ``stop`` is set: at once while mails are due, every ``idle`` seconds
    when none is; once an hour (and at the start), delete the mails sent more than ``keep`` ago
    (None: keep them all). A database error (the server restarting) is logged and retried after a
    pause."""
    stop = stop or threading.Event()
    next_prune = time.monotonic()
    while not stop.is_set():
        try:
            if keep is not None and time.monotonic() >= next_prune:
                outbox_prune(older_than=keep)
                next_prune = time.monotonic() + PRUNE_EVERY
            summary = confirmations_send(batch=batch)
        except Exception:
            log.exception("the confirmation sender failed; trying again in %s s", max(idle, 5.0))
            db_connection.close()
            stop.wait(max(idle, 5.0))
            continue
        if summary.claimed:
            report(summary)
        if summary.claimed < batch:
            stop.wait(idle)


#: prctl(2) option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def parent_watch(parent: int, stop: threading.Event, *, every: float = 1.0) -> None:
    """Set ``stop`` once process ``parent`` is no longer this process's parent: it died, even by
    kill -9 or the OOM killer, which leave it no chance to stop its children. On Linux the kernel
    then sends SIGTERM at once (prctl PR_SET_PDEATHSIG: the caller's handler of SIGTERM sets
    ``stop``); everywhere, a thread looks at the parent's pid every ``every`` seconds, which also
    covers a parent that died before the prctl."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def orphaned() -> bool:
        if os.getppid() == parent:
            return False
        log.warning("the parent process %s is gone: stopping", parent)
        stop.set()
        return True

    if orphaned():
        return

    def watch() -> None:
        while not stop.wait(every) and not orphaned():
            pass

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def outbox_prune(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete the mails sent before ``older_than`` ago (those given up stay, for the operators);
    returns how many."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _by_model = ConfirmationMail.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
