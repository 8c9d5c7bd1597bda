"""The login's profile: its e-mail, language and consent; its phone numbers, added and removed.

The phone line recognises a caller by these numbers, so they are stored in one form (E.164) and a
number that cannot exist is refused (422 ``phone_invalid``). The rules are the personal account's
(``customers.profile``); a login that has not confirmed its e-mail is 403 ``email_not_verified``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import StringConstraints

from meterdesk.api.auth import request_user
from meterdesk.api.errors import ApiError, not_found, rate_limited
from meterdesk.api.routers import email_not_verified, errors, paged
from meterdesk.api.schemas import MAX_ID, NO_NUL, PageMeta, PageQuery
from meterdesk.customers.models import Phone, User
from meterdesk.customers.profile import (
    PASSWORD_WRONG,
    PHONE_DUPLICATE,
    EmailChangeError,
    PhoneError,
    email_change_request,
    email_error_message,
    phone_add,
    phone_error_message,
    phone_remove,
    user_language_set,
)
from meterdesk.customers.selectors import PhoneRow, consent_of, phone_row, phones_of
from meterdesk.customers.services import TooManyAttempts
from meterdesk.domain.phones import MAX_TYPED

router = Router(tags=["profile"])

Label = Literal["mobile", "home", "work", "other"]


class PhoneOut(Schema):
    id: int
    number: str = Field(description="E.164, e.g. +79161234567", examples=["+79161234567"])
    text: str = Field(description="as people read it", examples=["+7 (916) 123-45-67"])
    label: Label
    label_text: str
    added_at: datetime


class PhonePage(PageMeta):
    items: list[PhoneOut]


class PhoneIn(Schema):
    number: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TYPED, pattern=NO_NUL)] = Field(
        description="any usual form: +7 916 123-45-67, 8 (916) 123-45-67, 9161234567 (Russian without a country code)",
        examples=["8 916 123-45-67"],
    )
    label: Label = Field("mobile", description="mobile, home, work or other")


class ConsentOut(Schema):
    version: str
    given_at: datetime
    language: str = Field(description="the language of the text agreed to")


class ProfileOut(Schema):
    email: str
    language: Literal["ru", "en"] = Field(description="of the letters (and of the site's pages)")
    phones: list[PhoneOut]
    consent: ConsentOut | None = Field(description="the consent to personal data processing (152-FZ)")


class ProfileIn(Schema):
    language: Literal["ru", "en"]


class EmailIn(Schema):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254, pattern=NO_NUL)] = Field(
        description="the new address", examples=["anna.new@example.com"]
    )
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="the login's password, to show it is the owner who asks"
    )


class EmailChangeOut(Schema):
    sent_to: str = Field(description="where the link to confirm the change went")
    email: str = Field(description="the login's e-mail, unchanged until the link is followed")


def _user(request: HttpRequest) -> User:
    user = request_user(request)
    if not user.email_verified:  # a session of a login that has not followed its link yet
        raise email_not_verified()
    return user


def _phone_out(row: PhoneRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "text": row.text,
        "label": row.label,
        "label_text": row.label_text,
        "added_at": row.added_at,
    }


def _profile_out(user: User) -> dict[str, Any]:
    consent = consent_of(user)
    return {
        "email": user.email,
        "language": user.language,
        "phones": [_phone_out(row) for row in phones_of(user)],
        "consent": (
            {"version": consent.version, "given_at": consent.given_at, "language": consent.text.language}
            if consent is not None
            else None
        ),
    }


@router.get("", response={200: ProfileOut, **errors(401, 403, 429)}, summary="The login's profile")
def profile_detail(request: HttpRequest) -> Any:
    return _profile_out(_user(request))


@router.patch(
    "",
    response={200: ProfileOut, **errors(400, 401, 403, 422, 429)},
    summary="Change the language",
    description="The language of the letters to the login, and of the site's pages once logged in.",
)
def profile_update(request: HttpRequest, payload: ProfileIn) -> Any:
    user = _user(request)
    user_language_set(user=user, language=payload.language)
    return _profile_out(user)


@router.get(
    "/phones", response={200: PhonePage, **errors(401, 403, 422, 429)}, summary="The login's phone numbers"
)
def phone_list(request: HttpRequest, params: Query[PageQuery]) -> Any:
    return paged(phones_of(_user(request)), params, _phone_out)


@router.post(
    "/phones",
    response={201: PhoneOut, **errors(400, 401, 403, 409, 422, 429)},
    summary="Add a phone number",
    description=(
        "Stored in E.164; the customer line recognises calls from it. A number that cannot exist is "
        "422 phone_invalid, one already in the profile 409 phone_duplicate, an eleventh 422 phone_limit."
    ),
)
def phone_create(request: HttpRequest, payload: PhoneIn) -> Any:
    user = _user(request)
    try:
        phone = phone_add(user=user, number=payload.number, label=payload.label)
    except PhoneError as error:
        status = 409 if error.code == PHONE_DUPLICATE else 422
        details = {"number": error.number} if error.number else {}
        raise ApiError(status, error.code, phone_error_message(error), details) from error
    return Status(201, _phone_out(phone_row(phone)))


@router.delete(
    "/phones/{phone_id}",
    response={204: None, **errors(401, 403, 404, 422, 429)},
    summary="Remove a phone number",
)
def phone_delete(request: HttpRequest, phone_id: int = Path(..., ge=1, le=MAX_ID)) -> Any:
    try:
        phone_remove(user=_user(request), phone_id=phone_id)
    except Phone.DoesNotExist as exc:
        raise not_found() from exc
    return Status(204, None)


@router.post(
    "/email",
    response={202: EmailChangeOut, **errors(400, 401, 403, 422, 429)},
    summary="Change the e-mail: a link to confirm it goes to the new address",
    description=(
        "Nothing changes until the link in the letter to the new address is followed (in a browser); "
        "then the old address is told. 422 `email_invalid`, `email_same` or `password_wrong`; "
        "429 past a few requests an hour."
    ),
)
def email_change(request: HttpRequest, payload: EmailIn) -> Any:
    user = _user(request)
    try:
        sent_to = email_change_request(
            user=user,
            new_email=payload.email,
            password=payload.password,
            site=request.build_absolute_uri("/").rstrip("/"),
        )
    except EmailChangeError as error:
        field = "password" if error.code == PASSWORD_WRONG else "email"
        raise ApiError(422, error.code, email_error_message(error), {"field": field}) from error
    except TooManyAttempts as error:
        raise rate_limited(error.wait) from error
    return Status(202, {"sent_to": sent_to, "email": user.email})
