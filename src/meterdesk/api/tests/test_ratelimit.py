"""Rate limits per token and per client address, answered with 429 rate_limited and Retry-After;
counted in the shared cache: the database by default, Redis, or (one process) memory."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import uuid

import pytest
import redis
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.test import Client

from meterdesk import ratelimit
from meterdesk import settings as meterdesk_settings
from meterdesk.api.auth import token_create
from meterdesk.api.ratelimit import hit, parse_rate, serving_warning
from meterdesk.api.tests.conftest import API, ApiClient
from meterdesk.testing import free_port

pytestmark = pytest.mark.django_db

#: 20 seconds into a minute and into an hour: no window ends while a test runs.
NOW = 3600 * 277_778 + 20.0


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch):
    monkeypatch.setattr(ratelimit, "_now", lambda: NOW)


@pytest.fixture
def shared_cache(settings, redis_url):
    """The default cache in the private Redis server, with keys of this test's own."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    return redis_url, prefix


@pytest.fixture
def memory_cache(settings):
    settings.CACHES = meterdesk_settings._caches("locmem://")


@pytest.fixture(params=["database", "memory", "redis"])
def any_cache(request):
    """Each test of the limits runs with the database (the default), the per-process memory and
    Redis."""
    if request.param == "redis":
        request.getfixturevalue("shared_cache")
    elif request.param == "memory":
        request.getfixturevalue("memory_cache")
    return request.param


def test_rates_are_read_as_count_per_period():
    assert parse_rate("120/m") == (120, 60)
    assert parse_rate("10/hour") == (10, 3600)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("1000/d") == (1000, 86400)
    assert parse_rate("off") is None
    with pytest.raises(ValueError):
        parse_rate("fast")


def test_a_fixed_window_counts_and_then_resets(any_cache):
    assert [hit("t", "x", 2, 60, now=120.0 + i) for i in range(2)] == [None, None]
    assert hit("t", "x", 2, 60, now=150.0) == 30.0  # refused: 30 s to the next window
    assert hit("t", "x", 2, 60, now=180.0) is None  # the next window


def test_per_token(api, anna, settings, any_cache):
    settings.METERDESK_API_RATE_TOKEN = "3/m"
    assert [api.get_api("/accounts").status_code for _ in range(3)] == [200] * 3
    response = api.get_api("/accounts")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "rate_limited"
    retry = int(response["Retry-After"])
    assert retry == 40  # the rest of the minute
    assert body["details"]["retry_after"] == retry
    # Another device of the same login has its own allowance.
    other = ApiClient(token_create(user=anna, name="tablet")[1])
    assert other.get_api("/accounts").status_code == 200


def test_per_address(api, anna, settings, any_cache):
    settings.METERDESK_API_RATE_ADDRESS = "4/m"
    other = ApiClient(token_create(user=anna, name="tablet")[1])
    assert [c.get_api("/accounts").status_code for c in (api, other, api, other)] == [200] * 4
    assert other.get_api("/accounts").status_code == 429
    assert "Retry-After" in api.get_api("/accounts")
    elsewhere = ApiClient(api.defaults["HTTP_AUTHORIZATION"].split()[1], REMOTE_ADDR="10.1.2.3")
    assert elsewhere.get_api("/accounts").status_code == 200


def test_the_address_limit_covers_the_login(settings, anna):
    settings.METERDESK_API_RATE_ADDRESS = "2/m"
    client = Client()
    body = {"email": "anna@example.com", "password": "x", "name": "n"}
    codes = [
        client.post(f"{API}/auth/token", body, content_type="application/json").status_code for _ in range(3)
    ]
    assert codes == [401, 401, 429]


def test_linking_is_slower(api, settings):
    settings.METERDESK_API_RATE_LINK = "2/h"
    body = {"number": "9999999999", "meter_serial": "X"}
    codes = [api.post_json("/accounts/link", body).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    assert int(api.post_json("/accounts/link", body)["Retry-After"]) == 3600 - 20
    assert api.get_api("/accounts").status_code == 200  # other operations are not affected


def test_health_is_not_limited(settings):
    settings.METERDESK_API_RATE_ADDRESS = "1/m"
    assert [Client().get(f"{API}/health").status_code for _ in range(3)] == [200] * 3


def test_rate_limited_message_is_translated(api, settings):
    settings.METERDESK_API_RATE_TOKEN = "1/m"
    api.get_api("/accounts")
    ru = api.get_api("/accounts").json()["message"]
    en = api.get_api("/accounts", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert en == "Too many requests. Try again in 40 seconds."
    assert ru == "Слишком много запросов. Повторите через 40 секунд."


def test_the_shared_cache_counts_the_requests_of_every_process(shared_cache, settings):
    """Two processes (this one and another started with METERDESK_CACHE_URL, as a second server
    worker is) count against one allowance: 3 requests here, then 3 there with a limit of 5."""
    url, _prefix = shared_cache
    # The cache exactly as settings.py makes it of the URL (the other process's: same prefix).
    settings.CACHES = meterdesk_settings._caches(url)
    ident = uuid.uuid4().hex
    assert [hit("token", ident, 5, 60, now=NOW) for _ in range(3)] == [None] * 3
    other = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [
            sys.executable,
            "-c",
            "import json, sys, django; django.setup(); from meterdesk.api.ratelimit import hit; "
            f"print(json.dumps([hit('token', {ident!r}, 5, 60, now={NOW!r}) for _ in range(3)]))",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "meterdesk.settings", "METERDESK_CACHE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    # Its 4th and 5th requests are allowed, the 6th refused: it counted on from this process's 3.
    assert json.loads(other.stdout) == [None, None, 40.0]


def test_the_shared_cache_counts_under_the_configured_prefix_and_forgets_a_window(shared_cache):
    url, prefix = shared_cache
    ident = uuid.uuid4().hex
    assert hit("token", ident, 5, 60, now=NOW) is None
    assert hit("token", ident, 5, 60, now=NOW) is None
    server = redis.Redis.from_url(url)
    (key,) = server.keys(f"{prefix}:*{ident}*")
    assert server.get(key) == b"2"
    assert 0 < server.ttl(key) <= 61  # gone one second after its window


def test_concurrent_requests_are_each_counted_once(shared_cache):
    """20 threads × 10 requests against a limit of 150: exactly 150 allowed."""
    import threading

    ident = uuid.uuid4().hex
    results: list[float | None] = []
    lock = threading.Lock()

    def many() -> None:
        mine = [hit("token", ident, 150, 60, now=NOW) for _ in range(10)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=many) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is None for r in results) == 150
    assert len(results) == 200


def test_an_unreachable_shared_cache_lets_requests_through_and_says_so(api, settings, caplog, monkeypatch):
    port = free_port()  # nothing listens there
    saved = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    try:
        monkeypatch.setattr(ratelimit, "_outage", ratelimit._Outage())
        asked = []
        real = ratelimit._redis_hit

        def counted(*args):
            asked.append(args)
            return real(*args)

        monkeypatch.setattr(ratelimit, "_redis_hit", counted)
        settings.METERDESK_API_RATE_TOKEN = "1/m"
        with caplog.at_level(logging.WARNING, logger="meterdesk.ratelimit"):
            codes = [api.get_api("/accounts").status_code for _ in range(3)]
            assert codes == [200, 200, 200]
            # Asked once (the token's limit; the address limit is off), then left alone for a while.
            assert len(asked) == 1
            ratelimit._outage.retry_at = 0.0  # the while is over: asked again, failing again
            assert api.get_api("/accounts").status_code == 200
            assert len(asked) == 2
        warnings = [r for r in caplog.records if "rate limits not applied" in r.getMessage()]
        assert len(warnings) == 1  # once a minute, not once a request
        assert "cannot be reached" in str(serving_warning(4))
    finally:
        settings.CACHES = saved  # the fixtures' teardown clears the cache


def test_the_server_is_warned_when_each_worker_would_count_alone(settings, memory_cache):
    assert caches["default"].__class__.__name__ == "LocMemCache"
    settings.METERDESK_API_RATE_TOKEN = "120/m"
    assert "each of the 4 worker processes" in str(serving_warning(4))
    assert serving_warning(1) is None  # one process: its counters are the only ones
    settings.METERDESK_API_RATE_TOKEN = settings.METERDESK_API_RATE_ADDRESS = "off"
    settings.METERDESK_API_RATE_LINK = "off"
    settings.METERDESK_LINK_RATE_ACCOUNT = settings.METERDESK_LINK_RATE_ADDRESS = "off"
    assert serving_warning(4) is None  # no limit to count


def test_the_database_cache_is_the_default_and_needs_no_warning(settings):
    assert caches["default"].__class__.__name__ == "DatabaseCache"
    settings.METERDESK_API_RATE_TOKEN = "120/m"
    assert serving_warning(4) is None


def test_the_server_is_not_warned_with_a_shared_cache(shared_cache, settings):
    settings.METERDESK_API_RATE_TOKEN = "120/m"
    assert serving_warning(4) is None


def test_the_cache_setting_names_its_server_or_is_refused():
    default = meterdesk_settings._caches("")["default"]
    assert default["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert default["LOCATION"] == "meterdesk_cache"
    assert (
        meterdesk_settings._caches("locmem://")["default"]["BACKEND"]
        == "django.core.cache.backends.locmem.LocMemCache"
    )
    shared = meterdesk_settings._caches("redis://cache.internal:6379/2")["default"]
    assert shared["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert shared["LOCATION"] == "redis://cache.internal:6379/2"
    with pytest.raises(ImproperlyConfigured, match="METERDESK_CACHE_URL: expected redis://"):
        meterdesk_settings._caches("memcached://127.0.0.1:11211")


def test_the_limits_of_a_request_are_counted_together(any_cache):
    """Every limit counts the request, also one another limit refuses; the wait is the longest."""
    ident = uuid.uuid4().hex
    token = ("token", ident, 2, 60)
    address = ("addr", ident, 1, 3600)
    assert ratelimit.hit_many([token, address], now=NOW) is None
    assert ratelimit.hit_many([token, address], now=NOW) == 3600 - 20  # the address's hour
    assert ratelimit.hit_many([token], now=NOW) == 40.0  # the refused request counted too


def test_one_round_trip_to_the_shared_cache_a_request(api, settings, shared_cache, monkeypatch):
    settings.METERDESK_API_RATE_TOKEN = "100/m"
    settings.METERDESK_API_RATE_ADDRESS = "100/m"
    calls = []
    real = ratelimit._redis_hit

    def counted(cache, keys, ttls):
        calls.append(keys)
        return real(cache, keys, ttls)

    monkeypatch.setattr(ratelimit, "_redis_hit", counted)
    assert api.get_api("/accounts").status_code == 200
    assert len(calls) == 1
    assert [key.split(":")[2] for key in calls[0]] == ["addr", "token"]


def test_answers_say_where_the_tightest_limit_stands(api, settings, any_cache):
    settings.METERDESK_API_RATE_TOKEN = "3/m"
    settings.METERDESK_API_RATE_ADDRESS = "100/h"
    answers = [api.get_api("/accounts") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    # The token's limit is the tighter one: 3 a minute, 40 s of the minute left.
    assert [a["RateLimit-Limit"] for a in answers] == ["3"] * 4
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Reset"] for a in answers} == {"40"}
    assert answers[3]["Retry-After"] == answers[3]["RateLimit-Reset"]
    # With more left of the token's minute than of the address's hour, the address's is tighter.
    settings.METERDESK_API_RATE_TOKEN = "1000/m"
    settings.METERDESK_API_RATE_ADDRESS = "6/h"
    answer = api.get_api("/accounts")
    assert (answer["RateLimit-Limit"], answer["RateLimit-Remaining"]) == ("6", "1")
    assert answer["RateLimit-Reset"] == str(3600 - 20)


def test_no_limit_no_rate_limit_headers(api):
    answer = api.get_api("/accounts")  # both limits are off in these tests unless a test sets them
    assert answer.status_code == 200
    assert not any(name.lower().startswith("ratelimit") for name in answer.headers)


# --- the database cache, the default ------------------------------------------------------------


def _counter_rows(ident: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM meterdesk_cache WHERE cache_key LIKE %s", [f"%{ident}%"])
        return list(cursor.fetchall())


def test_the_database_counts_in_one_row_per_window_and_clears_old_windows():
    ident = uuid.uuid4().hex
    assert [hit("token", ident, 5, 60, now=NOW) for _ in range(3)] == [None] * 3
    ((key, value),) = _counter_rows(ident)
    assert key.endswith(f"md:rl:token:{ident}:{int(NOW // 60)}") and value == "3"
    with connection.cursor() as cursor:  # the window is over (its row expired)
        cursor.execute(
            "UPDATE meterdesk_cache SET expires = %s WHERE cache_key = %s", ["2001-01-01 00:00:00", key]
        )
    assert hit("token", ident, 5, 60, now=NOW + 60) is None  # a new window's first request
    assert [v for _k, v in _counter_rows(ident)] == ["1"]  # and the old row is gone


@pytest.mark.django_db(transaction=True)
def test_the_database_counts_the_requests_of_every_process():
    """Another process (as a second server worker) counts against the same allowance: 3 requests
    here, then 3 there with a limit of 5."""
    ident = uuid.uuid4().hex
    assert [hit("token", ident, 5, 60, now=NOW) for _ in range(3)] == [None] * 3
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{database['NAME']}"
    else:
        url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    other = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [
            sys.executable,
            "-c",
            "import json, sys, django; django.setup(); from meterdesk.ratelimit import hit; "
            f"print(json.dumps([hit('token', {ident!r}, 5, 60, now={NOW!r}) for _ in range(3)]))",
        ],
        env={
            **{k: v for k, v in os.environ.items() if k != "METERDESK_CACHE_URL"},
            "DJANGO_SETTINGS_MODULE": "meterdesk.settings",
            "DATABASE_URL": url,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout) == [None, None, 40.0]


@pytest.mark.django_db(transaction=True)
def test_the_database_counts_concurrent_requests_once_each():
    """20 threads (each its own connection) × 10 requests against a limit of 150: exactly 150."""
    ident = uuid.uuid4().hex
    results: list[float | None] = []
    lock = threading.Lock()

    def many() -> None:
        try:
            mine = [hit("token", ident, 150, 60, now=NOW) for _ in range(10)]
            with lock:
                results.extend(mine)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=many) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    assert sum(r is None for r in results) == 150
