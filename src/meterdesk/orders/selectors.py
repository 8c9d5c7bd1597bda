"""Reads of services and requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from meterdesk.customers.models import Account, User
from meterdesk.orders.models import Service, ServiceRequest


def service_catalogue(day: date) -> list[Service]:
    """The services offered on ``day``: of each code, the version in force (the latest that began
    by then), if it is offered; by name."""
    current: dict[str, Service] = {}
    for service in Service.objects.filter(valid_from__lte=day).order_by("code", "-valid_from"):
        current.setdefault(service.code, service)
    return sorted((s for s in current.values() if s.active), key=lambda s: (s.price == 0, s.name_ru))


def service_current(code: str, day: date) -> Service | None:
    """The version of ``code`` in force on ``day``, if it is offered."""
    found = Service.objects.filter(code=code, valid_from__lte=day).order_by("-valid_from").first()
    return found if found is not None and found.active else None


def requests_of_account(account: Account) -> QuerySet[ServiceRequest]:
    return (
        ServiceRequest.objects.filter(account=account)
        .select_related("service")
        .order_by("-created_at", "-pk")
    )


def requests_of_login(user: User) -> QuerySet[ServiceRequest]:
    """The requests of every account linked to ``user`` (whoever ordered them)."""
    return (
        ServiceRequest.objects.filter(account__links__user=user)
        .select_related("service", "account")
        .order_by("-created_at", "-pk")
    )


def request_of_login(user: User, request_id: int) -> ServiceRequest:
    """One of ``requests_of_login`` (DoesNotExist for any other)."""
    return requests_of_login(user).get(pk=request_id)


@dataclass(frozen=True)
class RequestFilter:
    status: str = ""  # "" open ones (ordered, scheduled), "all", or one status
    day_from: date | None = None  # scheduled (or, not scheduled yet, ordered) from/to
    day_to: date | None = None
    number: str = ""


def requests_queue(filters: RequestFilter) -> QuerySet[ServiceRequest]:
    """The staff's list: by scheduled day (not scheduled yet first), then by when ordered."""
    from django.db.models import F, Q

    from meterdesk.orders.models import Status

    rows = ServiceRequest.objects.select_related("service", "account", "scheduled_by")
    if filters.status == "":
        rows = rows.filter(status__in=(Status.ORDERED, Status.SCHEDULED))
    elif filters.status != "all":
        rows = rows.filter(status=filters.status)
    if filters.day_from is not None:
        rows = rows.filter(
            Q(scheduled_on__gte=filters.day_from)
            | Q(scheduled_on__isnull=True, created_at__date__gte=filters.day_from)
        )
    if filters.day_to is not None:
        rows = rows.filter(
            Q(scheduled_on__lte=filters.day_to)
            | Q(scheduled_on__isnull=True, created_at__date__lte=filters.day_to)
        )
    if filters.number:
        rows = rows.filter(Q(number__iexact=filters.number) | Q(account__number=filters.number))
    return rows.order_by(F("scheduled_on").asc(nulls_first=True), "created_at", "pk")
