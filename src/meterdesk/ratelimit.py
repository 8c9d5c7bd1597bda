"""Rate limits: fixed-window counters in Django's cache, shared by every server process.

Each limit is ``<requests>/<period>`` (period ``s``, ``m``, ``h`` or ``d``; ``off`` disables it),
read on every request from the Django setting of its name (``LIMITS``; settings.py makes them from
the environment variables of the same names, with their defaults). Counters live in the Django cache named by
``METERDESK_API_CACHE`` (default ``default``), which settings.py makes, from ``METERDESK_CACHE_URL``:

* nothing (the default): Django's database cache, in the table ``meterdesk_cache`` (made by a
  migration). A request's counters are incremented by one ``INSERT … ON CONFLICT DO UPDATE …
  RETURNING`` statement, atomic on SQLite and PostgreSQL, so every process counts exactly.
* ``redis://…``: Redis, faster. A window's counter is created with its expiry and incremented in
  one atomic round trip (a script). A Redis that cannot be reached lets requests through uncounted
  (and says so in the log, at most once a minute per process): the limits protect the service, they
  must not take it down. After a failure a process does not ask Redis again for ``RETRY_SECONDS``.
* ``locmem://``: each process's own memory (one process only: a limit is then per process).

The API's throttles (meterdesk.api.ratelimit) and the guessing limits of registration and account
linking (meterdesk.customers.services) count here. docs/adr/0011 says why.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router
from django.http import HttpRequest
from django.utils import timezone
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: The settings that hold a limit (their defaults, and why, are in settings.ENVIRONMENT).
LIMITS = (
    "METERDESK_API_RATE_TOKEN",
    "METERDESK_API_RATE_ADDRESS",
    "METERDESK_API_RATE_LINK",
    "METERDESK_LINK_RATE_ACCOUNT",
    "METERDESK_LINK_RATE_ADDRESS",
)
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
    return parse_rate(str(getattr(settings, name)))


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind METERDESK_PROXY_COUNT trusted proxies the
    address that the outermost of them saw (as the login lockout counts it)."""
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


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
    round trip to the cache); None if each allows it, else the seconds until the last of the
    refusing windows ends."""
    standing = count(limits, now=now)
    return None if standing is None else standing.wait


def count(limits: Sequence[tuple[str, str, int, int]], now: float | None = None) -> Standing | None:
    """``hit_many``, and where the request left its tightest limit; None if nothing was counted
    (no limit, or Redis cannot be reached)."""
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
    elif isinstance(cache, DatabaseCache):
        counts = _database_hit(cache, keys, ttls)
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


#: After Redis failed, requests go uncounted this long before it is asked again.
RETRY_SECONDS = 5.0


class _Outage:
    """When this process may ask Redis again, and when it last logged its outage."""

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


def _database_hit(cache: DatabaseCache, keys: list[str], ttls: list[int]) -> list[int]:
    """Count the request against every key in one statement on the database cache's table: an
    upsert that creates a window's counter with its expiry or adds one to it, atomic on SQLite and
    PostgreSQL (Django's ``incr`` is a read and a write, so two processes could both count 5 as 6;
    and its write resets the expiry to the default timeout). The value is kept as plain digits,
    not Django's pickle, so that the database can add to it. A new window's counter also clears
    the table of expired ones."""
    db = router.db_for_write(cache.cache_model_class)
    connection = connections[db]
    quote = connection.ops.quote_name
    table = quote(cache._table)  # type: ignore[attr-defined]
    key, value, expires = quote("cache_key"), quote("value"), quote("expires")
    names = [cache.make_and_validate_key(k) for k in keys]
    now = timezone.now()
    params: list[Any] = []
    for name, ttl in zip(names, ttls, strict=True):
        params += [name, "1", connection.ops.adapt_datetimefield_value(now + timedelta(seconds=ttl))]
    rows = ", ".join(["(%s, %s, %s)"] * len(names))
    sql = (
        f"INSERT INTO {table} ({key}, {value}, {expires}) VALUES {rows} "  # noqa: S608 - quoted names
        f"ON CONFLICT ({key}) DO UPDATE SET {value} = CAST(CAST({table}.{value} AS INTEGER) + 1 AS TEXT) "
        f"RETURNING {key}, {value}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {row[0]: int(row[1]) for row in cursor.fetchall()}
        if 1 in found.values():
            cursor.execute(
                f"DELETE FROM {table} WHERE {expires} < %s",  # noqa: S608 - quoted names
                [connection.ops.adapt_datetimefield_value(now)],
            )
    return [found[name] for name in names]


def _cache_hit(cache: BaseCache, key: str, ttl: int) -> int:
    """Any other cache (``locmem://``: each process's memory): ``incr``, or ``add`` for the first
    request of the window."""
    try:
        count = cache.incr(key)
    except ValueError:  # the first request of the window (unless another process just added it)
        count = 1 if cache.add(key, 1, timeout=ttl) else cache.incr(key)
    return int(count)


def serving_warning(processes: int) -> str | None:
    """What the server should say when it starts ``processes`` workers and its rate limits would not
    be what they say: counted by each process on its own, or in a Redis that does not answer.
    None when all is well (or every limit is off)."""
    if all(rate_setting(name) is None for name in LIMITS):
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
            f"{processes}x the limits): unset METERDESK_CACHE_URL (the database) or set it to "
            "redis://host:6379/0 to share them"
        )
    return None


def wait_minutes(seconds: float) -> int:
    """Whole minutes to wait, at least one (what a refusal tells a person)."""
    return max(1, math.ceil(seconds / 60))
