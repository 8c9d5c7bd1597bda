"""Reads of registries and of the unmatched queue."""

from __future__ import annotations

from django.db.models import QuerySet

from meterdesk.registries.models import Registry, RegistryRow, RowStatus


def unmatched_rows(*, registry: int | None = None) -> QuerySet[RegistryRow]:
    """The rows waiting for staff (oldest payment first)."""
    rows = RegistryRow.objects.filter(status=RowStatus.UNMATCHED).select_related("registry")
    if registry is not None:
        rows = rows.filter(registry_id=registry)
    return rows.order_by("paid_on", "registry_id", "line")


def row_get(row_id: int) -> RegistryRow | None:
    return RegistryRow.objects.select_related("registry", "account", "entry").filter(pk=row_id).first()


def registry_get(digest: str) -> Registry | None:
    """The registry loaded from a file with this SHA-256, if any."""
    return Registry.objects.filter(sha256=digest).first()
