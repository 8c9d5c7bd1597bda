"""The API's operations, one module per area."""

from __future__ import annotations

from typing import Any

from meterdesk.api.errors import ErrorOut


def errors(*statuses: int) -> dict[Any, type[ErrorOut]]:
    """The error responses an operation documents (all of the one shape)."""
    return {frozenset(statuses): ErrorOut}


def page(items: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of a queryset or list, and the length of the whole."""
    if isinstance(items, list):
        return items[offset : offset + limit], len(items)
    total = items.count()
    return list(items[offset : offset + limit]) if offset < total else [], total
