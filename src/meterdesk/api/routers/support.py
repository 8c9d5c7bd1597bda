"""Support: a household's questions to the utility and the answers, as in the personal account.

A thread, a message or a file that is not the login's is 404 ``not_found``, exactly like one that
does not exist; the staff's internal notes are never shown. Files travel in the JSON body as
base64 (the API takes JSON only): photos (JPEG, PNG) and PDF scans, checked by their content.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import StringConstraints

from meterdesk.api.auth import request_user
from meterdesk.api.errors import ApiError, not_found
from meterdesk.api.routers import account_of, email_not_verified, errors, paged
from meterdesk.api.schemas import ACCOUNT_NUMBER_PATTERN, MAX_ID, NO_NUL, PageMeta, PageQuery
from meterdesk.customers.models import User
from meterdesk.support.attachments import MAX_BYTES, MAX_FILES, AttachmentError, Upload
from meterdesk.support.messages import attachment_message, limit_message, text_message
from meterdesk.support.models import Attachment, Message, Source, Thread
from meterdesk.support.selectors import attachment_of, messages_shown, thread_of, threads_of
from meterdesk.support.services import (
    MAX_TEXT,
    TextError,
    TooManyMessages,
    thread_customer_write,
    thread_open,
)
from meterdesk.support.views import file_response

router = Router(tags=["support"])

TopicCode = Literal["readings", "bill", "payment", "meter", "other"]
StatusCode = Literal["new", "in_progress", "waiting", "closed"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL)]
THREAD = Path(..., ge=1, le=MAX_ID, description="the thread's id")


class AttachmentIn(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)] = Field(
        description="the file's name, for showing", examples=["meter.jpg"]
    )
    content_base64: Annotated[str, StringConstraints(min_length=1, max_length=(MAX_BYTES + 2) // 3 * 4)] = (
        Field(
            description="the file's bytes in base64: a JPEG or PNG photo or a PDF, at most 5 MB (and the "
            "whole request body at most 2.5 MB)"
        )
    )


class ThreadIn(Schema):
    topic: TopicCode = Field(description="readings, bill, payment, meter or other")
    text: Text = Field(examples=["Why is my bill by average this month?"])
    account: Annotated[str, StringConstraints(pattern=ACCOUNT_NUMBER_PATTERN)] | None = Field(
        None, description="the account it is about (one of the login's)"
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_FILES)


class MessageIn(Schema):
    text: Text
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_FILES)


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: Literal["image/jpeg", "image/png", "application/pdf"]
    size: int = Field(description="bytes")


class MessageOut(Schema):
    id: int
    kind: Literal["customer", "answer"] = Field(description="the customer's own, or the utility's answer")
    text: str
    created_at: datetime
    attachments: list[AttachmentOut]


class ThreadOut(Schema):
    id: int
    topic: TopicCode
    topic_text: str
    status: StatusCode = Field(description="new, in_progress, waiting (answered: waiting for you) or closed")
    status_text: str
    account: str | None
    created_at: datetime
    updated_at: datetime


class ThreadDetailOut(ThreadOut):
    messages: list[MessageOut]


class ThreadPage(PageMeta):
    items: list[ThreadOut]


def _user(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.email_verified:
        raise email_not_verified()
    return user


def _thread(user: User, thread_id: int) -> Thread:
    try:
        return thread_of(user, thread_id)
    except Thread.DoesNotExist as exc:
        raise not_found() from exc


def _uploads(items: list[AttachmentIn]) -> list[Upload]:
    uploads = []
    for item in items:
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(
                422, "attachment_encoding", _("The file %(name)s is not valid base64.") % {"name": item.name}
            ) from exc
        uploads.append(Upload(name=item.name, data=data))
    return uploads


def _refused(error: AttachmentError | TextError | TooManyMessages) -> ApiError:
    if isinstance(error, TooManyMessages):
        return ApiError(429, error.code, limit_message())
    if isinstance(error, AttachmentError):
        return ApiError(
            422, error.code, attachment_message(error), {"name": error.name} if error.name else {}
        )
    return ApiError(422, error.code, text_message(error))


def _thread_out(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.pk,
        "topic": thread.topic,
        "topic_text": thread.get_topic_display(),
        "status": thread.status,
        "status_text": thread.get_status_display(),
        "account": thread.account.number if thread.account else None,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
    }


def _message_out(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "kind": message.kind,
        "text": message.text,
        "created_at": message.created_at,
        "attachments": [
            {"id": a.pk, "name": a.name, "content_type": a.content_type, "size": a.size}
            for a in message.attachments.all()
        ],
    }


def _detail(thread: Thread) -> dict[str, Any]:
    return {**_thread_out(thread), "messages": [_message_out(m) for m in messages_shown(thread)]}


@router.get(
    "/threads", response={200: ThreadPage, **errors(401, 403, 422, 429)}, summary="The login's questions"
)
def thread_list(request: HttpRequest, params: Query[PageQuery]) -> Any:
    return paged(threads_of(_user(request)), params, _thread_out)


@router.post(
    "/threads",
    response={201: ThreadDetailOut, **errors(400, 401, 403, 404, 422, 429)},
    summary="Write to support",
    description=(
        "A question on a topic, about one of the login's accounts (another is 404), with up to "
        f"{MAX_FILES} files. 422 `attachment_type` (not a JPEG, PNG or PDF by its content), "
        "`attachment_too_large`, `attachment_encoding` (not base64) or `text_empty`; 429 "
        "`messages_too_many` past 20 messages in 24 hours. The answer comes in the thread and by e-mail."
    ),
)
def thread_create(request: HttpRequest, payload: ThreadIn) -> Any:
    user = _user(request)
    account = account_of(request, payload.account) if payload.account else None
    try:
        thread = thread_open(
            user=user,
            account=account,
            topic=payload.topic,
            text=payload.text,
            uploads=_uploads(payload.attachments),
            source=Source.API,
        )
    except (AttachmentError, TextError, TooManyMessages) as error:
        raise _refused(error) from error
    return Status(201, _detail(thread))


@router.get(
    "/threads/{thread_id}",
    response={200: ThreadDetailOut, **errors(401, 403, 404, 422, 429)},
    summary="A question with its answers",
)
def thread_detail(request: HttpRequest, thread_id: int = THREAD) -> Any:
    return _detail(_thread(_user(request), thread_id))


@router.post(
    "/threads/{thread_id}/messages",
    response={201: ThreadDetailOut, **errors(400, 401, 403, 404, 422, 429)},
    summary="Write again in a thread",
    description="The thread goes back to support with a new due time, closed or not.",
)
def message_create(request: HttpRequest, payload: MessageIn, thread_id: int = THREAD) -> Any:
    user = _user(request)
    thread = _thread(user, thread_id)
    try:
        thread_customer_write(
            user=user, thread=thread, text=payload.text, uploads=_uploads(payload.attachments)
        )
    except (AttachmentError, TextError, TooManyMessages) as error:
        raise _refused(error) from error
    return Status(201, _detail(thread))


_FILE = {
    "responses": {
        200: {
            "description": "The file, of the type its content was checked to be",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("image/jpeg", "image/png", "application/pdf")
            },
        }
    }
}


@router.get(
    "/attachments/{attachment_id}",
    response={**errors(401, 403, 404, 422, 429)},
    summary="A file of one of the login's threads",
    openapi_extra=_FILE,
)
def attachment_download(
    request: HttpRequest, attachment_id: int = Path(..., ge=1, le=MAX_ID, description="the file's id")
) -> HttpResponse:
    try:
        found = attachment_of(_user(request), attachment_id)
    except Attachment.DoesNotExist as exc:
        raise not_found() from exc
    return file_response(found)  # type: ignore[return-value]
