"""With the database task backend (production), the confirmation e-mail goes through the outbox:
stored in the submission's own transaction, sent in batches by the senders, retried when the
mail server refuses, given up after MAX_ATTEMPTS tries; never lost, never sent twice."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from django.apps import apps as django_apps
from django.core import mail
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from meterdesk.billing.preview import ChargePreview, PreviewLine, charge_dumps, charge_loads
from meterdesk.cli import main
from meterdesk.core import confirmations as outbox
from meterdesk.core.confirmations import (
    LEASE,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    confirmations_send,
    outbox_prune,
)
from meterdesk.core.readings import reading_submit
from meterdesk.metering.check import ReadingInvalid
from meterdesk.metering.models import Channel, ConfirmationMail, Reading
from meterdesk.metering.tests.test_confirmation_email import message_text
from meterdesk.testing import (
    MeterFactory,
    ReadingFactory,
    UserFactory,
    free_port,
    link,
    moscow,
    smtp_settings,
)

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
    return reading_submit(
        meter_id=meter.pk, values=list(values), channel=Channel.WEB, submitted_by=user, now=NOW
    )


def at(moment):
    return lambda: moment


def test_the_mail_is_stored_with_the_reading_and_sent_by_the_sender(
    db_tasks, priced_customer, django_capture_on_commit_callbacks
):
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = submit(user, meter)
    assert callbacks == []  # stored in the transaction, not handed over on commit
    assert mail.outbox == []  # nothing is rendered or sent while the customer waits
    (stored,) = ConfirmationMail.objects.all()
    assert (stored.reading_id, stored.email, stored.language) == (result.reading.pk, "anna@example.com", "ru")
    assert (stored.created_at, stored.next_attempt_at, stored.sent_at) == (NOW, NOW, None)

    summary = confirmations_send(now=at(NOW + timedelta(seconds=2)))
    assert (summary.claimed, summary.sent, summary.retried, summary.given_up) == (1, 1, 0, 0)
    (message,) = mail.outbox
    assert message.to == ["anna@example.com"]
    assert result.reading.confirmation in message.subject
    assert result.reading.confirmation in message.body
    assert "2\u202f298,00" in message.body
    assert "20.11.2026 14:30" in message.body
    stored.refresh_from_db()
    assert stored.sent_at == NOW + timedelta(seconds=2) and stored.attempts == 1
    # Sent once: the next batch finds nothing.
    assert confirmations_send(now=at(NOW + timedelta(days=1))).claimed == 0
    assert len(mail.outbox) == 1


def test_a_refused_reading_stores_no_mail(db_tasks, priced_customer):
    user, meter = priced_customer
    with pytest.raises(ReadingInvalid):
        submit(user, meter, values=("900", "650"))
    assert ConfirmationMail.objects.count() == 0


def test_a_rolled_back_submission_leaves_no_mail(db_tasks, priced_customer):
    user, meter = priced_customer
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(user, meter)
        assert ConfirmationMail.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after the submission")
    assert ConfirmationMail.objects.count() == 0
    assert not Reading.objects.filter(period=date(2026, 11, 1)).exists()


def test_the_language_and_address_are_those_of_the_submission(db_tasks, priced_customer):
    user, meter = priced_customer
    user.language = "en"
    user.save()
    submit(user, meter)
    user.email = "new-address@example.com"  # changed after the submission
    user.language = "ru"
    user.save()
    confirmations_send(now=at(NOW))
    (message,) = mail.outbox
    assert message.to == ["anna@example.com"]
    assert "2,298.00" in message.body


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


def _customers_with_mails(n: int) -> list[Reading]:
    """n customers (two-zone meters read in October), each with a November submission."""
    readings = []
    for i in range(n):
        user = UserFactory(email=f"customer{i}@example.com")
        meter = MeterFactory(zones=2)
        link(user, meter.account)
        ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1100), t2=D(550))
        readings.append(submit(user, meter).reading)
    return readings


class _Smtp:
    """An aiosmtpd handler that keeps what it receives, refuses the addresses in ``refuse``, and
    counts the connections (one EHLO each)."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.messages: list[tuple[list[str], bytes]] = []
        self.sessions = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    handler = _Smtp()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp_settings(settings, controller.port)
    try:
        yield handler
    finally:
        controller.stop()


def test_batches_go_through_one_smtp_connection_each(db_tasks, customer, smtp):
    readings = _customers_with_mails(5)
    first = confirmations_send(batch=3, now=at(NOW))
    assert (first.claimed, first.sent) == (3, 3)
    assert smtp.sessions == 1
    second = confirmations_send(batch=3, now=at(NOW))
    assert (second.claimed, second.sent) == (2, 2)
    assert smtp.sessions == 2
    assert confirmations_send(batch=3, now=at(NOW)).claimed == 0
    # Each customer got their own confirmation, oldest first.
    assert [rcpt for rcpt, _raw in smtp.messages] == [[f"customer{i}@example.com"] for i in range(5)]
    for reading, (_rcpt, raw) in zip(readings, smtp.messages, strict=True):
        _to, subject, body = message_text(raw)
        assert reading.confirmation in subject and reading.confirmation in body
    assert ConfirmationMail.objects.filter(sent_at__isnull=False).count() == 5


def test_a_refused_address_is_tried_again_later_and_the_others_are_sent(db_tasks, customer, smtp):
    _customers_with_mails(3)
    smtp.refuse = {"customer1@example.com"}
    summary = confirmations_send(now=at(NOW))
    assert (summary.claimed, summary.sent, summary.retried, summary.given_up) == (3, 2, 1, 0)
    refused = ConfirmationMail.objects.get(email="customer1@example.com")
    assert refused.sent_at is None and refused.attempts == 1
    assert refused.next_attempt_at == NOW + RETRY_DELAYS[0]
    assert "550" in refused.last_error
    # Not due before its delay; sent when due and accepted.
    assert confirmations_send(now=at(NOW + RETRY_DELAYS[0] - timedelta(seconds=1))).claimed == 0
    smtp.refuse = set()
    again = confirmations_send(now=at(NOW + RETRY_DELAYS[0]))
    assert (again.claimed, again.sent) == (1, 1)
    assert sorted(r[0] for r, _raw in smtp.messages) == [f"customer{i}@example.com" for i in range(3)]
    refused.refresh_from_db()
    assert refused.sent_at is not None and refused.attempts == 2 and refused.last_error == ""


def test_a_mail_server_that_is_down_keeps_every_mail_for_later(db_tasks, customer, settings, caplog):
    _customers_with_mails(2)
    smtp_settings(settings, free_port())  # nothing listens there
    summary = confirmations_send(now=at(NOW))
    assert (summary.claimed, summary.sent, summary.retried) == (2, 0, 2)
    assert mail.outbox == []
    for stored in ConfirmationMail.objects.all():
        assert stored.sent_at is None and stored.failed_at is None
        assert stored.next_attempt_at == NOW + RETRY_DELAYS[0]
        assert "Connection refused" in stored.last_error or "Errno" in stored.last_error
    assert any("could not reach the mail server" in r.getMessage() for r in caplog.records)


def test_the_delays_grow_and_a_mail_is_given_up_after_max_attempts(db_tasks, customer, smtp):
    _customers_with_mails(1)
    smtp.refuse = {"customer0@example.com"}
    moment = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        summary = confirmations_send(now=at(moment))
        assert (summary.claimed, summary.retried, summary.given_up) == (1, 1, 0)
        stored = ConfirmationMail.objects.get()
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
        assert (stored.attempts, stored.next_attempt_at) == (attempt, moment + delay)
        moment += delay
    last = confirmations_send(now=at(moment))
    assert (last.claimed, last.retried, last.given_up) == (1, 0, 1)
    stored = ConfirmationMail.objects.get()
    assert stored.failed_at == moment and stored.sent_at is None and stored.attempts == MAX_ATTEMPTS
    # Given up: never claimed again, even with the server accepting it.
    smtp.refuse = set()
    assert confirmations_send(now=at(moment + timedelta(days=30))).claimed == 0
    assert smtp.messages == []


def test_a_batch_whose_sender_died_is_claimed_again_after_the_lease(db_tasks, priced_customer, monkeypatch):
    user, meter = priced_customer
    submit(user, meter)

    def crash(*_args, **_kwargs):
        raise SystemExit("the sender is killed after claiming")

    monkeypatch.setattr(outbox, "_record", crash)
    with pytest.raises(SystemExit):
        confirmations_send(now=at(NOW))
    monkeypatch.undo()
    assert len(mail.outbox) == 1  # the mail server had it before the sender died
    stored = ConfirmationMail.objects.get()
    assert stored.sent_at is None and stored.attempts == 1 and stored.next_attempt_at == NOW + LEASE
    assert confirmations_send(now=at(NOW + LEASE - timedelta(seconds=1))).claimed == 0
    # At least once: after the lease the mail is sent again (the one case of a second copy).
    summary = confirmations_send(now=at(NOW + LEASE))
    assert (summary.claimed, summary.sent) == (1, 1)
    assert len(mail.outbox) == 2


def test_a_mail_that_cannot_be_rendered_does_not_stop_the_others(db_tasks, customer):
    _customers_with_mails(2)
    broken = ConfirmationMail.objects.order_by("pk")[0]
    ConfirmationMail.objects.filter(pk=broken.pk).update(charge="not json")
    summary = confirmations_send(now=at(NOW))
    assert (summary.sent, summary.retried) == (1, 1)
    assert mail.outbox[0].to == ["customer1@example.com"]
    broken.refresh_from_db()
    assert broken.sent_at is None and "JSONDecodeError" in broken.last_error


def test_prune_deletes_only_mails_sent_long_ago(db_tasks, customer, smtp):
    _customers_with_mails(3)
    confirmations_send(batch=1, now=at(NOW))  # the first is sent now
    now = timezone.now()
    sent, pending_one, given_up = ConfirmationMail.objects.order_by("pk")
    ConfirmationMail.objects.filter(pk=sent.pk).update(sent_at=now - timedelta(days=40))
    ConfirmationMail.objects.filter(pk=given_up.pk).update(failed_at=now - timedelta(days=40))
    assert outbox_prune(older_than=timedelta(days=30), now=now) == 1
    assert set(ConfirmationMail.objects.values_list("pk", flat=True)) == {pending_one.pk, given_up.pk}


def _command(*args: str) -> Result:
    return CliRunner().invoke(main, ["send-confirmations", *args])


def test_the_command_sends_what_is_due_and_prunes(db_tasks, customer, smtp):
    _customers_with_mails(3)
    done = _command("--once", "--batch", "2")
    assert done.exit_code == 0, done.output
    assert "sent 3, to try again 0, given up 0" in done.stdout
    assert len(smtp.messages) == 3
    done = _command("--prune", "1")
    assert "deleted 0 confirmation e-mails sent more than 1 days ago" in done.stdout
    for option in ("--batch", "--prune"):
        refused = _command(option, "0")
        assert refused.exit_code == 2
        assert f"Invalid value for '{option}'" in refused.stderr


def test_the_command_says_the_outbox_defaults():
    shown = " ".join(CliRunner().invoke(main, ["send-confirmations", "--help"]).stdout.split())
    assert f"(default {outbox.DEFAULT_BATCH})" in shown
    assert f"(default {outbox.KEEP_SENT.days};" in shown


def test_the_former_management_command_still_runs_with_a_note(db_tasks, customer, smtp):
    _customers_with_mails(1)
    done = CliRunner().invoke(main, ["manage", "send_confirmations", "--once"])
    assert done.exit_code == 0, done.output
    assert "sent 1, to try again 0, given up 0" in done.stdout
    assert "`meterdesk manage send_confirmations` is now `meterdesk send-confirmations`" in done.stderr


def test_the_upgrade_moves_the_waiting_confirmation_tasks_into_the_outbox(db_tasks, priced_customer):
    import importlib

    migration = importlib.import_module("meterdesk.metering.migrations.0004_confirmation_outbox")
    user, meter = priced_customer
    reading = submit(user, meter).reading
    ConfirmationMail.objects.all().delete()
    args = {"args": [reading.pk, "anna@example.com", "en", '{"total": "1.00"}'], "kwargs": {}}
    common = {
        "task_path": migration.TASK_PATH,
        "queue_name": "default",
        "backend_name": "default",
        "priority": 0,
    }
    DBTaskResult.objects.create(args_kwargs=args, status="READY", **common)
    DBTaskResult.objects.create(
        args_kwargs={**args, "args": [reading.pk + 999, "x@example.com", "ru", "{}"]},
        status="READY",
        **common,
    )
    done = DBTaskResult.objects.create(args_kwargs=args, status="SUCCESSFUL", **common)
    migration.tasks_to_outbox(django_apps, None)
    (moved,) = ConfirmationMail.objects.all()
    assert (moved.reading_id, moved.email, moved.language, moved.charge) == (
        reading.pk,
        "anna@example.com",
        "en",
        '{"total": "1.00"}',
    )
    assert moved.sent_at is None and moved.attempts == 0
    # The waiting tasks are gone (the one whose reading is gone too); a finished one stays.
    assert list(DBTaskResult.objects.all()) == [done]


def test_operators_see_the_outbox_and_have_given_up_mails_tried_again(db_tasks, customer, client, smtp):
    from django.urls import reverse

    _customers_with_mails(2)
    confirmations_send(batch=1, now=at(NOW))  # the first is sent
    given_up = ConfirmationMail.objects.order_by("pk")[1]
    ConfirmationMail.objects.filter(pk=given_up.pk).update(
        failed_at=NOW, attempts=MAX_ATTEMPTS, last_error="SMTPRecipientsRefused: 550"
    )
    client.force_login(UserFactory(email="operator@example.com", is_staff=True, is_superuser=True))
    url = reverse("admin:metering_confirmationmail_changelist")
    page = client.get(url, {"state": "given_up"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert "customer1@example.com" in text and "customer0@example.com" not in text
    done = client.post(url, {"action": "try_again", "_selected_action": [given_up.pk]}, follow=True)
    assert done.status_code == 200
    given_up.refresh_from_db()
    assert given_up.failed_at is None and given_up.attempts == 0
    summary = confirmations_send(now=at(timezone.now()))
    assert (summary.claimed, summary.sent) == (1, 1)
    assert [rcpt for rcpt, _raw in smtp.messages] == [["customer0@example.com"], ["customer1@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_send_each_mail_once(db_tasks, customer, smtp):
    """Three senders at once, in small batches: every mail is claimed by one of them only (one
    attempt each) and sent once. (PostgreSQL: SKIP LOCKED lets them take different batches side by
    side; SQLite serialises their claims.)"""
    _customers_with_mails(12)
    senders = 3
    barrier = threading.Barrier(senders)
    done: list[outbox.SendSummary] = []
    failures: list[BaseException] = []

    def sender() -> None:
        try:
            barrier.wait()
            while (summary := confirmations_send(batch=2, now=at(NOW))).claimed:
                done.append(summary)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            db_connection.close()

    pool = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not failures
    assert sum(s.claimed for s in done) == sum(s.sent for s in done) == 12
    assert sorted(rcpt[0] for rcpt, _raw in smtp.messages) == sorted(
        f"customer{i}@example.com" for i in range(12)
    )
    assert set(ConfirmationMail.objects.values_list("attempts", flat=True)) == {1}
    assert not ConfirmationMail.objects.filter(sent_at__isnull=True).exists()


def test_the_running_sender_sends_and_deletes_mails_sent_long_ago(db_tasks, customer, smtp):
    _customers_with_mails(2)
    old, waiting = ConfirmationMail.objects.order_by("pk")
    ConfirmationMail.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=31))
    stop = threading.Event()
    reports: list[outbox.SendSummary] = []

    def report(summary: outbox.SendSummary) -> None:
        reports.append(summary)
        stop.set()  # one batch is enough here

    outbox.confirmations_loop(keep=timedelta(days=30), stop=stop, report=report)
    assert [(r.claimed, r.sent) for r in reports] == [(1, 1)]
    assert list(ConfirmationMail.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert [rcpt for rcpt, _raw in smtp.messages] == [["customer1@example.com"]]


def test_the_command_refuses_a_negative_keep(db_tasks):
    refused = _command("--keep-days", "-1")
    assert refused.exit_code == 2
    assert "Invalid value for '--keep-days'" in refused.stderr


def test_an_idle_sender_opens_no_write_transaction(db_tasks, customer, smtp):
    from django.test.utils import CaptureQueriesContext

    _customers_with_mails(1)
    confirmations_send(now=at(NOW))  # sent: nothing is due any more
    with CaptureQueriesContext(db_connection) as idle:
        assert confirmations_send(now=at(NOW + timedelta(minutes=1))).claimed == 0
    statements = [q["sql"] for q in idle.captured_queries]
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


def test_parent_watch_asks_the_kernel_and_stops_when_the_parent_is_not_ours(monkeypatch):
    import os
    import signal
    import threading

    from meterdesk.core import confirmations as outbox

    calls = []

    class Libc:  # instead of the real prctl, which would bind pytest itself to its parent
        def prctl(self, *args):
            calls.append(args)
            return 0

    monkeypatch.setattr(outbox.ctypes, "CDLL", lambda *_a, **_k: Libc())
    monkeypatch.setattr(outbox.sys, "platform", "linux")
    stop = threading.Event()
    outbox.parent_watch(os.getppid() + 100_000, stop)
    assert stop.is_set()
    assert calls == [(outbox.PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)]
    watching = threading.Event()
    outbox.parent_watch(os.getppid(), watching, every=0.05)
    assert not watching.is_set()
    watching.set()  # ends the watching thread
