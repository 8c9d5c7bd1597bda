"""Readings of a meter: the history, a submission (idempotent with ``Idempotency-Key``) and the
charge a reading would give, without saving it.

The submission and the preview go through ``core.readings`` like every other channel
(``reading_submit``, tagged with the channel ``api``, and ``reading_check``). The submission is
the hot path of the API (docs/benchmarks.md): one query for the token; then, in one transaction,
the meter read and locked together with the check that the login may see it and what the check
needs besides, the meter's recent readings, the insert of the reading and, with an
Idempotency-Key, the insert of the answer (``api.idempotency.idempotent``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import get_language
from ninja import Path, Query, Router
from pydantic_core import to_jsonable_python

from meterdesk.api import present
from meterdesk.api.auth import request_user
from meterdesk.api.errors import not_found, reading_error
from meterdesk.api.idempotency import idempotent
from meterdesk.api.routers import errors, idempotency_key_header, paged
from meterdesk.api.schemas import (
    MAX_ID,
    PageQuery,
    PreviewOut,
    ReadingIn,
    ReadingPage,
    SubmissionOut,
)
from meterdesk.core.readings import SubmissionResult, reading_check, reading_submit
from meterdesk.metering.check import ReadingError
from meterdesk.metering.messages import issue_message, zone_label
from meterdesk.metering.models import Channel, Meter
from meterdesk.metering.selectors import meter_for_user

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
    return paged(readings, params, lambda reading: present.reading_out(reading, meter))


def _submission_body(result: SubmissionResult) -> dict[str, Any]:
    """The answer of an accepted submission as JSON values, in the shape of ``SubmissionOut``.
    Converted by pydantic-core's serializer without validating it against the schema again (the
    hot path; the tests compare it with ``SubmissionOut``'s own dump)."""
    meter = result.reading.meter
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

    def submit() -> dict[str, Any]:
        try:
            result = reading_submit(
                meter_id=meter_id,
                login=user,
                values=_raw(payload.values),
                channel=Channel.API,
                submitted_by=user,
                confirmed=payload.confirm,
                language=get_language(),
            )
        except Meter.DoesNotExist as exc:  # no such meter, or not the login's
            raise not_found() from exc
        except ReadingError as error:
            raise reading_error(error) from error
        return _submission_body(result)

    return idempotent(
        request,
        idempotency_key,
        path=f"meters/{meter_id}/readings",
        payload=payload.model_dump(mode="json"),
        answer=submit,
    )


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
    try:
        outcome = reading_check(
            meter_id=meter_id,
            login=request_user(request),
            values=_raw(payload.values),
            confirmed=payload.confirm,
        )
    except Meter.DoesNotExist as exc:
        raise not_found() from exc
    if outcome.error is not None:
        raise reading_error(outcome.error)
    meter, checked = outcome.meter, outcome.checked
    assert checked is not None and outcome.charge is not None  # noqa: S101 - no rule broken
    return {
        "period": present.month(outcome.period),
        "charge": present.charge_out(outcome.charge, meter),
        "confirmations_needed": [
            {
                "code": issue.code,
                "confirm": checked.token(issue),
                "zone": issue.zone,
                "zone_label": zone_label(meter.zones, issue.zone) if issue.zone else "",
                "message": issue_message(issue),
            }
            for issue in outcome.needed
        ],
        "window": present.window_out(),
    }
