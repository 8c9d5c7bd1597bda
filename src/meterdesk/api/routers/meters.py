"""Readings of a meter: the history, a submission (idempotent with ``Idempotency-Key``) and the
charge a reading would give, without saving it.

The submission goes through ``metering.services.reading_submit`` like every other channel, tagged
with the channel ``api``. It is the hot path of the API (docs/benchmarks.md): one query for the
token; then, in one transaction, the meter read and locked together with the check that the
login may see it, the look-up of the Idempotency-Key if one is sent (under the meter's lock, so a
concurrent duplicate waits for the first and then replays its answer), the service's own queries,
and the insert of the idempotency record.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from ninja import Path, Query, Router
from pydantic_core import to_jsonable_python

from meterdesk.api import present
from meterdesk.api.auth import request_user
from meterdesk.api.errors import not_found, reading_error
from meterdesk.api.idempotency import (
    RECORD_COLUMNS,
    RECORD_JOIN,
    json_response,
    record_from,
    record_get,
    record_store,
    replay,
    request_digest,
    scope_of,
)
from meterdesk.api.routers import errors, idempotency_key_header, page
from meterdesk.api.schemas import (
    MAX_ID,
    PageQuery,
    PreviewOut,
    ReadingIn,
    ReadingPage,
    SubmissionOut,
)
from meterdesk.metering.messages import issue_message, zone_label
from meterdesk.metering.models import Channel, Meter, MeterStatus
from meterdesk.metering.selectors import (
    charge_preview,
    meter_for_user,
    meter_lock_for_user,
    submission_check,
    submission_history,
)
from meterdesk.metering.services import (
    MeterNotInService,
    ReadingError,
    ReadingInvalid,
    SubmissionResult,
    reading_submit,
)
from meterdesk.utility.selectors import reference_peek, utility_now

router = Router(tags=["readings"])

METER_ID = Path(..., ge=1, le=MAX_ID, description="the meter's id (from the account's meters)")
IDEMPOTENCY_KEY = idempotency_key_header(
    "any unique string per reading (a UUID): a retry with the same key and body returns the first "
    "answer; the same key with another body is idempotency_conflict (409)"
)


def _meter(request: HttpRequest, meter_id: int) -> Meter:
    try:
        return meter_for_user(request_user(request), meter_id)
    except Meter.DoesNotExist as exc:
        raise not_found() from exc


def _raw(values: list[Any]) -> list[str | int | Decimal | None]:
    """The values as the rules take them: a JSON fraction as its shortest decimal text."""
    return [repr(v) if isinstance(v, float) else v for v in values]


@router.get(
    "/{meter_id}/readings",
    response={200: ReadingPage, **errors(401, 404, 422, 429)},
    summary="The meter's readings, newest first",
    description="Every submission by every channel, superseded ones included (status superseded).",
)
def reading_list(request: HttpRequest, params: Query[PageQuery], meter_id: int = METER_ID) -> Any:
    meter = _meter(request, meter_id)
    readings = meter.readings.order_by("-period", "-submitted_at", "-pk")
    items, total = page(readings, params.limit, params.offset)
    return {
        "items": [present.reading_out(r, meter) for r in items],
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
    }


def _submission_body(result: SubmissionResult, meter: Meter) -> dict[str, Any]:
    """The answer of an accepted submission as JSON values, in the shape of ``SubmissionOut``.
    Converted by pydantic-core's serializer without validating it against the schema again (the
    hot path; the tests compare it with ``SubmissionOut``'s own dump)."""
    data = {
        **present.reading_out(result.reading, meter),
        "replaced": result.replaced.confirmation if result.replaced is not None else None,
        "moved_from": present.month(result.moved_from) if result.moved_from is not None else None,
        "charge": present.charge_out(result.charge, meter),
    }
    return to_jsonable_python(data, fallback=str)  # type: ignore[no-any-return]


@router.post(
    "/{meter_id}/readings",
    response={201: SubmissionOut, **errors(400, 401, 403, 404, 409, 422, 429)},
    summary="Submit a reading (one value per zone)",
    description=(
        "Accepted readings answer 201 with the confirmation number and the month's charge. Errors: "
        "window_closed, month_closed, the value codes (reading_below_previous, too_many_digits, …), "
        "needs_confirmation (send again with `confirm`), meter_not_in_service. A second reading in "
        "the same month replaces the first. With `Idempotency-Key`, a retry returns the first answer "
        "(header Idempotent-Replayed: true)."
    ),
)
def reading_create(
    request: HttpRequest,
    payload: ReadingIn,
    meter_id: int = METER_ID,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:
    user = request_user(request)
    scope = digest = ""
    if idempotency_key is not None:
        scope = scope_of(request)
        digest = request_digest(f"meters/{meter_id}/readings", payload.model_dump(mode="json"))
    keyed = idempotency_key is not None
    try:
        with transaction.atomic():
            # The meter, if the login may see it (else 404, before anything else), locked until
            # the commit: submissions for one meter, and duplicates of one key, queue here. The
            # same statement reads the key's stored answer, if any, and what the service needs
            # besides the meter (Prefetched). A duplicate that was waiting for the lock does not
            # see the first one's answer in it (the statement's snapshot is older): its insert of
            # the answer then fails on the key's unique constraint, below.
            try:
                meter, prefetched, extra = meter_lock_for_user(
                    user,
                    meter_id,
                    period=utility_now(reference_peek().utility).date().replace(day=1),
                    extra_columns=RECORD_COLUMNS if keyed else "",
                    extra_join=RECORD_JOIN if keyed else "",
                    extra_params=(scope, idempotency_key) if keyed else (),
                )
            except Meter.DoesNotExist as exc:
                raise not_found() from exc
            if keyed:
                record = record_from(extra)
                if record is not None:
                    return replay(record, digest)
            try:
                result = reading_submit(
                    meter=meter,
                    values=_raw(payload.values),
                    channel=Channel.API,
                    submitted_by=user,
                    confirmed=payload.confirm,
                    language=get_language(),
                    locked=True,
                    prefetched=prefetched,
                )
            except ReadingError as error:
                raise reading_error(error, meter) from error
            body = _submission_body(result, meter)
            if idempotency_key is not None:
                record_store(
                    scope=scope, key=idempotency_key, user_id=user.pk, digest=digest, status=201, body=body
                )
    except IntegrityError:
        # A concurrent duplicate (of another meter's request with the same key) committed first:
        # this one's reading has been rolled back.
        if idempotency_key is None:
            raise
        record = record_get(scope, idempotency_key)
        if record is None:
            raise
        return replay(record, digest)
    return json_response(body, 201)


@router.post(
    "/{meter_id}/readings/preview",
    response={200: PreviewOut, **errors(400, 401, 403, 404, 422, 429)},
    summary="The charge a reading would give, without saving it",
    description=(
        "Checks the values by the same rules as a submission (the same error codes) and prices "
        "the month by the billing engine. Confirmations a submission would need are listed, not "
        "refused; the window is reported, not enforced."
    ),
)
def reading_preview(request: HttpRequest, payload: ReadingIn, meter_id: int = METER_ID) -> Any:
    meter = _meter(request, meter_id)
    if meter.status in (MeterStatus.REMOVED, MeterStatus.LOST):
        raise reading_error(MeterNotInService(meter), meter)
    now = timezone.now()
    period = utility_now(None, now).date().replace(day=1)
    # Checked as a submission given now is (the same readings of the month and before).
    accepted, earlier = history = submission_history(meter, period)
    checked, _previous = submission_check(
        meter=meter, values=_raw(payload.values), period=period, at=now, history=history
    )
    if not checked.ok:
        raise reading_error(ReadingInvalid(checked.errors), meter)
    charge = charge_preview(
        meter=meter, values=list(checked.values), period=period, earlier=earlier, accepted=accepted
    )
    needed = checked.unconfirmed(payload.confirm)
    return {
        "period": present.month(period),
        "charge": present.charge_out(charge, meter),
        "confirmations_needed": [
            {
                "code": issue.code,
                "confirm": checked.token(issue),
                "zone": issue.zone,
                "zone_label": zone_label(meter.zones, issue.zone) if issue.zone else "",
                "message": issue_message(issue),
            }
            for issue in needed
        ],
        "window": present.window_out(),
    }
