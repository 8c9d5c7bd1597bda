"""The API's operations, one module per area."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from ninja import Header, Path

from meterdesk.api.errors import ApiError, ErrorOut, not_found
from meterdesk.api.schemas import ACCOUNT_NUMBER_PATTERN, MONTH_PATTERN, PageQuery

if TYPE_CHECKING:
    from django.http import HttpRequest

    from meterdesk.customers.models import Account

#: The path parameters of the account operations.
NUMBER = Path(..., pattern=ACCOUNT_NUMBER_PATTERN, description="the 10-digit account number")
PERIOD = Path(..., pattern=MONTH_PATTERN, description="the billing month, YYYY-MM")


def idempotency_key_header(description: str) -> Any:
    """The optional ``Idempotency-Key`` header of an operation that creates something."""
    return Header(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=description,
    )


def errors(*statuses: int) -> dict[Any, type[ErrorOut]]:
    """The error responses an operation documents (all of the one shape)."""
    return {frozenset(statuses): ErrorOut}


def email_not_verified() -> ApiError:
    """403 ``email_not_verified``: the login has not followed the link e-mailed at registration."""
    return ApiError(
        403,
        "email_not_verified",
        _("Confirm your e-mail first: follow the link in the letter sent at registration."),
    )


def page(items: Any, params: PageQuery) -> tuple[list[Any], int]:
    """One page of a queryset or list, and the length of the whole."""
    limit, offset = params.limit, params.offset
    if isinstance(items, list):
        return items[offset : offset + limit], len(items)
    total = items.count()
    return list(items[offset : offset + limit]) if offset < total else [], total


def page_body(items: Iterable[Any], total: int, params: PageQuery) -> dict[str, Any]:
    """A list's answer: ``{"items": […], "total": …, "limit": …, "offset": …}`` (``PageMeta``)."""
    return {"items": list(items), "total": total, "limit": params.limit, "offset": params.offset}


def paged(items: Any, params: PageQuery, each: Callable[[Any], Any]) -> dict[str, Any]:
    """The answer of a list: the page ``params`` asks for of ``items``, each through ``each``."""
    found, total = page(items, params)
    return page_body((each(item) for item in found), total, params)


def account_of(request: HttpRequest, number: str) -> Account:
    """The account, if the request's login may see it; else 404 ``not_found``, exactly like an
    account that does not exist."""
    from meterdesk.api.auth import request_user
    from meterdesk.customers.models import Account
    from meterdesk.metering.selectors import account_for_user

    try:
        return account_for_user(request_user(request), number)
    except Account.DoesNotExist as exc:
        raise not_found() from exc
