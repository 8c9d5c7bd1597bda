"""Services: the utility's catalogue with prices, and a household's requests for them (the same
services as the personal account's). An account that is not the login's is 404 ``not_found``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils.translation import get_language
from ninja import Field, Query, Router, Schema
from pydantic import StringConstraints

from meterdesk.api import present
from meterdesk.api.auth import request_user
from meterdesk.api.errors import ApiError
from meterdesk.api.idempotency import idempotent
from meterdesk.api.routers import NUMBER, account_of, errors, idempotency_key_header, paged
from meterdesk.api.schemas import NO_NUL, Money, PageMeta, PageQuery
from meterdesk.orders.messages import order_message
from meterdesk.orders.models import Channel, Service, ServiceRequest
from meterdesk.orders.selectors import requests_of_account, service_catalogue
from meterdesk.orders.services import MAX_COMMENT, OrderError, request_cancel, request_order
from meterdesk.utility.selectors import utility_now

router = Router(tags=["services"])

StatusCode = Literal["ordered", "scheduled", "done", "cancelled", "failed"]
IDEMPOTENCY_KEY = idempotency_key_header(
    "a client-chosen key: a retry with the same key and body gets the first answer, not a second request"
)


class ServiceOut(Schema):
    code: str = Field(examples=["meter-replacement"])
    name: str
    description: str
    price: Money = Field(description="roubles including VAT; 0.00: free")
    free: bool
    valid_from: date = Field(description="the day this price applies from")


class ServicePage(PageMeta):
    items: list[ServiceOut]


class ServiceRequestIn(Schema):
    service: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")] = Field(
        description="the service's code (GET /api/v1/services)", examples=["meter-replacement"]
    )
    preferred_on: date | None = Field(None, description="the day the household would like, if any")
    comment: Annotated[str, StringConstraints(max_length=MAX_COMMENT, pattern=NO_NUL)] = ""


class ServiceRequestOut(Schema):
    number: str = Field(examples=["З-000123"])
    account: str
    service: str = Field(description="the service's code")
    service_name: str
    price: Money = Field(description="the price fixed when ordered")
    channel: Literal["web", "api", "phone", "office"]
    status: StatusCode
    status_text: str
    preferred_on: date | None
    scheduled_on: date | None
    window: str = Field(description="the visit's hours, e.g. 09:00–12:00; empty until scheduled")
    outcome: str
    done_on: date | None
    reason: str = Field(description="why it was cancelled or failed")
    created_at: datetime


class ServiceRequestPage(PageMeta):
    items: list[ServiceRequestOut]


def _service_out(service: Service) -> dict[str, Any]:
    language = get_language()
    return {
        "code": service.code,
        "name": service.name(language),
        "description": service.description(language),
        "price": present.money(service.price),
        "free": service.free,
        "valid_from": service.valid_from.isoformat(),
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _request_out(request: ServiceRequest) -> dict[str, Any]:
    return {
        "number": request.number,
        "account": request.account.number,
        "service": request.service.code,
        "service_name": request.service.name(get_language()),
        "price": present.money(request.price),
        "channel": request.channel,
        "status": request.status,
        "status_text": str(request.get_status_display()),
        "preferred_on": _iso(request.preferred_on),
        "scheduled_on": _iso(request.scheduled_on),
        "window": request.window,
        "outcome": request.outcome,
        "done_on": _iso(request.done_on),
        "reason": request.reason,
        "created_at": present.local(request.created_at).isoformat(),
    }


@router.get(
    "/services",
    response={200: ServicePage, **errors(401, 422, 429)},
    summary="The services a household may order, with prices",
)
def service_list(request: HttpRequest, params: Query[PageQuery]) -> Any:
    return paged(service_catalogue(utility_now().date()), params, _service_out)


@router.get(
    "/accounts/{number}/service-requests",
    response={200: ServiceRequestPage, **errors(401, 404, 422, 429)},
    summary="The account's service requests, newest first",
)
def service_request_list(request: HttpRequest, params: Query[PageQuery], number: str = NUMBER) -> Any:
    account = account_of(request, number)
    return paged(requests_of_account(account).select_related("account"), params, _request_out)


_STATUS = {"too_many_open": 409, "account_closed": 409}


@router.post(
    "/accounts/{number}/service-requests",
    response={201: ServiceRequestOut, **errors(400, 401, 404, 409, 422, 429)},
    summary="Order a service",
    description=(
        "At the price of today, fixed on the request; staff agree the day and time (the household "
        "gets a notice). A paid service is added to the next bill once done. 422 `service_unknown`, "
        "`day_invalid` (past, or more than 180 days ahead), `comment_too_long`; 409 `too_many_open` "
        "(10 requests in progress), `account_closed`. With `Idempotency-Key`, a retry returns the "
        "first answer."
    ),
)
def service_request_create(
    request: HttpRequest,
    payload: ServiceRequestIn,
    number: str = NUMBER,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:
    account = account_of(request, number)
    user = request_user(request)

    def order() -> dict[str, Any]:
        try:
            made = request_order(
                account=account,
                service_code=payload.service,
                channel=Channel.API,
                user=user,
                preferred_on=payload.preferred_on,
                comment=payload.comment,
            )
        except OrderError as error:
            raise ApiError(_STATUS.get(error.code, 422), error.code, order_message(error)) from error
        return _request_out(made)

    return idempotent(
        request,
        idempotency_key,
        path=f"accounts/{number}/service-requests",
        payload=payload.model_dump(mode="json"),
        answer=order,
    )


class ServiceRequestCancelIn(Schema):
    reason: Annotated[str, StringConstraints(max_length=MAX_COMMENT, pattern=NO_NUL)] = Field(
        "", description="why, in the household's words (optional)"
    )


@router.post(
    "/accounts/{number}/service-requests/{request_number}/cancel",
    response={200: ServiceRequestOut, **errors(400, 401, 404, 409, 422, 429)},
    summary="Cancel a service request",
    description=(
        "The household withdraws a request before the service is done (a scheduled visit too); "
        "nothing is billed. 404 `not_found` for a request that is not the account's; 409 "
        "`request_closed` once it is done, failed or cancelled (a repeat is refused the same way)."
    ),
)
def service_request_cancel(
    request: HttpRequest, payload: ServiceRequestCancelIn, request_number: str, number: str = NUMBER
) -> Any:
    account = account_of(request, number)
    made = requests_of_account(account).filter(number=request_number).first()
    if made is None:
        raise ApiError(404, "not_found", order_message(OrderError("request_unknown")))
    try:
        done = request_cancel(user=request_user(request), request=made, reason=payload.reason)
    except OrderError as error:
        raise ApiError(
            409 if error.code == "request_closed" else 422, error.code, order_message(error)
        ) from error
    return _request_out(done)
