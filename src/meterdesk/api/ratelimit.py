"""Rate limits: a fixed-window counter per token (or session login) and per client address.

Each limit is ``<requests>/<period>`` (period ``s``, ``m``, ``h`` or ``d``; ``off`` disables it),
read on every request from the settings ``METERDESK_API_RATE_TOKEN``, ``METERDESK_API_RATE_ADDRESS``
and ``METERDESK_API_RATE_LINK`` if defined, else from the environment variables of the same names,
else the defaults below. Counters live in the Django cache named by ``METERDESK_API_CACHE``
(default ``default``): with several server processes that cache must be shared for a limit to be
exact — a per-process cache lets each process count on its own (``meterdesk serve`` says so when it
starts more than one worker). ``METERDESK_CACHE_URL=redis://…`` makes the default cache Redis; a
window's counter is then created with its expiry and incremented in one atomic round trip.

A refused request gets 429 ``rate_limited`` with ``Retry-After`` (the seconds to the next window).
A shared cache that cannot be reached lets the request through (and says so in the log, at most
once a minute per process): the limits protect the service, they must not take it down. After a
failure a process does not ask the cache again for ``RETRY_SECONDS``, so that a cache that hangs
(up to its 2 s timeout) slows one request every few seconds, not every request.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle
from redis.exceptions import RedisError

from meterdesk.api.auth import client_address, request_token

log = logging.getLogger(__name__)

DEFAULTS = {
    # A phone app reading its dashboards, or a hub submitting every meter of a house.
    "METERDESK_API_RATE_TOKEN": "120/m",
    # Many devices of a household (or an office) behind one address.
    "METERDESK_API_RATE_ADDRESS": "600/m",
    # Linking an account takes a number and a meter serial: slow down guessing.
    "METERDESK_API_RATE_LINK": "10/h",
}
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, int] | None:
    """``"120/m"`` → (120, 60); ``off`` (or ``0``) → None."""
    text = text.strip().lower()
    if text in {"off", "none", "0", ""}:
        return None
    count, _, period = text.partition("/")
    seconds = _PERIODS.get(period[:1]) if period else None
    if not count.isdigit() or seconds is None:
        raise ValueError(f"a rate looks like 120/m, got {text!r}")
    return int(count), seconds


def rate_setting(name: str) -> tuple[int, int] | None:
    value = getattr(settings, name, None) or os.environ.get(name) or DEFAULTS[name]
    return parse_rate(str(value))


def _now() -> float:
    return time.time()


def _cache() -> BaseCache:
    return caches[getattr(settings, "METERDESK_API_CACHE", None) or "default"]


def hit(scope: str, ident: str, limit: int, period: int, now: float | None = None) -> float | None:
    """Count one request of ``ident`` in the current window; None if allowed, else the seconds
    until the next window opens."""
    moment = _now() if now is None else now
    window = int(moment // period)
    key = f"md:rl:{scope}:{ident}:{window}"
    cache = _cache()
    if isinstance(cache, RedisCache):
        if time.monotonic() < _outage.retry_at:
            return None
        try:
            count = _redis_hit(cache, key, period + 1)
        except RedisError as error:
            _unavailable(error)
            return None
    else:
        count = _cache_hit(cache, key, period + 1)
    if count <= limit:
        return None
    return (window + 1) * period - moment


#: After the shared cache failed, requests go uncounted this long before it is asked again.
RETRY_SECONDS = 5.0


class _Outage:
    """When this process may ask the shared cache again, and when it last logged its outage."""

    retry_at = float("-inf")
    warned_at = float("-inf")


_outage = _Outage()


def _unavailable(error: Exception) -> None:
    """Stop asking the cache for RETRY_SECONDS; log it at most once a minute per process."""
    moment = time.monotonic()
    _outage.retry_at = moment + RETRY_SECONDS
    if moment - _outage.warned_at >= 60:
        _outage.warned_at = moment
        log.warning("rate limits not applied: the shared cache cannot be reached (%s)", error)


def _redis_hit(cache: RedisCache, key: str, ttl: int) -> int:
    """Create the counter with its expiry unless it exists, and increment it: one MULTI/EXEC, so
    no counter outlives its window and concurrent processes never lose a request. (Django's own
    ``incr`` checks that the key exists first: two round trips, and a key that expires between
    them is created again by INCR without an expiry.)"""
    full = cache.make_and_validate_key(key)
    # The backend's client for the key (its connection pool), as Django's own methods get it.
    client = cache._cache.get_client(full, write=True)  # type: ignore[attr-defined]
    with client.pipeline(transaction=True) as pipe:
        pipe.set(full, 0, ex=ttl, nx=True)
        pipe.incr(full)
        _created, count = pipe.execute()
    return int(count)


def _cache_hit(cache: BaseCache, key: str, ttl: int) -> int:
    """Any other cache (each process's memory by default): ``incr``, or ``add`` for the first
    request of the window."""
    try:
        count = cache.incr(key)
    except ValueError:  # the first request of the window (unless another process just added it)
        count = 1 if cache.add(key, 1, timeout=ttl) else cache.incr(key)
    return int(count)


def serving_warning(processes: int) -> str | None:
    """What the server should say when it starts ``processes`` workers and its rate limits would not
    be what they say: counted by each process on its own, or in a shared cache that does not
    answer. None when all is well (or every limit is off)."""
    if all(rate_setting(name) is None for name in DEFAULTS):
        return None
    cache = _cache()
    if isinstance(cache, RedisCache):
        try:
            cache._cache.get_client(None, write=True).ping()  # type: ignore[attr-defined]
        except RedisError as error:
            return f"the rate-limit cache cannot be reached ({error}): requests go uncounted until it answers"
        return None
    if processes > 1 and isinstance(cache, LocMemCache):
        return (
            f"rate limits are counted by each of the {processes} worker processes on its own (up to "
            f"{processes}x the limits): set METERDESK_CACHE_URL=redis://host:6379/0 to share them"
        )
    return None


class FixedWindowThrottle(BaseThrottle):
    """One limit; ``ident`` says whom a request counts against (None: not counted)."""

    scope = ""
    setting = ""

    def __init__(self) -> None:
        self._local = threading.local()  # the instance serves every thread of the process

    def ident(self, request: HttpRequest) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: HttpRequest) -> bool:
        self._local.wait = None
        rate = rate_setting(self.setting)
        ident = self.ident(request)
        if rate is None or ident is None:
            return True
        wait = hit(self.scope, ident, *rate)
        self._local.wait = wait
        return wait is None

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


class AddressThrottle(FixedWindowThrottle):
    scope = "addr"
    setting = "METERDESK_API_RATE_ADDRESS"

    def ident(self, request: HttpRequest) -> str | None:
        return client_address(request)


class TokenThrottle(FixedWindowThrottle):
    """Per device token; a session counts per login."""

    scope = "token"
    setting = "METERDESK_API_RATE_TOKEN"

    def ident(self, request: HttpRequest) -> str | None:
        token = request_token(request)
        if token is not None:
            return f"t{token.pk}"
        user = getattr(request, "auth", None)
        return f"u{user.pk}" if user is not None else None


class LinkThrottle(FixedWindowThrottle):
    """Linking accounts, per login."""

    scope = "link"
    setting = "METERDESK_API_RATE_LINK"

    def ident(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        return f"u{user.pk}" if user is not None else None


def default_throttles() -> list[BaseThrottle]:
    return [AddressThrottle(), TokenThrottle()]
