"""Two endpoints that exist only for `meterdesk bench api`: the floors its figures are compared with.

Mounted at ``/api/v1/bench/`` by ``meterdesk.api.api`` only when ``METERDESK_BENCH_ENDPOINTS=1`` (the
setting or the environment variable); never in a normal deployment.

* ``GET /api/v1/bench/trivial``: no authentication, no database: the cost of the server, Django and
  django-ninja for one request (the rate limits are off for it too).
* ``POST /api/v1/bench/write``: no authentication; inserts one row into ``bench_write`` (a table the
  benchmark creates in its own database, no migration) and commits: the cost of one durable write,
  which every accepted reading must pay.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from ninja import Router

router = Router(tags=["bench"])


@router.get("/trivial", auth=None, throttle=[], include_in_schema=False)
def bench_trivial(request: HttpRequest) -> Any:
    return {"ok": True}


@router.post("/write", auth=None, throttle=[], include_in_schema=False)
def bench_write(request: HttpRequest) -> Any:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_write (t) VALUES (now()) RETURNING id")
        row = cursor.fetchone()
    return {"id": row[0] if row else None}
