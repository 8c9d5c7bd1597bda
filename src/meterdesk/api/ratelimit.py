"""The API's rate limits: a fixed-window counter per token (or session login) and per client
address, and per login for linking an account, counted by meterdesk.ratelimit (in the shared
cache: the database by default, Redis with ``METERDESK_CACHE_URL``).

The limits are the settings ``METERDESK_API_RATE_TOKEN``, ``METERDESK_API_RATE_ADDRESS`` and
``METERDESK_API_RATE_LINK`` (from the environment variables of the same names: settings.py). A
refused request gets 429 ``rate_limited`` with ``Retry-After`` (the seconds to the next window).
Every counted answer says where the request left its tightest limit: ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds until that limit's window ends).
"""

from __future__ import annotations

import threading

from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from meterdesk.api.auth import client_address, request_token
from meterdesk.ratelimit import (
    LIMITS,
    Standing,
    count,
    hit,
    hit_many,
    parse_rate,
    rate_setting,
    serving_warning,
)

__all__ = [
    "LIMITS",
    "AddressLimit",
    "FixedWindowLimit",
    "Limits",
    "LinkLimit",
    "TokenLimit",
    "default_throttles",
    "hit",
    "hit_many",
    "parse_rate",
    "rate_limit_headers",
    "serving_warning",
]


class FixedWindowLimit:
    """One limit; ``ident`` says whom a request counts against (None: not counted). Counted by
    ``Limits``, the API's one throttle, together with the operation's other limits."""

    scope = ""
    setting = ""

    def ident(self, request: HttpRequest) -> str | None:
        raise NotImplementedError

    def limit(self, request: HttpRequest) -> tuple[str, str, int, int] | None:
        """(scope, ident, limit, period) the request counts against, None if it is not counted."""
        rate = rate_setting(self.setting)
        ident = self.ident(request) if rate is not None else None
        if rate is None or ident is None:
            return None
        return (self.scope, ident, *rate)


def rate_limit_headers(request: HttpRequest) -> dict[str, str]:
    """The ``RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (seconds) headers of the tightest limit
    the request counted against (``Limits``); none when no limit counted it."""
    standing: Standing | None = getattr(request, "_meterdesk_rate", None)
    if standing is None:
        return {}
    return {
        "RateLimit-Limit": str(standing.limit),
        "RateLimit-Remaining": str(standing.remaining),
        "RateLimit-Reset": str(standing.reset),
    }


class Limits(BaseThrottle):
    """An operation's limits counted together: one round trip to a shared cache for all of them.
    Every limit counts the request, also when another one refuses it (each counts the attempts made
    of it); the wait is the longest of the refusing ones. The standing is kept on the request for
    ``rate_limit_headers``."""

    def __init__(self, *parts: FixedWindowLimit) -> None:
        self.parts = parts
        self._local = threading.local()  # the instance serves every thread of the process

    def allow_request(self, request: HttpRequest) -> bool:
        standing = count([limit for part in self.parts if (limit := part.limit(request)) is not None])
        self._local.wait = None if standing is None else standing.wait
        if standing is not None:
            request._meterdesk_rate = standing  # type: ignore[attr-defined]
        return self._local.wait is None

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


class AddressLimit(FixedWindowLimit):
    scope = "addr"
    setting = "METERDESK_API_RATE_ADDRESS"

    def ident(self, request: HttpRequest) -> str | None:
        return client_address(request)


class TokenLimit(FixedWindowLimit):
    """Per device token; a session counts per login."""

    scope = "token"
    setting = "METERDESK_API_RATE_TOKEN"

    def ident(self, request: HttpRequest) -> str | None:
        token = request_token(request)
        if token is not None:
            return f"t{token.pk}"
        user = getattr(request, "auth", None)
        return f"u{user.pk}" if user is not None else None


class LinkLimit(FixedWindowLimit):
    """Linking accounts, per login."""

    scope = "link"
    setting = "METERDESK_API_RATE_LINK"

    def ident(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        return f"u{user.pk}" if user is not None else None


def default_throttles(*extra: FixedWindowLimit) -> list[BaseThrottle]:
    """The limits of every API operation (per client address and per token), and ``extra`` ones of
    the operation, counted together."""
    return [Limits(AddressLimit(), TokenLimit(), *extra)]
