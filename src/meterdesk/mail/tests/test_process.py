"""A stored letter processed through the readings' core and answered: who may do what, the
answer's language, threading and confirmation, no answer to robots, the rate limit, copies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import get_connection

from meterdesk.mail import work
from meterdesk.mail.models import Answer, Item, Letter, Outcome, Status, Via
from meterdesk.mail.services import letter_process, letter_store
from meterdesk.mail.tests.helpers import Signer, letter
from meterdesk.mail.work import answers_send, letters_process
from meterdesk.metering.models import Channel, Reading
from meterdesk.testing import MeterFactory, ReadingFactory, moscow

pytestmark = pytest.mark.django_db

IN_WINDOW = moscow(2026, 11, 20)
BEFORE_WINDOW = moscow(2026, 11, 10)


@pytest.fixture
def at():
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW) as now:
        yield now


@pytest.fixture
def signer(tmp_path, settings):
    signer = Signer(tmp_path)
    settings.METERDESK_MAIL_DKIM_RECORDS = str(signer.records)
    return signer


@pytest.fixture
def receive(django_capture_on_commit_callbacks):
    """Store a letter as the SMTP server does, run its tasks (they run on commit in the tests)."""

    def receive(raw: bytes, mail_from: str = "anna@example.com") -> Letter:
        with django_capture_on_commit_callbacks(execute=True):
            stored = letter_store(
                raw=raw, via=Via.SMTP, mail_from=mail_from, rcpt_to=["readings@meterdesk.localhost"]
            )
        return Letter.objects.get(pk=stored.pk)

    return receive


def test_account_and_serial_submit_for_anyone_and_the_answer_has_the_charge(customer, at, receive):
    _user, meter = customer
    raw = letter(
        f"Добрый день! Л/с {meter.account.number}, счётчик № {meter.serial}: день 1300, ночь 650",
        sender="stranger@example.org",
    )
    stored = receive(raw, "stranger@example.org")
    assert stored.status == Status.DONE and stored.outcome == Outcome.ACCEPTED
    reading = Reading.objects.get(meter=meter)
    assert (reading.t1, reading.t2, reading.channel) == (Decimal(1300), Decimal(650), Channel.EMAIL)
    assert reading.submitted_by is None
    (answer,) = mail.outbox
    assert answer.to == ["stranger@example.org"]
    assert reading.confirmation in answer.body and "Приняты" in answer.body
    assert "Итого за месяц" in answer.body
    assert answer.extra_headers["In-Reply-To"] == stored.message_id
    assert answer.extra_headers["Auto-Submitted"] == "auto-replied"
    assert answer.attachments and answer.attachments[0][2] == "application/pdf"
    assert "Баланс" not in answer.body  # an unverified sender learns nothing of the account


def test_account_alone_needs_a_verified_login_of_the_account(customer, at, signer, receive):
    _user, meter = customer
    text = f"Account {meter.account.number}: day 1300, night 650"
    unsigned = receive(letter(text, subject="Readings"))
    assert unsigned.outcome == Outcome.REFUSED
    assert Item.objects.get(letter=unsigned).code == "not_found"
    assert "did not confirm" in mail.outbox[0].body  # in English, as written
    signed = receive(signer.sign(letter(text, subject="Readings")))
    assert signed.verified and signed.outcome == Outcome.ACCEPTED
    assert "Balance" in mail.outbox[1].body
    assert Reading.objects.get(meter=meter).t1 == Decimal(1300)


def test_a_signature_of_another_domain_verifies_nothing(customer, at, tmp_path, settings, receive):
    _user, meter = customer
    other = Signer(tmp_path, "example.net")
    settings.METERDESK_MAIL_DKIM_RECORDS = str(other.records)
    stored = receive(other.sign(letter(f"л/с {meter.account.number} т1 1300 т2 650")))
    assert not stored.verified and stored.outcome == Outcome.REFUSED


def test_a_trusted_hosts_authentication_results_verifies(customer, at, settings, receive):
    _user, meter = customer
    settings.METERDESK_MAIL_TRUSTED_HOSTS = ["mx.utility.example"]
    header = {"Authentication-Results": "mx.utility.example; dkim=pass header.d=example.com; spf=pass"}
    stored = receive(letter(f"л/с {meter.account.number} т1 1300 т2 650", headers=header))
    assert stored.verified and stored.outcome == Outcome.ACCEPTED
    untrusted = {"Authentication-Results": "mx.elsewhere.example; dkim=pass header.d=example.com"}
    assert not receive(letter(f"л/с {meter.account.number} т1 1310 т2 660", headers=untrusted)).verified


@pytest.mark.parametrize(
    "headers, mail_from",
    [
        ({"Auto-Submitted": "auto-replied"}, "anna@example.com"),
        ({"Precedence": "bulk"}, "anna@example.com"),
        ({"List-Id": "<readers.example.com>"}, "anna@example.com"),
        ({}, ""),
    ],
    ids=["auto-submitted", "precedence", "list", "bounce"],
)
def test_robots_are_stored_and_never_answered(customer, at, headers, mail_from, receive):
    _user, meter = customer
    stored = receive(
        letter(f"л/с {meter.account.number} № {meter.serial} т1 1300 т2 650", headers=headers), mail_from
    )
    assert stored.outcome == Outcome.AUTOMATIC and stored.unanswered
    assert not mail.outbox and not Reading.objects.filter(meter=meter).exists()


def test_mailer_daemon_is_not_answered(customer, at, receive):
    stored = receive(letter("Delivery failed", sender="MAILER-DAEMON@mx.example.com"), "x@example.com")
    assert stored.outcome == Outcome.AUTOMATIC and not mail.outbox


def test_answers_to_one_address_are_limited_per_hour(customer, at, settings, receive):
    settings.METERDESK_MAIL_ANSWERS_PER_HOUR = 2
    for _n in range(3):
        receive(letter("привет"))
    assert len(mail.outbox) == 2
    assert Letter.objects.filter(unanswered="answer limit per hour").count() == 1


def test_our_own_address_is_never_answered(customer, at, receive):
    stored = receive(letter("привет", sender="readings@meterdesk.localhost"))
    assert stored.unanswered == "our own address" and not mail.outbox


def test_answer_goes_to_reply_to(customer, at, receive):
    receive(letter("привет", headers={"Reply-To": "Anna <anna.home@example.org>"}))
    assert mail.outbox[0].to == ["anna.home@example.org"]


def test_a_copy_of_a_letter_is_processed_once(customer, at, receive):
    _user, meter = customer
    raw = letter(
        f"л/с {meter.account.number} № {meter.serial} т1 1300 т2 650", message_id="<same@example.com>"
    )
    first, second = receive(raw), receive(raw)
    assert first.outcome == Outcome.ACCEPTED and second.outcome == Outcome.DUPLICATE
    assert Reading.objects.filter(meter=meter).count() == 1 and len(mail.outbox) == 1


def test_processing_twice_does_nothing_more(customer, at, receive):
    _user, meter = customer
    stored = receive(letter(f"л/с {meter.account.number} № {meter.serial} т1 1300 т2 650"))
    assert letter_process(stored.pk) is None
    assert Reading.objects.filter(meter=meter).count() == 1 and Answer.objects.count() == 1


def test_window_closed_is_answered_with_its_dates(customer, receive):
    _user, meter = customer
    with mock.patch("django.utils.timezone.now", return_value=BEFORE_WINDOW):
        stored = receive(letter(f"л/с {meter.account.number} № {meter.serial} т1 1300 т2 650"))
    assert stored.outcome == Outcome.REFUSED
    assert "15.11.2026" in mail.outbox[0].body and "26.11.2026" in mail.outbox[0].body


def test_needs_confirmation_then_yes_in_reply(customer, at, receive):
    _user, meter = customer
    meter.zones, meter.initial_t2 = 1, None
    meter.save()
    ReadingFactory(meter=meter, period=IN_WINDOW.date().replace(month=10, day=1), t1=Decimal(99_500), t2=None)
    stored = receive(letter(f"л/с {meter.account.number} № {meter.serial} показания 200"))
    assert Item.objects.get(letter=stored).code == "needs_confirmation"
    asked = mail.outbox[0]
    assert "ДА" in asked.body
    reply = letter(
        "Да, всё верно\n\n> л/с ... показания 200",
        subject="Re: Показания",
        headers={"In-Reply-To": asked.extra_headers["Message-ID"]},
    )
    confirmed = receive(reply)
    assert confirmed.outcome == Outcome.ACCEPTED
    assert Reading.objects.get(meter=meter, period=IN_WINDOW.date().replace(day=1)).rolled_over


def test_two_accounts_in_one_letter(customer, at, receive):
    _user, meter = customer
    other = MeterFactory(zones=1)
    text = (
        f"л/с {meter.account.number} счетчик № {meter.serial} Т1 1300 Т2 650\n"
        f"л/с {other.account.number} счетчик № {other.serial} показания 1100"
    )
    stored = receive(letter(text))
    assert stored.outcome == Outcome.PARTLY or stored.outcome == Outcome.ACCEPTED
    assert sorted(Item.objects.filter(letter=stored).values_list("account_number", flat=True)) == sorted(
        [meter.account.number, other.account.number]
    )


def test_ambiguous_values_are_not_guessed(customer, at, receive):
    _user, meter = customer
    stored = receive(letter(f"л/с {meter.account.number} № {meter.serial} показания 1300 650"))
    assert stored.outcome == Outcome.NOT_UNDERSTOOD
    assert not Reading.objects.filter(meter=meter).exists()
    assert "1234567890" in mail.outbox[0].body  # the example of a good letter


def test_a_failed_send_is_tried_again_by_a_worker(customer, at, settings, receive):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    stored = receive(letter("привет"))
    answer = Answer.objects.get(letter=stored)
    assert answer.sent_at is None and answer.attempts == 1 and answer.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert answers_send() == (0, 0)  # not due yet: tried again after a minute
    at.return_value = IN_WINDOW + timedelta(minutes=2)
    assert answers_send() == (1, 1)
    answer.refresh_from_db()
    assert answer.sent_at is not None and answer.attempts == 2 and len(mail.outbox) == 1
    assert answers_send() == (0, 0)


ADDRESS = "readings@meterdesk.localhost"


def _stored_unprocessed(raws: list[bytes], capture) -> None:
    """Letters stored as the server stores them, left to the workers (their tasks not run)."""
    with capture(execute=False):
        for raw in raws:
            letter_store(raw=raw, via=Via.SMTP, mail_from="anna@example.com", rcpt_to=[ADDRESS])


def test_a_worker_processes_a_batch_and_answers_it_over_one_connection(
    customer, at, django_capture_on_commit_callbacks
):
    _user, meter = customer
    texts = [f"л/с {meter.account.number} № {meter.serial} день {1300 + n} ночь 650" for n in range(3)]
    _stored_unprocessed([letter(text) for text in texts], django_capture_on_commit_callbacks)
    assert letters_process(lease=timedelta(minutes=1)) == 3
    assert set(Letter.objects.values_list("outcome", flat=True)) == {Outcome.ACCEPTED}
    assert Reading.objects.filter(meter=meter).count() == 3  # each replaces the one before
    with mock.patch("django.core.mail.get_connection", wraps=get_connection) as connect:
        assert answers_send() == (3, 3)
    assert connect.call_count == 1 and len(mail.outbox) == 3
    assert {m.extra_headers["In-Reply-To"] for m in mail.outbox} == set(
        Letter.objects.values_list("message_id", flat=True)
    )
    assert all(len(m.attachments) == 1 for m in mail.outbox)
    assert letters_process(lease=timedelta(minutes=1)) == 0 and answers_send() == (0, 0)


def test_a_letter_claimed_by_a_worker_that_died_is_processed_once_after_its_lease(
    customer, at, django_capture_on_commit_callbacks
):
    _user, meter = customer
    raw = letter(f"л/с {meter.account.number} № {meter.serial} день 1300 ночь 650")
    _stored_unprocessed([raw], django_capture_on_commit_callbacks)
    due = {"status": Status.RECEIVED, "next_attempt_at__lte": IN_WINDOW}
    assert len(work._claim(Letter, due, 10, IN_WINDOW + timedelta(minutes=1))) == 1  # then it dies
    assert letters_process(lease=timedelta(minutes=1)) == 0  # another worker: not its to take
    at.return_value = IN_WINDOW + timedelta(minutes=2)
    assert letters_process(lease=timedelta(minutes=1)) == 1
    assert Letter.objects.get().status == Status.DONE
    assert Reading.objects.filter(meter=meter).count() == 1 and Answer.objects.count() == 1
    # The worker whose claim ran out comes back to it: the letter is done, nothing happens twice.
    assert letter_process(Letter.objects.get().pk) is None
    assert Reading.objects.filter(meter=meter).count() == 1 and Answer.objects.count() == 1


def test_the_answer_lease_is_a_setting(customer, at, settings, receive):
    settings.METERDESK_MAIL_ANSWER_LEASE = 45
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with mock.patch("meterdesk.mail.answers.answer_failed"):  # the worker dies mid-send
        answer = Answer.objects.get(letter=receive(letter("привет")))
    assert answer.sent_at is None and answer.next_attempt_at == IN_WINDOW + timedelta(seconds=45)
