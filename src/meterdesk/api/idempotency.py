"""``Idempotency-Key``: a retried submission gets the first answer instead of a second reading.

The first accepted answer is stored with the key, in the same transaction as the reading, under a
unique (scope, key) constraint: of two concurrent duplicates only one can commit; the other's
transaction (its reading included) rolls back and it answers with the stored result. Answers that
stored nothing (an error) are not recorded, so a client may fix the request and send it again with
the same key — a needs_confirmation round trip included.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from meterdesk.api.auth import request_token, request_user
from meterdesk.api.errors import ApiError
from meterdesk.api.models import IdempotencyRecord
from meterdesk.sqlrows import Rows

REPLAY_HEADER = "Idempotent-Replayed"

_RECORD = Rows(IdempotencyRecord, "r")
_RECORD_SQL = (
    f"SELECT {_RECORD.columns} FROM {IdempotencyRecord._meta.db_table} r "  # noqa: S608 - names from the model
    "WHERE r.scope = %s AND r.key = %s"
)


def scope_of(request: HttpRequest) -> str:
    token = request_token(request)
    if token is not None:
        return f"token:{token.pk}"
    return f"user:{request_user(request).pk}"


def request_digest(path: str, body: Any) -> str:
    """The fingerprint of a request: its path and its parsed body (key order and spacing aside)."""
    text = json.dumps({"path": path, "body": body}, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


#: The record of (scope, key) joined to another statement's row (``record_join``): its columns,
#: the LEFT JOIN (with the parameters scope and key), and the record built from those columns.
RECORD_COLUMNS = f", {_RECORD.columns}"
RECORD_JOIN = f"LEFT JOIN {IdempotencyRecord._meta.db_table} r ON r.scope = %s AND r.key = %s"


def record_from(values: tuple[Any, ...]) -> IdempotencyRecord | None:
    """The record from the values of ``RECORD_COLUMNS`` (None if the join found none)."""
    return None if values[0] is None else _RECORD.build(values)


def record_get(scope: str, key: str) -> IdempotencyRecord | None:
    """The stored answer of (scope, key), if any (one indexed read, by hand: on the hot path)."""
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, [scope, key])
        row = cursor.fetchone()
    return None if row is None else _RECORD.build(row)


def record_store(*, scope: str, key: str, user_id: int, digest: str, status: int, body: Any) -> None:
    """Store the first answer of (scope, key), in the caller's transaction (IntegrityError if a
    concurrent duplicate stored it first). An insert by hand: on the hot path."""
    _RECORD.insert(
        IdempotencyRecord(
            scope=scope, key=key, user_id=user_id, request_hash=digest, status_code=status, response=body
        )
    )


def replay(record: IdempotencyRecord, digest: str) -> HttpResponse:
    """The stored answer, if the request is the same; else idempotency_conflict."""
    if record.request_hash != digest:
        raise ApiError(
            409,
            "idempotency_conflict",
            _("This Idempotency-Key was already used for a different request. Use a new key."),
            {"key": record.key},
        )
    return json_response(record.response, record.status_code, replayed=True)


def json_response(body: Any, status: int, *, replayed: bool = False) -> HttpResponse:
    response = JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    if replayed:
        response[REPLAY_HEADER] = "true"
    return response


def idempotency_purge(*, older_than: timedelta) -> int:
    """Forget the answers stored longer ago than ``older_than`` (a client retries within minutes;
    keep a day or more). Returns how many were deleted."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
