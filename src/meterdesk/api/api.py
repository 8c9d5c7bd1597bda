"""The public API, /api/v1/ (django-ninja; OpenAPI generated from the code at /api/v1/openapi.json,
interactive docs at /api/v1/docs). docs/api.md walks through it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver, re_path
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.parser import Parser
from ninja.types import DictStrAny

from meterdesk.api.auth import SessionAuth, TokenAuth
from meterdesk.api.errors import HANDLERS, error_response, handle_http_error, not_found
from meterdesk.api.ratelimit import default_throttles, rate_limit_headers
from meterdesk.api.routers.accounts import router as accounts_router
from meterdesk.api.routers.auth import router as auth_router
from meterdesk.api.routers.meters import router as meters_router
from meterdesk.api.routers.tariffs import router as tariffs_router

DESCRIPTION = """
Readings, charges, statements and payments of a household's personal accounts, for mobile apps
and home automation. Every operation uses the same services as the personal account pages.

**Authentication**: `POST /api/v1/auth/token` with the login's e-mail and password gives a
device token; send it as `Authorization: Bearer <token>`. The site's session also works (unsafe
methods then need the `X-CSRFToken` header).

**Errors** always have the shape `{"code": …, "message": …, "details": {…}}` with a stable
`code`; `message` is in the language of `Accept-Language` (ru or en; Russian by default).
Bodies are JSON, sent with `Content-Type: application/json`: any other type is refused with 415
`unsupported_media_type`.

**Lists** take `limit` and `offset` and answer `{"items": […], "total": …, "limit": …, "offset": …}`.
Amounts are strings with kopecks, volumes strings in kWh, dates and times ISO 8601.

**Payments and documents**: start a card payment (`POST /api/v1/accounts/{number}/payments`,
with an `Idempotency-Key`), follow it at `/api/v1/payments/{id}`, list every payment received,
and download the monthly bill (with its payment QR code) and each payment's receipt as PDF.

**Profile**: the login's e-mail, language and consent (`/api/v1/profile`), and its phone numbers,
by which the customer line recognises a caller (`/api/v1/profile/phones`).
"""


def _json_errors(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wrap a view of the API so that django-ninja's plain-text 405 (and its root's 404) answer
    in the error shape, and a path parameter holding a NUL is a 404 for every operation."""

    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if any("\x00" in value for value in kwargs.values() if isinstance(value, str)):
            # A path parameter with a NUL names nothing (and PostgreSQL refuses it in text).
            return _unknown(request)
        try:
            response = view(request, *args, **kwargs)
        except Http404:  # the API's root path, which only exists to be reversed
            return _unknown(request)
        for name, value in rate_limit_headers(request).items():
            response[name] = value
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            wrapped = error_response(
                405,
                "method_not_allowed",
                _("This method is not allowed here."),
                {"allowed": sorted(m.strip() for m in allowed.split(",") if m.strip())},
                {"Allow": allowed},
            )
            return wrapped
        return response

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # as django-ninja's own views
    return wrapper


def _unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    error = not_found()
    return error_response(error.status, error.code, error.message)


_unknown.csrf_exempt = True  # type: ignore[attr-defined]


class UnsupportedMediaType(Exception):
    """A body sent as something other than JSON."""


class JsonParser(Parser):
    """Bodies are JSON, declared so: text/plain, XML or form data is refused (415) even when what
    it holds would parse as JSON, so that a body is read only as what its sender says it is."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        kind = (request.content_type or "").lower()
        if kind != "application/json" and not JSON_SUFFIX.fullmatch(kind):
            raise UnsupportedMediaType(kind)
        return super().parse_body(request)


#: ``application/merge-patch+json`` and the like are JSON too (RFC 6839).
JSON_SUFFIX = re.compile(r"application/[a-z0-9.!#$&^_-]+\+json")


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # django-ninja turns any failure of the parser into a 400: the media type is told apart here.
    if isinstance(exc.__cause__, UnsupportedMediaType):
        return error_response(
            415,
            "unsupported_media_type",
            _("Send the body as JSON, with the header Content-Type: application/json."),
            {"content_type": str(exc.__cause__)},
        )
    return handle_http_error(request, exc)


# The API's own HttpError handler last: it tells a 415 apart, then answers as errors.py does.
handlers: list[tuple[type[Exception], Any]] = [*HANDLERS, (HttpError, _http_error)]


class MeterdeskAPI(NinjaAPI):
    """NinjaAPI whose every answer under /api/v1/ is JSON: bodies read as JSON only (JsonParser),
    errors in the error shape (``HANDLERS``, a 415 told apart), 405 in the error shape too, and a
    404 in the error shape for any path that is not an operation. The benchmark's API is one of
    these as well, so that it pays what a real request pays around its operation."""

    def __init__(self, **options: Any) -> None:
        super().__init__(parser=options.pop("parser", None) or JsonParser(), **options)
        for exc_class, handler in handlers:
            self.add_exception_handler(exc_class, handler)

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_errors(pattern.callback)
        urls.append(re_path(r"^(?P<rest>.*)$", _unknown, name="not-found"))
        return urls

    def get_openapi_operation_id(self, operation: Operation) -> str:
        """The view's name (token_obtain, reading_create, …): short ids for generated clients."""
        return operation.view_func.__name__

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        """The generated document, with the 415 of every operation that takes a body (JsonParser)."""
        schema = super().get_openapi_schema(**kwargs)
        error = {"$ref": "#/components/schemas/ErrorOut"}
        for methods in schema["paths"].values():
            for operation in methods.values():
                if "requestBody" in operation:
                    operation["responses"][415] = {
                        "description": "The body is not sent as JSON (Content-Type: application/json)",
                        "content": {"application/json": {"schema": error}},
                    }
        return schema


api = MeterdeskAPI(
    title="meterdesk API",
    version="1",
    urls_namespace="api-v1",
    description=DESCRIPTION,
    auth=[TokenAuth(), SessionAuth()],
    throttle=default_throttles(),
)


class HealthOut(Schema):
    status: str


@api.get("/health", auth=None, throttle=[], tags=["service"], response=HealthOut, summary="Is the service up")
def health(request: HttpRequest) -> Any:
    return {"status": "ok"}


api.add_router("/auth", auth_router)
api.add_router("", "meterdesk.api.routers.payments.router")  # before /accounts: card payments
api.add_router("/accounts", accounts_router)
api.add_router("/meters", meters_router)
api.add_router("/tariffs", tariffs_router)
api.add_router("/profile", "meterdesk.api.routers.profile.router")  # contacts, language, consent
api.add_router("/accounts", "meterdesk.api.routers.documents.router")  # bill and receipt PDFs
api.add_router("/support", "meterdesk.api.routers.support.router")  # questions, answers, files
api.add_router("", "meterdesk.api.routers.orders.router")  # services and their requests
