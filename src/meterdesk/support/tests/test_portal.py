"""Support in the personal account: a question with a photo, the thread, the files only for their
own customer, and no internal note ever shown."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from meterdesk.support.attachments import file_path
from meterdesk.support.models import Attachment, Kind, Message, Status, Thread
from meterdesk.support.services import thread_answer, thread_note
from meterdesk.support.tests.conftest import photo
from meterdesk.testing import MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna_client(client, customer):
    user, _meter = customer
    client.force_login(user)
    return client


@pytest.fixture
def staff(db):
    return UserFactory(email="sofia@office.example.com", is_staff=True, full_name="Софья Поддержкина")


def _write(client, account, **extra):
    data = {
        "topic": "readings",
        "account": account.pk,
        "text": "Счётчик показывает 12345, а в счёте 12000",
        "attachments": [SimpleUploadedFile("IMG_0001.jpg", photo(), content_type="image/jpeg")],
        **extra,
    }
    return client.post(reverse("support:new"), data)


def test_a_customer_writes_with_a_photo(anna_client, customer):
    user, meter = customer
    assert anna_client.get(reverse("support:new")).status_code == 200
    response = _write(anna_client, meter.account)
    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("support:thread", args=[thread.pk])
    assert (thread.user, thread.account, thread.topic, thread.status) == (
        user,
        meter.account,
        "readings",
        "new",
    )
    assert thread.due_at > thread.created_at
    attachment = Attachment.objects.get()
    assert (attachment.name, attachment.content_type) == ("IMG_0001.jpg", "image/jpeg")
    assert file_path(attachment.stored).read_bytes() == photo()
    page = anna_client.get(response["Location"]).content.decode()
    assert "Счётчик показывает 12345" in page
    assert reverse("support:attachment", args=[attachment.pk]) in page
    served = anna_client.get(reverse("support:attachment", args=[attachment.pk]))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == photo()


def test_a_file_that_is_not_a_photo_is_refused(anna_client, customer):
    _user, meter = customer
    bad = SimpleUploadedFile("meter.jpg", b"<svg onload=alert(1)>", content_type="image/jpeg")
    response = _write(anna_client, meter.account, attachments=[bad])
    assert response.status_code == 400
    assert "attachment_type" in [e.code for e in response.context["form"].errors.as_data()["attachments"]]
    assert not Thread.objects.exists()


def test_someone_elses_account_is_not_offered(anna_client, customer):
    other = MeterFactory().account
    response = _write(anna_client, other)
    assert response.status_code == 400
    assert "account" in response.context["form"].errors
    assert not Thread.objects.exists()


def test_another_customer_gets_404_for_the_thread_and_its_files(anna_client, customer):
    _user, meter = customer
    _write(anna_client, meter.account)
    thread, attachment = Thread.objects.get(), Attachment.objects.get()
    boris = UserFactory(email="boris@example.com")
    link(boris, MeterFactory().account)
    anna_client.force_login(boris)
    assert anna_client.get(reverse("support:thread", args=[thread.pk])).status_code == 404
    assert anna_client.get(reverse("support:attachment", args=[attachment.pk])).status_code == 404
    assert anna_client.post(reverse("support:thread", args=[thread.pk]), {"text": "hi"}).status_code == 404
    assert thread.pk and Message.objects.count() == 1
    anna_client.logout()
    response = anna_client.get(reverse("support:attachment", args=[attachment.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_answer_is_shown_and_the_note_never(anna_client, customer, staff):
    _user, meter = customer
    _write(anna_client, meter.account)
    thread = Thread.objects.get()
    thread_note(staff=staff, thread=thread, text="Проверить по фото, похоже на опечатку")
    thread_answer(staff=staff, thread=thread, text="Спасибо, пересчитаем по фото.")
    page = anna_client.get(reverse("support:thread", args=[thread.pk])).content.decode()
    assert "Спасибо, пересчитаем по фото." in page
    assert "опечатку" not in page
    thread.refresh_from_db()
    assert thread.status == Status.WAITING
    assert thread.assigned_to == staff


def test_a_note_file_is_not_served_to_the_customer(anna_client, customer, staff):
    _user, meter = customer
    _write(anna_client, meter.account)
    thread = Thread.objects.get()
    note = thread_note(staff=staff, thread=thread, text="внутреннее")
    attachment = Attachment.objects.get()
    attachment.pk = None
    attachment.message = note
    attachment.stored = "ab/other.jpg"
    attachment.save()
    assert anna_client.get(reverse("support:attachment", args=[attachment.pk])).status_code == 404


def test_writing_again_gives_the_thread_back_to_support(anna_client, customer, staff):
    _user, meter = customer
    _write(anna_client, meter.account)
    thread = Thread.objects.get()
    thread_answer(staff=staff, thread=thread, text="Ответ", status=Status.CLOSED)
    thread.refresh_from_db()
    assert thread.closed_at is not None
    response = anna_client.post(reverse("support:thread", args=[thread.pk]), {"text": "Но ведь…"})
    assert response.status_code == 302
    thread.refresh_from_db()
    assert (thread.status, thread.closed_at) == (Status.IN_PROGRESS, None)
    assert list(thread.messages.values_list("kind", flat=True)) == [Kind.CUSTOMER, Kind.ANSWER, Kind.CUSTOMER]


def test_the_list_and_the_links(anna_client, customer):
    _user, meter = customer
    _write(anna_client, meter.account)
    page = anna_client.get(reverse("support:threads")).content.decode()
    assert reverse("support:thread", args=[Thread.objects.get().pk]) in page
    assert reverse("support:threads") in anna_client.get(reverse("portal:dashboard")).content.decode()
    assert reverse("support:threads") in anna_client.get(reverse("portal:profile")).content.decode()


def test_a_login_writes_a_bounded_number_of_messages_a_day(anna_client, customer, monkeypatch):
    _user, meter = customer
    monkeypatch.setattr("meterdesk.support.services.MAX_A_DAY", 2)
    assert _write(anna_client, meter.account).status_code == 302
    thread = Thread.objects.get()
    assert anna_client.post(reverse("support:thread", args=[thread.pk]), {"text": "ещё"}).status_code == 302
    refused = _write(anna_client, meter.account)
    assert refused.status_code == 400
    assert [e.code for e in refused.context["form"].non_field_errors().as_data()] == ["messages_too_many"]
    assert Thread.objects.count() == 1
