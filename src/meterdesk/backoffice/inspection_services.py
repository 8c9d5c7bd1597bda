"""The inspections' writes by staff, each recorded in the audit trail in its transaction: a visit
(a control reading, or a refusal of access), a reassignment, a cancellation.

A visit's form carries a key made by the inspector's phone: the same key sent again (a poor
connection, the phone's outbox resending) is answered with the visit stored the first time and
stores nothing (the key is unique in the table, so two sends at once store one visit).

The control reading goes through the readings' core (kind control, channel inspector). Its month
open, the next close bills it (basis ``control``: the consumption since the last actual reading,
and the part below the values billed before credited, p.61). Its month already closed (a visit
sent from the phone's outbox after the close), it is stored in that month and the account is
rebilled from it (cause ``control_reading``): the difference, if any, is on the next bill.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from auditlog.models import LogEntry
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from meterdesk.backoffice.audit import change_record
from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.rebill import rebill
from meterdesk.core.readings import reading_check, reading_submit
from meterdesk.customers.models import User
from meterdesk.inspections.models import OPEN, Condition, Inspection, Reason, Status
from meterdesk.inspections.photos import PhotoError, photo_check, photo_forget, photo_store
from meterdesk.inspections.planner import inspection_rules
from meterdesk.inspections.routes import street_of
from meterdesk.inspections.selectors import refusals_in_row
from meterdesk.metering.check import MonthClosed, Ruling, reading_rules
from meterdesk.metering.models import Channel, Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.metering.services import reading_store
from meterdesk.utility.selectors import reference_get, utility_now

KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class VisitError(ValueError):
    """The visit cannot be stored as sent (nothing was stored)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VisitResult:
    inspection: Inspection
    repeated: bool = False  # the same form sent again: answered from the first, nothing stored
    rebilled: list[LedgerEntry] = field(default_factory=list)


def _control_store(
    *, staff: User, meter: Meter, values: Sequence[str], at: datetime
) -> tuple[Reading, list[LedgerEntry]]:
    """Store the control reading through the core; in a closed month, store it there and rebill."""
    outcome = reading_check(meter_id=meter.pk, values=values, kind=ReadingKind.CONTROL, now=at)
    checked = outcome.checked
    # The inspector reads the meter itself: an unusual value or a rollover is what the meter shows.
    confirmed = [checked.token(issue) for issue in outcome.needed] if checked is not None else []
    try:
        result = reading_submit(
            meter_id=meter.pk,
            values=values,
            channel=Channel.INSPECTOR,
            kind=ReadingKind.CONTROL,
            confirmed=confirmed,
            now=at,
        )
    except MonthClosed as closed:
        period = closed.period
    else:
        return result.reading, []
    locked = Meter.objects.select_for_update().select_related("account").get(pk=meter.pk)
    reference = reference_get()

    def rules(confirmed: Sequence[str]) -> Ruling:
        return reading_rules(
            meter=locked,
            values=values,
            at=at,
            reference=reference,
            month_closed=lambda _month: False,  # the utility's own reading stays in the month it was taken
            kind=ReadingKind.CONTROL,
            confirmed=confirmed,
        )

    ruling = rules(())
    if ruling.checked is not None and ruling.needed:
        ruling = rules([ruling.checked.token(issue) for issue in ruling.needed])
    if ruling.refusal is not None:
        raise ruling.refusal
    stored = reading_store(ruling=ruling, channel=Channel.INSPECTOR)
    billed = (
        Reading.objects.filter(meter=locked, period=period, status=ReadingStatus.ACCEPTED)
        .exclude(pk=stored.reading.pk)
        .filter(kind__in=[ReadingKind.CUSTOMER, ReadingKind.CONTROL])
        .order_by("-submitted_at")
        .first()
    )
    if billed is not None and billed.values == stored.reading.values:
        return stored.reading, []  # it agrees with what was billed: nothing to recalculate
    day = utility_now(now=at).date()
    entries = rebill(
        account=locked.account,
        period=period,
        reason=f"control reading of {day:%d.%m.%Y}, meter {locked.serial}",
        cause="control_reading",
        user=staff,
    )
    return stored.reading, entries


def visit_record(
    *,
    staff: User,
    inspection: Inspection,
    client_key: str,
    refused: bool = False,
    values: Sequence[str] = (),
    photo: bytes | None = None,
    seals: str = "",
    condition: str = "",
    note: str = "",
    now: datetime | None = None,
) -> VisitResult:
    """Record the visit of ``inspection`` by ``staff`` (see the module's text). Raises VisitError,
    or what the readings' core raises for the values (ReadingInvalid …); then nothing is stored."""
    if not KEY.match(client_key or ""):
        raise VisitError("the form's key is missing or malformed", "client_key")
    earlier = Inspection.objects.filter(client_key=client_key).first()
    if earlier is not None:
        if earlier.pk != inspection.pk:
            raise VisitError("this key belongs to another visit", "client_key_used")
        return VisitResult(earlier, repeated=True)
    at = now or timezone.now()
    if not refused:
        if condition not in Condition.values:
            raise VisitError("say the meter's condition", "condition")
        if not values or any(not str(v).strip() for v in values):
            raise VisitError("a control reading needs a value for each zone", "values")
    try:
        kind = photo_check(photo) if photo else ""
    except PhotoError as error:
        raise VisitError("the photo must be a JPEG or PNG of at most 5 MB", error.code) from error
    stored_photo = ""
    try:
        with transaction.atomic():
            locked = (
                Inspection.objects.select_for_update().select_related("meter__account").get(pk=inspection.pk)
            )
            if locked.client_key == client_key:  # a second send that waited for the first one's lock
                return VisitResult(locked, repeated=True)
            if locked.status not in OPEN:
                raise VisitError("this inspection is already closed", "not_open")
            before = locked.status
            account = locked.meter.account
            entries: list[LedgerEntry] = []
            if photo:
                stored_photo, sha = photo_store(photo, kind)
                locked.photo, locked.photo_type, locked.photo_sha256 = stored_photo, kind, sha
            locked.visited_at, locked.client_key, locked.note = at, client_key, note.strip()[:500]
            locked.seals = seals.strip()[:200]
            if refused:
                locked.status = Status.REFUSED
                locked.refusals_in_row = refusals_in_row(locked.meter_id) + 1
                locked.save()
                rules = inspection_rules()
                change_record(
                    actor=staff,
                    instance=locked,
                    account=account,
                    changes={"status": (before, locked.status)},
                    reason=locked.note or "access refused",
                    extra={
                        "act": "refusal of access (Decree 354 p.85)",
                        "meter": locked.meter.serial,
                        "refusals_in_row": locked.refusals_in_row,
                        "estimate_allowed": locked.refusals_in_row >= rules.refusals_act,
                    },
                )
                return VisitResult(locked)
            reading, entries = _control_store(staff=staff, meter=locked.meter, values=values, at=at)
            locked.status, locked.reading, locked.condition = Status.DONE, reading, condition
            locked.save()
            change_record(
                actor=staff,
                instance=reading,
                account=account,
                changes={f"t{n}": (None, v) for n, v in enumerate(reading.values, start=1)},
                action=LogEntry.Action.CREATE,
                reason=f"control reading, inspection {locked.pk}",
                extra={
                    "channel": Channel.INSPECTOR,
                    "meter": locked.meter.serial,
                    "confirmation": reading.confirmation,
                    "seals": locked.seals,
                    "condition": condition,
                    "rebilled": len(entries),
                },
            )
            return VisitResult(locked, rebilled=entries)
    except IntegrityError:
        # The same key stored meanwhile by a second send of the form: answer from it.
        if stored_photo:
            photo_forget(stored_photo)
        earlier = Inspection.objects.filter(client_key=client_key, pk=inspection.pk).first()
        if earlier is None:
            raise
        return VisitResult(earlier, repeated=True)
    except BaseException:
        if stored_photo:
            photo_forget(stored_photo)
        raise


def inspection_reassign(
    *, staff: User, inspection: Inspection, inspector: User, planned_on: date | None, reason: str
) -> LogEntry | None:
    """Give an open inspection to ``inspector`` (on ``planned_on``, else its day), at the end of
    that day's route; None if nothing changes."""
    with transaction.atomic():
        locked = Inspection.objects.select_for_update().select_related("meter__account").get(pk=inspection.pk)
        if locked.status not in OPEN:
            raise VisitError("only an open inspection is reassigned", "not_open")
        day = planned_on or locked.planned_on
        if day < utility_now().date():
            raise VisitError("the day is past", "day_past")
        if locked.inspector_id == inspector.pk and locked.planned_on == day:
            return None
        changes = {
            "inspector": (locked.inspector.email if locked.inspector else None, inspector.email),
            "planned_on": (locked.planned_on, day),
        }
        last = Inspection.objects.filter(inspector=inspector, planned_on=day).aggregate(n=Max("route_order"))
        locked.inspector, locked.planned_on, locked.route_order = inspector, day, (last["n"] or 0) + 1
        locked.save(update_fields=["inspector", "planned_on", "route_order"])
        return change_record(
            actor=staff, instance=locked, account=locked.meter.account, changes=changes, reason=reason.strip()
        )


def inspection_cancel(*, staff: User, inspection: Inspection, reason: str) -> LogEntry:
    """Cancel an open inspection, with ``reason`` (required)."""
    if not reason.strip():
        raise VisitError("a cancellation needs a reason", "reason_required")
    with transaction.atomic():
        locked = Inspection.objects.select_for_update().select_related("meter__account").get(pk=inspection.pk)
        if locked.status not in OPEN:
            raise VisitError("only an open inspection is cancelled", "not_open")
        before = locked.status
        locked.status, locked.cancel_reason = Status.CANCELLED, reason.strip()[:300]
        locked.save(update_fields=["status", "cancel_reason"])
        return change_record(
            actor=staff,
            instance=locked,
            account=locked.meter.account,
            changes={"status": (before, locked.status)},
            reason=locked.cancel_reason,
        )


def inspection_request(
    *, staff: User, meter: Meter, day: date, hours: tuple[time, time], inspector: User | None, reason: str
) -> Inspection:
    """An inspection the household asked for (or staff decided on) outside the plan: on ``day``,
    which is not past; a meter has one open inspection at most."""
    if meter.removed_on is not None or meter.status not in (MeterStatus.ACTIVE, MeterStatus.FAILED):
        raise VisitError("the meter is not in service", "not_in_service")
    if day < utility_now().date():
        raise VisitError("the day is past", "day_past")
    if not reason.strip():
        raise VisitError("say why", "reason_required")
    try:
        with transaction.atomic():
            last = Inspection.objects.filter(inspector=inspector, planned_on=day).aggregate(
                n=Max("route_order")
            )
            found = Inspection.objects.create(
                meter=meter,
                planned_on=day,
                hours_from=hours[0],
                hours_to=hours[1],
                reason=Reason.REQUESTED,
                inspector=inspector,
                route_order=(last["n"] or 0) + 1,
                street=street_of(meter.account.address)[:200],
            )
            change_record(
                actor=staff,
                instance=found,
                account=meter.account,
                changes={
                    "planned_on": (None, day),
                    "inspector": (None, inspector.email if inspector else None),
                },
                action=LogEntry.Action.CREATE,
                reason=reason.strip(),
            )
    except IntegrityError as error:
        raise VisitError("the meter has an inspection planned already", "open_exists") from error
    return found
