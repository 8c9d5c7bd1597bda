"""One shape for every error of the API: ``{"code": …, "message": …, "details": {…}}``.

``code`` is stable (clients branch on it); ``message`` is a sentence in the request's language
(``Accept-Language``: ru or en, Russian by default); ``details`` holds what a client needs to act
(the window's dates, the confirmations to send, the invalid fields …), always an object.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from meterdesk.customers.services import AccountMismatch, AlreadyLinked
from meterdesk.domain.readings import Issue
from meterdesk.metering.check import (
    MeterNotInService,
    MonthClosed,
    NeedsConfirmation,
    ReadingError,
    ReadingInvalid,
    WindowClosed,
)
from meterdesk.metering.messages import issue_message, month_closed_message, window_message, zone_label
from meterdesk.metering.models import Meter

log = logging.getLogger(__name__)


class ErrorOut(Schema):
    """Every error response has this shape."""

    code: str
    message: str
    details: dict[str, Any]


class ApiError(Exception):
    """An error with its HTTP status, stable code, message and details (raised by the handlers)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    response = JsonResponse(
        {"code": code, "message": message, "details": _plain(dict(details or {}))},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _plain(value: Any) -> Any:
    """JSON-ready values: Decimals as strings, dates in ISO 8601."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(value.quantize(Decimal(1)))
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --- errors of the services, in the API's words ---------------------------------------------------


def not_found() -> ApiError:
    return ApiError(404, "not_found", _("Not found."))


def _issue(meter: Meter, issue: Issue) -> dict[str, Any]:
    return {
        "zone": issue.zone,
        "zone_label": zone_label(meter.zones, issue.zone) if issue.zone else "",
        "code": issue.code,
        "message": issue_message(issue),
        "params": _plain(dict(issue.params)),
    }


def reading_error(error: ReadingError) -> ApiError:
    """The API's answer to a reading that ``reading_check`` or ``reading_submit`` refused."""
    if isinstance(error, WindowClosed):
        window = error.window
        return ApiError(
            422,
            "window_closed",
            window_message(window.start_day, window.end_day),
            {
                "start_day": window.start_day,
                "end_day": window.end_day,
                "opens_on": error.opens_on,
                "closes_on": error.closes_on,
            },
        )
    if isinstance(error, ReadingInvalid):
        issues = [_issue(error.meter, i) for i in error.issues]
        first = issues[0]
        return ApiError(422, first["code"], first["message"], {"issues": issues})
    if isinstance(error, NeedsConfirmation):
        # Each confirmation names the value it confirms: sent with another value, it is asked again.
        confirmations = [{**_issue(error.meter, i), "confirm": error.checked.token(i)} for i in error.issues]
        return ApiError(
            422,
            "needs_confirmation",
            _("Check the values and confirm them: send the reading again with these confirmations."),
            {
                "confirmations": confirmations,
                "confirm": [c["confirm"] for c in confirmations],
            },
        )
    if isinstance(error, MonthClosed):
        return ApiError(
            422, "month_closed", month_closed_message(error.period), {"period": f"{error.period:%Y-%m}"}
        )
    if isinstance(error, MeterNotInService):
        return ApiError(
            422,
            "meter_not_in_service",
            _("This meter is no longer in service; readings are not accepted for it."),
            {"status": error.meter.status},
        )
    return ApiError(422, error.code, str(error))  # pragma: no cover - every ReadingError is above


def link_error(error: AccountMismatch | AlreadyLinked) -> ApiError:
    if isinstance(error, AlreadyLinked):
        return ApiError(409, "already_linked", _("This account is already linked to your login."))
    return ApiError(
        422, "account_meter_mismatch", _("The account number and meter serial number do not match.")
    )


def rate_limited(wait: float | None) -> ApiError:
    seconds = max(1, int(wait + 0.999)) if wait is not None else 60
    return ApiError(
        429,
        "rate_limited",
        ngettext(
            "Too many requests. Try again in %(n)d second.",
            "Too many requests. Try again in %(n)d seconds.",
            seconds,
        )
        % {"n": seconds},
        {"retry_after": seconds},
        {"Retry-After": str(seconds)},
    )


def unauthorized(message: str | None = None) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        message or _("Log in first: send a valid token in the header Authorization: Bearer <token>."),
        headers={"WWW-Authenticate": 'Bearer realm="meterdesk"'},
    )


# --- the handlers the API installs ----------------------------------------------------------------

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
}


def handle_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def handle_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "type": str(error.get("type", "")),
            "message": str(error.get("msg", "")),
        }
        for error in exc.errors
    ]
    return error_response(422, "validation_error", _("The request is not valid."), {"errors": errors})


def handle_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return handle_api_error(request, unauthorized())


def handle_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    return handle_api_error(request, rate_limited(exc.wait))


def handle_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    if exc.status_code == 400:
        message = _("The request body is not valid JSON.")
    elif exc.status_code == 403:
        message = _("The request was refused.")
    else:
        message = str(exc)
    return error_response(exc.status_code, code, message)


def handle_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    error = not_found()
    return error_response(error.status, error.code, error.message)


def handle_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return error_response(400, "bad_request", _("The request was refused."))


def handle_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", _("Something went wrong on our side. Try again later."))


HANDLERS: list[tuple[type[Exception], Any]] = [
    (ApiError, handle_api_error),
    (ValidationError, handle_validation_error),
    (AuthenticationError, handle_authentication_error),
    (Throttled, handle_throttled),
    (HttpError, handle_http_error),
    (Http404, handle_not_found),
    (ObjectDoesNotExist, handle_not_found),
    (SuspiciousOperation, handle_suspicious),
    (Exception, handle_exception),
]
