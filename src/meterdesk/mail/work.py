"""The mail workers (``meterdesk mail work``, started by ``mail serve`` and ``mail poll``): each
takes a batch of the letters due, claimed with a lease (a worker killed mid-batch leaves them due
again when the lease runs out), processes them one by one, each in its own transaction
(``services.letter_run``: exactly once, whoever holds the claim), then a batch of the answers due,
sent over one SMTP connection and each marked sent as soon as the server took it. It goes on at
once while anything is due and waits ``idle`` seconds only when nothing is.

There is no task per letter: a task row per letter and a worker polling for it cost more than
processing the letter (docs/benchmarks.md)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Model
from django.utils import timezone

from meterdesk.mail.models import Answer, Letter, Status
from meterdesk.mail.services import letter_run

log = logging.getLogger(__name__)

#: Letters (and answers) one claim takes: large enough that a claim's write is paid once for many,
#: small enough that a batch ends well within its lease.
BATCH = 50


@dataclass(frozen=True)
class Round:
    letters: int = 0
    answers: int = 0
    sent: int = 0


def _claim(model: type[Model], due: dict[str, Any], batch: int, until: datetime, **more: Any) -> list[int]:
    """Claim up to ``batch`` rows of ``model`` due now: their ``next_attempt_at`` moved to
    ``until``, so that no other worker takes them before then. Only reads while nothing is due
    (on SQLite a write transaction takes the database's one write lock)."""
    rows = model._default_manager.filter(**due).order_by("next_attempt_at", "id")
    if not rows.exists():
        return []
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.values_list("pk", flat=True)[:batch])
        if ids:
            # The condition again: on PostgreSQL a row claimed meanwhile is not taken twice.
            model._default_manager.filter(pk__in=ids, **due).update(next_attempt_at=until, **more)
    return ids


def letters_process(*, batch: int = BATCH, lease: timedelta, now: datetime | None = None) -> int:
    """Process a batch of the letters due; returns how many were claimed."""
    moment = now or timezone.now()
    ids = _claim(Letter, {"status": Status.RECEIVED, "next_attempt_at__lte": moment}, batch, moment + lease)
    stored = Letter.objects.in_bulk(ids)
    for letter_id in ids:
        letter_run(letter_id, stored=stored.get(letter_id))
    return len(ids)


def answers_send(*, batch: int = BATCH, now: datetime | None = None) -> tuple[int, int]:
    """Send a batch of the answers due over one connection to the mail server; returns how many
    were claimed and how many sent. A send that took half the lease leaves the rest of the batch
    to the lease's end, so that no answer is sent by two workers."""
    from django.core.mail import get_connection

    from meterdesk.mail.answers import (
        answer_failed,
        answer_message,
        answer_readings,
        answer_sent,
        lease,
        readings_of,
    )

    moment = now or timezone.now()
    due = {"sent_at__isnull": True, "failed_at__isnull": True, "next_attempt_at__lte": moment}
    ids = _claim(Answer, due, batch, moment + lease(), attempts=F("attempts") + 1)
    if not ids:
        return 0, 0
    answers = list(Answer.objects.filter(pk__in=ids).order_by("id"))
    readings = readings_of([r for a in answers for r in answer_readings(a)])
    deadline = time.monotonic() + lease().total_seconds() / 2
    sent = 0
    link = get_connection(fail_silently=False)
    try:
        link.open()
    except Exception as error:  # the mail server is down: every answer of the batch waits
        for answer in answers:
            answer_failed(answer, error)
        return len(ids), 0
    try:
        for answer in answers:
            if time.monotonic() > deadline:
                break
            try:
                link.send_messages([answer_message(answer, readings)])
            except Exception as error:  # this answer refused: the others go on
                answer_failed(answer, error)
                continue
            answer_sent(answer.pk)
            sent += 1
    finally:
        link.close()
    return len(ids), sent


def work_round(*, batch: int = BATCH, lease: timedelta) -> Round:
    letters = letters_process(batch=batch, lease=lease)
    answers, sent = answers_send(batch=batch)
    return Round(letters, answers, sent)


def work_loop(*, lease: timedelta, stop: threading.Event, batch: int = BATCH, idle: float = 0.2) -> None:
    """Work rounds until ``stop`` is set; wait ``idle`` seconds only after a round that found
    nothing due. A database error (the server restarting) is logged and tried again later."""
    while not stop.is_set():
        try:
            done = work_round(batch=batch, lease=lease)
        except Exception:
            log.exception("the mail worker failed; trying again in 5 s")
            connection.close()
            stop.wait(5)
            continue
        if not (done.letters or done.answers):
            stop.wait(idle)
