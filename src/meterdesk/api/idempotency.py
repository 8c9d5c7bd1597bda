"""``Idempotency-Key``: a retried submission gets the first answer instead of a second reading.

``idempotent`` wraps a handler that writes: the first accepted answer is stored with the key, in
the same transaction as what the handler wrote, under a unique (scope, key) constraint: of two
concurrent duplicates only one can commit; the other's transaction (its reading included) rolls
back and it answers with the stored result. Answers that stored nothing (an error) are not
recorded, so a client may fix the request and send it again with the same key — a
needs_confirmation round trip included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
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


def idempotent(
    request: HttpRequest,
    key: str | None,
    *,
    path: str,
    payload: Any,
    answer: Callable[[], Any],
    status: int = 201,
) -> HttpResponse:
    """``answer()``'s body as JSON with ``status``. ``answer`` writes, in the transaction this opens
    when a ``key`` is sent, and raises ApiError to refuse. With the key, its answer is stored
    under it in that transaction, and a request whose key was already answered gets the stored
    answer (``replay``: the same one for the same ``path`` and ``payload``, else
    idempotency_conflict).

    The stored answer is looked for only when this request cannot be answered afresh: when it is
    refused, or when its answer cannot be stored because an answer is already (the unique
    constraint; its work is then rolled back). So a request with a new key costs one statement
    more than one without (the insert of its answer); a retry does its work again, rolls it back
    and answers what was stored."""
    if key is None:
        return json_response(answer(), status)
    scope = scope_of(request)
    digest = request_digest(path, payload)
    try:
        with transaction.atomic():
            body = answer()
            record_store(
                scope=scope,
                key=key,
                user_id=request_user(request).pk,
                digest=digest,
                status=status,
                body=body,
            )
    except (ApiError, IntegrityError):
        record = record_get(scope, key)
        if record is None:
            raise
        return replay(record, digest)
    return json_response(body, status)


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
