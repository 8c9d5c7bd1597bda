"""Rate limits: a fixed-window counter per token (or session login) and per client address.

Each limit is ``<requests>/<period>`` (period ``s``, ``m``, ``h`` or ``d``; ``off`` disables it),
read on every request from the settings ``METERDESK_API_RATE_TOKEN``, ``METERDESK_API_RATE_ADDRESS``
and ``METERDESK_API_RATE_LINK`` if defined, else from the environment variables of the same names,
else the defaults below. Counters live in the Django cache named by ``METERDESK_API_CACHE``
(default ``default``): with several server processes that cache must be shared for a limit to be
exact — a per-process cache lets each process count on its own (``meterdesk serve`` says so when it
starts more than one worker). ``METERDESK_CACHE_URL=redis://…`` makes the default cache Redis; a
window's counter is then created with its expiry and incremented in one atomic round trip (a
script).

A refused request gets 429 ``rate_limited`` with ``Retry-After`` (the seconds to the next window).
Every counted answer says where the request left its tightest limit: ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds until that limit's window ends).
A shared cache that cannot be reached lets the request through (and says so in the log, at most
once a minute per process): the limits protect the service, they must not take it down. After a
failure a process does not ask the cache again for ``RETRY_SECONDS``, so that a cache that hangs
(up to its 2 s timeout) slows one request every few seconds, not every request.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Standing:
    """Where a request left the tightest of the limits it counted against (the one with the fewest
    requests left): what the ``RateLimit-*`` headers say. ``wait``: None if every limit allowed
    the request, else the seconds until the last of the refusing windows ends."""

    limit: int
    remaining: int
    reset: int
    wait: float | None


def hit(scope: str, ident: str, limit: int, period: int, now: float | None = None) -> float | None:
    """Count one request of ``ident`` in the current window; None if allowed, else the seconds
    until the next window opens."""
    return hit_many([(scope, ident, limit, period)], now=now)


def hit_many(limits: Sequence[tuple[str, str, int, int]], now: float | None = None) -> float | None:
    """Count one request against each ``(scope, ident, limit, period)`` (every one of them, in one
    round trip to a shared cache); None if each allows it, else the seconds until the last of the
    refusing windows ends."""
    standing = count(limits, now=now)
    return None if standing is None else standing.wait


def count(limits: Sequence[tuple[str, str, int, int]], now: float | None = None) -> Standing | None:
    """``hit_many``, and where the request left its tightest limit; None if nothing was counted
    (no limit, or the shared cache cannot be reached)."""
    if not limits:
        return None
    moment = _now() if now is None else now
    windows = [int(moment // period) for _scope, _ident, _limit, period in limits]
    keys = [f"md:rl:{scope}:{ident}:{w}" for (scope, ident, _l, _p), w in zip(limits, windows, strict=True)]
    ttls = [period + 1 for _scope, _ident, _limit, period in limits]
    cache = _cache()
    if isinstance(cache, RedisCache):
        if time.monotonic() < _outage.retry_at:
            return None
        try:
            counts = _redis_hit(cache, keys, ttls)
        except RedisError as error:
            _unavailable(error)
            return None
    else:
        counts = [_cache_hit(cache, key, ttl) for key, ttl in zip(keys, ttls, strict=True)]
    # (requests left, seconds to the window's end, limit, refused) of each limit
    states = [
        (max(0, limit - n), (window + 1) * period - moment, limit, n > limit)
        for (_scope, _ident, limit, period), window, n in zip(limits, windows, counts, strict=True)
    ]
    waits = [ends for _left, ends, _limit, refused in states if refused]
    left, ends, limit, _refused = min(states, key=lambda state: (state[0], -state[1]))
    return Standing(limit, left, math.ceil(ends), max(waits) if waits else None)


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


#: Count one request against each key: a window's counter is created with its expiry by the
#: request that creates it, in the same atomic step (a script runs alone on the server). One Redis
#: server (not a cluster: the keys of one request may be in different slots of one).
_COUNT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  counts[i] = count
end
return counts
"""

#: Per cache instance (Django keeps one per thread): the script registered with the client on the
#: backend's connection pool (sent by its SHA-1, and in full once after a server restart).
_counters: weakref.WeakKeyDictionary[RedisCache, Any] = weakref.WeakKeyDictionary()


def _redis_hit(cache: RedisCache, keys: list[str], ttls: list[int]) -> list[int]:
    """Count the request against every key in one round trip (``EVALSHA`` of ``_COUNT_SCRIPT``).
    Django's own ``incr`` checks that the key exists first: two round trips a key, and a key that
    expires between them is created again by ``INCR`` with no expiry. The keys are Django's (its
    prefix and version)."""
    script = _counters.get(cache)
    if script is None:
        # Made once per cache instance (Django's own methods make a new client on every call).
        script = _counters[cache] = _redis_client(cache).register_script(_COUNT_SCRIPT)
    return [int(count) for count in script(keys=[cache.make_key(key) for key in keys], args=ttls)]


def _redis_client(cache: RedisCache) -> Any:
    """A client on the Redis backend's connection pool, as Django's own methods get one."""
    return cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]


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
            _redis_client(cache).ping()
        except RedisError as error:
            return f"the rate-limit cache cannot be reached ({error}): requests go uncounted until it answers"
        return None
    if processes > 1 and isinstance(cache, LocMemCache):
        return (
            f"rate limits are counted by each of the {processes} worker processes on its own (up to "
            f"{processes}x the limits): set METERDESK_CACHE_URL=redis://host:6379/0 to share them"
        )
    return None


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
