"""With the database task backend (production), the confirmation e-mail is a task stored in the
submission's own transaction and sent by a task worker: the same mail, off the request path."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from meterdesk.metering.models import Channel, Reading
from meterdesk.metering.selectors import ChargePreview, PreviewLine
from meterdesk.metering.services import ReadingInvalid, reading_submit
from meterdesk.metering.tasks import charge_dumps, charge_loads, reading_confirmation_task
from meterdesk.testing import ReadingFactory, moscow

D = Decimal
NOW = moscow(2026, 11, 20, 14, 30)


@pytest.fixture
def db_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def priced_customer(customer):
    """The customer with an October reading, so that November's charge is 200 + 100 kWh: 2298.00 ₽."""
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1100), t2=D(550))
    return user, meter


def submit(user, meter, values=("1300", "650")):
    return reading_submit(meter=meter, values=list(values), channel=Channel.WEB, submitted_by=user, now=NOW)


def run_stored_tasks() -> int:
    """What a task worker does with the stored confirmations (their arguments as stored)."""
    tasks = list(DBTaskResult.objects.filter(task_path=reading_confirmation_task.module_path))
    for stored in tasks:
        reading_confirmation_task.call(*stored.args_kwargs["args"], **stored.args_kwargs["kwargs"])
    return len(tasks)


def test_the_task_is_stored_with_the_reading_and_sends_the_same_mail(
    db_tasks, priced_customer, django_capture_on_commit_callbacks
):
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = submit(user, meter)
    assert callbacks == []  # stored in the transaction, not handed over on commit
    assert mail.outbox == []  # nothing is rendered or sent while the customer waits
    assert run_stored_tasks() == 1
    (message,) = mail.outbox
    assert message.to == ["anna@example.com"]
    assert result.reading.confirmation in message.subject
    assert result.reading.confirmation in message.body
    assert "2298,00" in message.body
    assert "20.11.2026 14:30" in message.body


def test_a_refused_reading_stores_no_task(db_tasks, priced_customer):
    user, meter = priced_customer
    with pytest.raises(ReadingInvalid):
        submit(user, meter, values=("900", "650"))
    assert DBTaskResult.objects.count() == 0


def test_a_rolled_back_submission_leaves_no_task(db_tasks, priced_customer):
    user, meter = priced_customer
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(user, meter)
        assert DBTaskResult.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after the submission")
    assert DBTaskResult.objects.count() == 0
    assert not Reading.objects.filter(period=date(2026, 11, 1)).exists()


def test_the_language_and_address_are_those_of_the_submission(db_tasks, priced_customer):
    user, meter = priced_customer
    user.language = "en"
    user.save()
    submit(user, meter)
    user.email = "new-address@example.com"  # changed after the submission
    user.language = "ru"
    user.save()
    run_stored_tasks()
    (message,) = mail.outbox
    assert message.to == ["anna@example.com"]
    assert "2298.00" in message.body


def test_the_charge_survives_the_round_trip():
    charge = ChargePreview(
        consumption=(D("200.5"), D(100)),
        months=2,
        tariff=None,
        lines=(
            PreviewLine(zone=1, band=2, volume=D("200.5"), price=D("9.45"), amount=D("1894.73")),
            PreviewLine(
                zone=0,
                band=1,
                volume=D(30),
                price=D("6.60"),
                amount=D("-198.00"),
                basis="recalculation",
                reason="average",
                detail={"month": "2026-09"},
                after_control=True,
            ),
        ),
        total=D("1696.73"),
        period=date(2026, 11, 1),
        basis="actual",
    )
    assert charge_loads(charge_dumps(charge)) == charge


def test_the_hand_written_row_is_the_one_enqueue_stores(db_tasks, priced_customer):
    from meterdesk.metering.services import task_row_insert

    reading_confirmation_task.enqueue(7, "anna@example.com", "ru", '{"total":"1.00"}')
    backend = reading_confirmation_task.get_backend()
    assert isinstance(backend, DatabaseBackend)
    task_row_insert(backend, reading_confirmation_task, [7, "anna@example.com", "ru", '{"total":"1.00"}'])
    by_enqueue, by_hand = DBTaskResult.objects.order_by("enqueued_at")
    skip = {"id", "enqueued_at"}
    fields = [f.attname for f in DBTaskResult._meta.concrete_fields if f.attname not in skip]
    assert {f: getattr(by_hand, f) for f in fields} == {f: getattr(by_enqueue, f) for f in fields}
    assert by_hand.pk != by_enqueue.pk
    # The worker's own query finds it ready to run, and it runs as a stored task.
    assert set(DBTaskResult.objects.ready()) == {by_enqueue, by_hand}
    assert by_hand.task == reading_confirmation_task == by_enqueue.task


def test_the_hand_written_row_is_refused_for_a_task_the_backend_refuses(db_tasks, priced_customer):
    # The backend's check of a task is made once per task and backend, not skipped: a task on a
    # queue the backend does not have is refused after a valid one was stored, and every time.
    from django_tasks.exceptions import InvalidTaskError

    from meterdesk.metering.services import task_row_insert

    backend = reading_confirmation_task.get_backend()
    assert isinstance(backend, DatabaseBackend)
    args = [7, "anna@example.com", "ru", '{"total":"1.00"}']
    task_row_insert(backend, reading_confirmation_task, args)
    # (Task.using would refuse the queue itself: a copy with it set behind its back.)
    elsewhere = copy.copy(reading_confirmation_task)
    object.__setattr__(elsewhere, "queue_name", "nowhere")
    for _attempt in range(2):
        with pytest.raises(InvalidTaskError, match="nowhere"):
            task_row_insert(backend, elsewhere, args)
    assert DBTaskResult.objects.count() == 1
