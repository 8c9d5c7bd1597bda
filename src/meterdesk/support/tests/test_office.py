"""The queue in the back office: filters and ages, assignment, answers with canned text, notes,
statuses, escalation; callback requests and letters not understood in the same queue; every
staff action in the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from click.testing import CliRunner
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.cli import main
from meterdesk.notify.models import Notice
from meterdesk.notify.send import notices_send
from meterdesk.support.attachments import Upload
from meterdesk.support.intake import queue_intake
from meterdesk.support.models import CannedAnswer, Kind, Source, Status, Thread
from meterdesk.support.services import thread_customer_write, threads_escalate
from meterdesk.support.tests.conftest import photo
from meterdesk.support.tests.factories import thread_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(office_world):
    user, meter = office_world
    return user, meter, thread_make(meter.account.number)


def _audit(thread: Thread) -> list[dict]:
    kind = ContentType.objects.get_for_model(Thread)
    entries = LogEntry.objects.filter(content_type=kind, object_id=thread.pk).order_by("pk")
    return [
        {"who": e.actor.email if e.actor else None, **e.additional_data, **e.changes_dict} for e in entries
    ]


def test_the_queue_lists_with_filters_and_marks_the_overdue(world):
    _user, _meter, thread = world
    late = thread_make("1000000042", topic="readings")
    Thread.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    client = client_of(staff_of("support"))
    page = client.get(reverse("backoffice:support_queue"))
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [r.thread.pk for r in rows] == [late.pk, thread.pk]  # the most urgent first
    assert [r.overdue for r in rows] == [True, False]
    assert "просрочен" in page.content.decode() or "overdue" in page.content.decode()
    only = client.get(reverse("backoffice:support_queue"), {"overdue": "on"}).context["rows"]
    assert [r.thread.pk for r in only] == [late.pk]
    bills = client.get(reverse("backoffice:support_queue"), {"topic": "bill"}).context["rows"]
    assert [r.thread.pk for r in bills] == [thread.pk]


def test_assign_answer_note_and_status_are_audited(world, mailoutbox, django_capture_on_commit_callbacks):
    user, _meter, thread = world
    support = staff_of("support")
    client = client_of(support)
    url = reverse("backoffice:support_thread", args=[thread.pk])
    assert client.post(reverse("backoffice:support_assign", args=[thread.pk]), {"me": "1"}).status_code == 302
    client.post(reverse("backoffice:support_note", args=[thread.pk]), {"text": "Сверить с фото"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("backoffice:support_answer", args=[thread.pk]),
            {"text": "Счёт по среднему, потому что показаний не было.", "status": "waiting", "send": "1"},
        )
    assert response.status_code == 302 and response["Location"] == url
    client.post(reverse("backoffice:support_status", args=[thread.pk]), {"status": "closed"})
    thread.refresh_from_db()
    assert (thread.assigned_to, thread.status) == (support, Status.CLOSED)
    assert list(thread.messages.values_list("kind", flat=True)) == [Kind.CUSTOMER, Kind.NOTE, Kind.ANSWER]
    rows = _audit(thread)
    assert [r["support"] for r in rows] == ["assign", "note", "answer", "status"]
    assert {r["who"] for r in rows} == {support.email}
    assert rows[0]["assigned_to"] == [None, support.email]
    assert rows[3]["status"] == ["waiting", "closed"]
    assert all(r["account"] == "1000000042" for r in rows)
    # The customer is told by a notice (e-mail, personal account), in their language, with a link
    # to the thread; sent by the notices' sender.
    assert not mailoutbox
    assert notices_send().sent == 1
    (letter,) = mailoutbox
    assert letter.to == [user.email]
    assert f"https://lk.example.com/support/{thread.pk}/" in letter.body
    assert Notice.objects.filter(topic="support_answer", channel="cabinet", user=user).count() == 1
    page = client.get(url).content.decode()
    assert "Сверить с фото" in page  # staff see the notes


def test_a_canned_answer_is_inserted_in_the_customers_language(world):
    user, _meter, thread = world
    canned = CannedAnswer.objects.get(title="Начисление по среднему")
    client = client_of(staff_of("support"))
    url = reverse("backoffice:support_answer", args=[thread.pk])
    response = client.post(
        url, {"text": "Здравствуйте!", "canned": canned.pk, "status": "waiting", "insert": "1"}
    )
    assert response.status_code == 200
    assert response.context["answer"].initial["text"] == "Здравствуйте!\n\n" + canned.text_ru
    assert not thread.messages.filter(kind=Kind.ANSWER).exists()
    user.language = "en"
    user.save()
    response = client.post(url, {"text": "", "canned": canned.pk, "status": "waiting", "insert": "1"})
    assert response.context["answer"].initial["text"] == canned.text_en


def test_an_empty_answer_is_not_sent(world, mailoutbox):
    _user, _meter, thread = world
    client = client_of(staff_of("support"))
    response = client.post(
        reverse("backoffice:support_answer", args=[thread.pk]), {"text": " ", "status": "waiting"}
    )
    assert response.status_code == 400
    assert not mailoutbox


def test_escalation_marks_the_overdue_once(world):
    _user, _meter, thread = world
    now = timezone.now()
    assert threads_escalate(now=now) == []
    Thread.objects.filter(pk=thread.pk).update(due_at=now - timedelta(minutes=1))
    assert [t.pk for t in threads_escalate(now=now)] == [thread.pk]
    assert threads_escalate(now=now) == []
    assert _audit(thread)[-1]["support"] == "escalate"
    supervisor = client_of(staff_of("supervisor"))
    rows = supervisor.get(reverse("backoffice:support_escalated")).context["rows"]
    assert [r.thread.pk for r in rows] == [thread.pk]
    assert (
        client_of(staff_of("support", "s2@office.example.com"))
        .get(reverse("backoffice:support_escalated"))
        .status_code
        == 403
    )


def test_callbacks_and_letters_not_understood_join_the_queue(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    _user, meter, _thread = world
    callback = apps.get_model("phone", "CallbackRequest").objects.create(
        number="+79161234567", account=meter.account, topic="verification"
    )
    letter_model = apps.get_model("mail", "Letter")
    raw = "From: maria.ivanova@example.com\r\nSubject: pokazaniya\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nсвет 123 456\r\n"
    letter = letter_model.objects.create(
        via="smtp",
        received_at=timezone.now(),
        raw=raw.encode(),
        size=len(raw),
        next_attempt_at=timezone.now(),
        status="done",
        outcome="not_understood",
        sender="stranger@example.org",
        subject="pokazaniya",
    )
    client = client_of(staff_of("support"))
    rows = client.get(reverse("backoffice:support_queue")).context["rows"]
    sources = {r.thread.source: r.thread for r in rows}
    assert set(sources) == {Source.WEB, Source.PHONE, Source.MAIL}
    phone, mail = sources[Source.PHONE], sources[Source.MAIL]
    assert (phone.source_ref, phone.account, phone.contact, phone.topic) == (
        str(callback.pk),
        meter.account,
        "+79161234567",
        "meter",
    )
    assert "+79161234567" in phone.messages.get().text
    assert (mail.source_ref, mail.contact, mail.user) == (str(letter.pk), "stranger@example.org", None)
    assert "свет 123 456" in mail.messages.get().text
    assert queue_intake() == 0  # each arrives once
    # Closing the callback's thread closes the request; answering the letter writes to its sender.
    client.post(reverse("backoffice:support_status", args=[phone.pk]), {"status": "closed"})
    callback.refresh_from_db()
    assert callback.done_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("backoffice:support_answer", args=[mail.pk]),
            {"text": "Укажите номер счёта", "status": "waiting"},
        )
    assert [m.to for m in mailoutbox] == [["stranger@example.org"]]


def test_staff_see_the_files_customers_do_not_see_notes(world):
    _user, _meter, thread = world
    client = client_of(staff_of("operator"))
    assert client.get(reverse("backoffice:support_thread", args=[thread.pk])).status_code == 403
    assert (
        client_of(staff_of("support")).get(reverse("backoffice:support_thread", args=[999999])).status_code
        == 404
    )


def test_the_escalate_command_tells_the_supervisors(world, mailoutbox):
    _user, _meter, thread = world
    Thread.objects.filter(pk=thread.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    boss = staff_of("supervisor")
    staff_of("support")  # not told
    result = CliRunner().invoke(main, ["support", "escalate"])
    assert result.exit_code == 0, result.output
    assert "Escalated: 1" in result.output
    (letter,) = mailoutbox
    assert letter.to == [boss.email]
    assert f"/office/support/{thread.pk}/" in letter.body
    again = CliRunner().invoke(main, ["support", "escalate"])
    assert "Escalated: 0." in again.output
    assert len(mailoutbox) == 1


def _letter(sender: str, *, verified: bool):
    raw = f"From: {sender}\r\nSubject: q\r\n\r\nвопрос\r\n"
    return apps.get_model("mail", "Letter").objects.create(
        via="smtp",
        received_at=timezone.now(),
        raw=raw.encode(),
        size=len(raw),
        next_attempt_at=timezone.now(),
        status="done",
        outcome="not_understood",
        sender=sender,
        subject="q",
        verified=verified,
    )


def test_a_letter_reaches_its_senders_login_only_when_its_origin_is_verified(world):
    user, meter, _thread = world
    forged = _letter(user.email, verified=False)
    genuine = _letter(user.email, verified=True)
    assert queue_intake() == 2
    assert Thread.objects.get(source=Source.MAIL, source_ref=str(forged.pk)).user is None
    mine = Thread.objects.get(source=Source.MAIL, source_ref=str(genuine.pk))
    assert (mine.user, mine.account) == (user, meter.account)


def test_staff_open_the_files_and_others_do_not(world):
    user, _meter, thread = world
    thread_customer_write(user=user, thread=thread, text="фото", uploads=[Upload("m.png", photo("PNG"))])
    attachment = thread.messages.last().attachments.get()
    url = reverse("backoffice:support_file", args=[attachment.pk])
    served = client_of(staff_of("support")).get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert client_of(staff_of("operator")).get(url).status_code == 403
    assert client_of(user).get(url).status_code == 403
