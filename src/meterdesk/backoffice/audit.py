"""The audit trail of the back office, on django-auditlog's ``LogEntry`` (docs/adr/0020).

Every change staff make through the back office is written here by the service that makes it,
in its transaction: who (``actor``), when (``timestamp``), what (the object, the action), before
and after (``changes``: field → [before, after]) and why (``additional_data["reason"]``, required
for corrections). Nothing is registered for auditlog's signals: the customers' own channels
(the API's readings above all) write no audit rows, so their hot path is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q

from meterdesk.customers.models import Account, User
from meterdesk.inspections.models import Inspection
from meterdesk.metering.models import Channel, Meter, Reading


def _text(value: Any) -> str | None:
    """A value as the history shows it: numbers without trailing zeros (``1300``, ``54.3``)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def change_record(
    *,
    actor: User,
    instance: models.Model,
    account: Account,
    changes: Mapping[str, tuple[Any, Any]],
    action: int = LogEntry.Action.UPDATE,
    reason: str = "",
    extra: Mapping[str, Any] | None = None,
) -> LogEntry:
    """Record one change of ``instance`` (of ``account``) by ``actor``: ``changes`` maps each
    field to its (before, after) value."""
    data = {"account": account.number, "reason": reason, **(extra or {})}
    entry = LogEntry.objects.log_create(
        instance,
        action=action,
        changes={field: [_text(before), _text(after)] for field, (before, after) in changes.items()},
        actor=actor,
        actor_email=actor.email,
        additional_data=data,
        force_log=True,
    )
    assert entry is not None  # noqa: S101 - force_log always writes
    return entry


def reference_change_record(
    *,
    actor: User,
    instance: models.Model,
    changes: Mapping[str, tuple[Any, Any]],
    action: int = LogEntry.Action.UPDATE,
    reason: str = "",
    extra: Mapping[str, Any] | None = None,
) -> LogEntry:
    """Record one change of the reference data (a tariff, a norm …), which is of no account."""
    entry = LogEntry.objects.log_create(
        instance,
        action=action,
        changes={field: [_text(before), _text(after)] for field, (before, after) in changes.items()},
        actor=actor,
        actor_email=actor.email,
        additional_data={"reason": reason, **(extra or {})},
        force_log=True,
    )
    assert entry is not None  # noqa: S101 - force_log always writes
    return entry


def diff(instance: models.Model, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields of ``values`` that differ from ``instance``'s: field → (before, after)."""
    return {
        name: (getattr(instance, name), value)
        for name, value in values.items()
        if getattr(instance, name) != value
    }


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ChangeRow:
    """One change as an account's history shows it."""

    at: datetime
    who: str
    what: str  # the kind of object and the object
    action: str
    fields: list[FieldChange]
    reason: str
    channel: str


def _label(model: type[models.Model] | None, name: str) -> str:
    if model is None:
        return name
    try:
        return str(getattr(model._meta.get_field(name), "verbose_name", name))
    except FieldDoesNotExist:
        return name


def _channel(code: Any) -> str:
    return str(Channel(code).label) if code in Channel.values else ""


def account_changes(account: Account, limit: int = 200) -> list[ChangeRow]:
    """The changes made by staff to ``account``, its meters, readings and inspections, newest first."""
    kinds = ContentType.objects.get_for_models(Account, Meter, Reading, Inspection)
    meters = Meter.objects.filter(account=account).values("pk")
    readings = Reading.objects.filter(account=account).values("pk")
    entries = (
        LogEntry.objects.filter(
            Q(content_type=kinds[Account], object_id=account.pk)
            | Q(content_type=kinds[Meter], object_id__in=meters)
            | Q(content_type=kinds[Reading], object_id__in=readings)
            | Q(
                content_type=kinds[Inspection],
                object_id__in=Inspection.objects.filter(meter__in=meters).values("pk"),
            )
        )
        .select_related("content_type", "actor")
        .order_by("-timestamp", "-pk")[:limit]
    )
    rows = []
    for entry in entries:
        model = entry.content_type.model_class()
        kind = str(model._meta.verbose_name) if model is not None else entry.content_type.model
        data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
        rows.append(
            ChangeRow(
                at=entry.timestamp,
                who=entry.actor.email if entry.actor else (entry.actor_email or ""),
                what=f"{kind} {entry.object_repr}",
                action=str(entry.get_action_display()),
                fields=[
                    FieldChange(_label(model, name), *pair)
                    for name, pair in (entry.changes_dict or {}).items()
                ],
                reason=str(data.get("reason") or ""),
                channel=_channel(data.get("channel")),
            )
        )
    return rows
