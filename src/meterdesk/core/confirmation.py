"""The e-mailed confirmation of an accepted reading: its number, its values and the month's charge."""

from __future__ import annotations

import logging

from django.db import transaction
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db import DatabaseBackend

from meterdesk.billing.preview import ChargePreview, charge_dumps
from meterdesk.metering.models import Reading
from meterdesk.metering.outbox import confirmation_message, outbox_add

log = logging.getLogger(__name__)


def confirmation_enqueue(reading: Reading, charge: ChargePreview, email: str, language: str) -> None:
    """Have the confirmation e-mailed once the transaction has committed.

    Where tasks run on workers (the database task backend: production), the mail is stored in the
    outbox (``metering.outbox``) in this very transaction: it exists if and only if the reading
    does, costs one insert instead of rendering and sending the mail while the customer waits, and
    the senders send it in a batch, retrying if the mail server refuses. With any other backend
    (the immediate one of the tests and one-off scripts) it is sent on commit, so a reading that is
    rolled back never sends a mail.
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
