"""Two endpoints that exist only for `meterdesk bench api`: the floors its figures are compared with.

Mounted at ``/api/v1/bench/`` only by the benchmark's own URLconf (bench/urls.py), which the server
that `bench api` starts loads (bench/settings.py); the product's API has no such route.

* ``GET /api/v1/bench/trivial``: no authentication, no database: the cost of the server, Django and
  django-ninja for one request (the rate limits are off for it too).
* ``POST /api/v1/bench/write``: no authentication; inserts one row into ``bench_write`` (a table the
  benchmark creates in its own database, no migration) and commits: the cost of one durable write,
  which every accepted reading must pay.
* ``POST /api/v1/bench/ceiling/{meter_id}`` (``bench api --ceiling``): a submission made in one call
  to the database (``bench_submit_ceiling``, bench/ceiling.sql, which the benchmark creates in its
  own database): the token, the meter locked if linked, the previous reading, the prices, the
  superseded reading, the reading, the confirmation e-mail in the outbox and the Idempotency-Key's
  answer, with the request parsed and answered as the real endpoint does. It leaves out most of
  the rules (ceiling.sql says which): the rate of a submission of this shape can never be higher
  on this machine. Not a way to take readings.
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router
from ninja.security import HttpBearer

from meterdesk.api.auth import TOKEN_PREFIX, token_hash
from meterdesk.api.idempotency import request_digest
from meterdesk.api.schemas import ReadingIn
from meterdesk.utility.selectors import reference_peek, utility_now

#: The function behind the ceiling endpoint (created by the benchmark, never by a migration).
CEILING_SQL = Path(__file__).with_name("ceiling.sql")

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


class _BearerToken(HttpBearer):
    """The ``Authorization: Bearer`` header read as the real endpoint's TokenAuth reads it, the
    token itself handed on unchecked: ``bench_submit_ceiling`` looks it up."""

    def authenticate(self, request: HttpRequest, token: str) -> str | None:
        return token if token.startswith(TOKEN_PREFIX) else None


@router.post("/ceiling/{meter_id}", auth=_BearerToken(), throttle=[], include_in_schema=False)
def bench_ceiling(request: HttpRequest, payload: ReadingIn, meter_id: int) -> Any:
    raw: str = request.auth  # type: ignore[attr-defined]
    key = request.headers.get("Idempotency-Key")
    if not key:
        return HttpResponse(status=400)
    body = payload.model_dump(mode="json")
    try:
        values: list[Decimal | None] = [Decimal(str(v)) for v in payload.values[:3]]
    except InvalidOperation:
        return HttpResponse(status=400)
    now = timezone.now()
    period = utility_now(reference_peek().utility, now).date().replace(day=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT bench_submit_ceiling(%s, %s, %s::numeric[], %s, %s, %s, %s, %s, %s::jsonb)",
            [
                token_hash(raw),
                meter_id,
                values + [None] * (3 - len(values)),
                key,
                request_digest(f"meters/{meter_id}/readings", body),
                period,
                now,
                f"{secrets.randbelow(10**12):012d}",
                json.dumps(body["confirm"]),
            ],
        )
        row = cursor.fetchone()
    answer = row[0] if row else "500"
    if len(answer) == 3:
        return HttpResponse(status=int(answer))
    return HttpResponse(answer.encode(), status=201, content_type="application/json")
