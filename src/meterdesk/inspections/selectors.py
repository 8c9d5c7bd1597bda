"""Reads of inspections."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from meterdesk.customers.models import Account, User
from meterdesk.inspections.models import OPEN, Inspection, Status


def route_of(inspector: User, day: date) -> QuerySet[Inspection]:
    """The inspector's visits of ``day``, in route order (the ones still to visit and those done)."""
    return (
        Inspection.objects.filter(inspector=inspector, planned_on=day)
        .exclude(status=Status.CANCELLED)
        .select_related("meter__account", "reading")
        .order_by("route_order", "pk")
    )


def inspections_of_account(account: Account, limit: int = 20) -> QuerySet[Inspection]:
    return (
        Inspection.objects.filter(meter__account=account)
        .select_related("meter", "inspector", "reading")
        .order_by("-planned_on", "-pk")[:limit]
    )


def refusals_in_row(meter_id: int) -> int:
    """The meter's refusals of access since its last inspection done."""
    count = 0
    for status in (
        Inspection.objects.filter(meter_id=meter_id, status__in=[Status.DONE, Status.REFUSED])
        .order_by("-visited_at", "-pk")
        .values_list("status", flat=True)
    ):
        if status != Status.REFUSED:
            break
        count += 1
    return count


def is_open(inspection: Inspection) -> bool:
    return inspection.status in OPEN
