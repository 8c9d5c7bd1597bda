"""Work of the readings that runs on the task workers: the e-mailed confirmation of a submission."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from django_tasks import task

from meterdesk.metering.models import Reading
from meterdesk.metering.selectors import ChargePreview, PreviewLine


def charge_dumps(charge: ChargePreview) -> str:
    """The charge shown on submitting, as JSON text (for the e-mail, which shows the same figures;
    one string is the cheapest task argument to store)."""
    data = {
        "consumption": [str(v) for v in charge.consumption],
        "months": charge.months,
        "lines": [
            {
                "zone": line.zone,
                "band": line.band,
                "volume": str(line.volume),
                "price": str(line.price),
                "amount": str(line.amount),
                "basis": line.basis,
                "reason": line.reason,
                "detail": dict(line.detail),
                "after_control": line.after_control,
            }
            for line in charge.lines
        ],
        "total": None if charge.total is None else str(charge.total),
        "period": None if charge.period is None else charge.period.isoformat(),
        "basis": charge.basis,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def charge_loads(text: str | dict[str, Any]) -> ChargePreview:
    """``charge_dumps`` read back (without the tariff record, which the e-mail does not show)."""
    data: dict[str, Any] = json.loads(text) if isinstance(text, str) else text
    return ChargePreview(
        consumption=tuple(Decimal(v) for v in data["consumption"]),
        months=data["months"],
        tariff=None,
        lines=tuple(
            PreviewLine(
                zone=line["zone"],
                band=line["band"],
                volume=Decimal(line["volume"]),
                price=Decimal(line["price"]),
                amount=Decimal(line["amount"]),
                basis=line["basis"],
                reason=line["reason"],
                detail=line["detail"],
                after_control=line["after_control"],
            )
            for line in data["lines"]
        ),
        total=None if data["total"] is None else Decimal(data["total"]),
        period=None if data["period"] is None else date.fromisoformat(data["period"]),
        basis=data["basis"],
    )


@task()
def reading_confirmation_task(
    reading_id: int, email: str, language: str, charge: str | dict[str, Any]
) -> None:
    """E-mail the confirmation of an accepted reading (enqueued by ``reading_submit``)."""
    from meterdesk.metering.services import confirmation_send

    reading = Reading.objects.select_related("meter__account").get(pk=reading_id)
    confirmation_send(reading, charge_loads(charge), email, language)
