"""Support through the API: a question with a photo in base64, the thread with the answer, and
nothing of another login's (404)."""

from __future__ import annotations

import base64

import pytest

from meterdesk.api.auth import token_create
from meterdesk.api.tests.conftest import ApiClient
from meterdesk.support.models import Attachment, Source, Thread
from meterdesk.support.services import thread_answer, thread_note
from meterdesk.support.tests.conftest import _files, photo  # noqa: F401 - the fixture keeps files apart
from meterdesk.testing import UserFactory

pytestmark = pytest.mark.django_db


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _ask(api, meter, **extra):
    body = {
        "topic": "meter",
        "text": "Пломба сорвана, фото прилагаю",
        "account": meter.account.number,
        "attachments": [{"name": "seal.jpg", "content_base64": _b64(photo())}],
        **extra,
    }
    return api.post_json("/support/threads", body)


def test_a_question_with_a_photo_and_its_answer(api, meter):
    response = _ask(api, meter)
    assert response.status_code == 201, response.json()
    body = response.json()
    thread = Thread.objects.get(pk=body["id"])
    assert (thread.source, thread.account, body["status"]) == (Source.API, meter.account, "new")
    (message,) = body["messages"]
    (attachment,) = message["attachments"]
    assert attachment["content_type"] == "image/jpeg"
    file = api.get_api(f"/support/attachments/{attachment['id']}")
    assert file.status_code == 200
    assert file["Content-Type"] == "image/jpeg"
    assert b"".join(file.streaming_content) == photo()
    staff = UserFactory(email="sofia@office.example.com", is_staff=True)
    thread_note(staff=staff, thread=thread, text="внутреннее")
    thread_answer(staff=staff, thread=thread, text="Мастер приедет во вторник")
    detail = api.get_api(f"/support/threads/{thread.pk}").json()
    assert [m["kind"] for m in detail["messages"]] == ["customer", "answer"]
    assert detail["status"] == "waiting"
    assert api.get_api("/support/threads").json()["total"] == 1
    again = api.post_json(f"/support/threads/{thread.pk}/messages", {"text": "Спасибо"})
    assert again.status_code == 201
    assert again.json()["status"] == "in_progress"


def test_a_file_is_checked_by_its_content(api, meter):
    response = _ask(
        api, meter, attachments=[{"name": "meter.jpg", "content_base64": _b64(b"MZ\x90\x00 not an image")}]
    )
    assert response.status_code == 422
    assert response.json()["code"] == "attachment_type"
    response = _ask(api, meter, attachments=[{"name": "meter.jpg", "content_base64": "***"}])
    assert response.json()["code"] == "attachment_encoding"
    assert not Thread.objects.exists()


def test_nothing_of_another_login(api, meter, stranger):
    response = _ask(api, meter, account=stranger.account.number)
    assert response.status_code == 404
    boris = stranger.account.links.get().user
    theirs = ApiClient(token_create(user=boris, name="phone")[1])
    created = _ask(theirs, stranger).json()
    file_id = created["messages"][0]["attachments"][0]["id"]
    assert api.get_api(f"/support/threads/{created['id']}").status_code == 404
    assert api.post_json(f"/support/threads/{created['id']}/messages", {"text": "x"}).status_code == 404
    assert api.get_api(f"/support/attachments/{file_id}").status_code == 404
    assert api.get_api("/support/threads").json()["total"] == 0
    assert Attachment.objects.count() == 1


def test_past_the_days_messages_it_is_429(api, meter, monkeypatch):
    monkeypatch.setattr("meterdesk.support.services.MAX_A_DAY", 1)
    created = _ask(api, meter, attachments=[])
    assert created.status_code == 201
    again = api.post_json(f"/support/threads/{created.json()['id']}/messages", {"text": "ещё"})
    assert again.status_code == 429
    assert again.json()["code"] == "messages_too_many"
