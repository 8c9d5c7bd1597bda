"""The plan of inspections (Decree 354 pp. 82–85; the numbers are the rules profile's
``inspections``): every meter in service checked at least once every ``every_months`` and not
more often than every ``min_months``; a meter without readings for ``silent_months`` checked within
``silent_within_days``; the household told at least ``notice_days`` ahead.

``inspections_plan`` places the meters due on the days asked for, the silent ones first, then
the yearly ones most overdue first, up to ``per_day`` visits per inspector and day; each day's
visits go to the inspectors by street (a route). A meter with an inspection still open is left
alone (one open inspection per meter is also a constraint), so planning again plans nothing twice.
``inspections_notify`` stores the notices of planned inspections (``notify``: once per
inspection and channel) and marks them notified.
"""

from __future__ import annotations

import calendar
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from meterdesk.customers.models import AccountLink, User
from meterdesk.domain.periods import add_months as month_add
from meterdesk.domain.profiles import InspectionRules, profile_load
from meterdesk.inspections.models import OPEN, Inspection, Reason, Status
from meterdesk.inspections.routes import address_key, street_of
from meterdesk.metering.models import Meter, MeterStatus, ReadingKind, ReadingStatus
from meterdesk.notify.models import Topic
from meterdesk.notify.prepare import Event, Prepared, notices_store
from meterdesk.utility.selectors import rules_profile_get, utility_now

#: The two time windows of an inspector's day: the first half of the route, then the second.
WINDOWS = ((time(9), time(13)), (time(14), time(18)))
PER_DAY = 12


class PlanError(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class PlanResult:
    planned: list[Inspection] = field(default_factory=list)
    silent: int = 0
    annual: int = 0
    left: int = 0  # due, but no place on the days asked for


@dataclass(frozen=True)
class _Due:
    meter: Meter
    reason: str
    earliest: date  # not before (the minimum interval)
    latest: date | None  # not after (a silent meter's deadline)
    due_on: date  # for the order: the most overdue first


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier if negative), or the month's last day."""
    first = month_add(day, months)
    return first.replace(day=min(day.day, calendar.monthrange(first.year, first.month)[1]))


def inspection_rules() -> InspectionRules:
    return profile_load(rules_profile_get()).inspections


def _candidates(today: date, last_day: date, rules: InspectionRules) -> Iterator[_Due]:
    """The meters in service with no open inspection that are due by ``last_day``."""
    meters = (
        Meter.objects.filter(
            removed_on__isnull=True,
            status__in=[MeterStatus.ACTIVE, MeterStatus.FAILED],
            account__closed_on__isnull=True,
        )
        .exclude(inspections__status__in=OPEN)
        .annotate(
            last_done=Max("inspections__planned_on", filter=Q(inspections__status=Status.DONE)),
            last_read=Max(
                "readings__submitted_at",
                filter=Q(
                    readings__kind__in=[ReadingKind.CUSTOMER, ReadingKind.CONTROL],
                    readings__status=ReadingStatus.ACCEPTED,
                ),
            ),
        )
        .select_related("account")
        .order_by("pk")
    )
    silent_since = add_months(today, -rules.silent_months)
    for meter in meters.iterator(chunk_size=2000):
        last_done: date | None = meter.last_done  # type: ignore[attr-defined]
        last_read = meter.last_read  # type: ignore[attr-defined]
        earliest = add_months(last_done, rules.min_months) if last_done else today
        read_on = utility_now(now=last_read).date() if last_read else meter.installed_on
        if read_on <= silent_since:
            deadline = today + timedelta(days=rules.silent_within_days)
            yield _Due(meter, Reason.SILENT, earliest, deadline, read_on)
            continue
        due_on = add_months(last_done or meter.installed_on, rules.every_months)
        if due_on <= last_day:
            yield _Due(meter, Reason.ANNUAL, earliest, None, due_on)


def _cut(items: Sequence[_Due], rooms: Sequence[tuple[User, int]]) -> list[tuple[User, list[_Due]]]:
    """The day's visits (in route order) in contiguous runs, one per inspector, as even as
    each one's room allows."""
    runs, at = [], 0
    for n, (inspector, room) in enumerate(rooms):
        share = math.ceil((len(items) - at) / (len(rooms) - n))
        take = min(room, share)
        if take > 0:
            runs.append((inspector, list(items[at : at + take])))
            at += take
    return runs


def inspections_plan(
    *,
    on: date,
    days: int = 1,
    inspectors: Sequence[User],
    per_day: int = PER_DAY,
    today: date | None = None,
    rules: InspectionRules | None = None,
) -> PlanResult:
    """Plan the inspections due on the ``days`` days from ``on`` (see the module's text)."""
    today = today or utility_now().date()
    rules = rules or inspection_rules()
    if days < 1 or per_day < 1:
        raise PlanError("--days and --per-day must be at least 1", "bad_numbers")
    if not inspectors:
        raise PlanError("no inspector to plan for: give the inspector role to someone", "no_inspectors")
    first_allowed = today + timedelta(days=rules.notice_days)
    if on < first_allowed:
        raise PlanError(
            f"the first day must be at least {rules.notice_days} days ahead, on {first_allowed} or later",
            "notice_too_short",
        )
    dates = [on + timedelta(days=n) for n in range(days)]
    result = PlanResult()
    with transaction.atomic():
        booked = Counter(
            Inspection.objects.filter(planned_on__in=dates, status__in=OPEN).values_list(
                "planned_on", "inspector_id"
            )
        )
        room = {d: {i.pk: per_day - booked[(d, i.pk)] for i in inspectors} for d in dates}
        due = sorted(
            _candidates(today, dates[-1], rules),
            key=lambda c: (c.reason != Reason.SILENT, c.due_on, c.meter.pk),
        )
        placed: dict[date, list[_Due]] = defaultdict(list)
        for candidate in due:
            day = next(
                (
                    d
                    for d in dates
                    if d >= candidate.earliest
                    and (candidate.latest is None or d <= candidate.latest)
                    and sum(room[d].values()) > len(placed[d])
                ),
                None,
            )
            if day is None:
                result.left += 1
            else:
                placed[day].append(candidate)
        for day in dates:
            items = sorted(placed[day], key=lambda c: address_key(c.meter.account.address))
            rooms = [(i, room[day][i.pk]) for i in inspectors]
            runs = _cut(items, rooms)
            for inspector, run in runs:
                start = booked[(day, inspector.pk)]
                for n, item in enumerate(run):
                    hours = WINDOWS[0] if n < math.ceil(len(run) / 2) else WINDOWS[1]
                    result.planned.append(
                        Inspection.objects.create(
                            meter=item.meter,
                            planned_on=day,
                            hours_from=hours[0],
                            hours_to=hours[1],
                            reason=item.reason,
                            inspector=inspector,
                            route_order=start + n + 1,
                            street=street_of(item.meter.account.address)[:200],
                        )
                    )
                    if item.reason == Reason.SILENT:
                        result.silent += 1
                    else:
                        result.annual += 1
            result.left += len(items) - sum(len(run) for _i, run in runs)
    return result


def _events(inspections: Sequence[Inspection]) -> Iterator[tuple[int, Event]]:
    by_account: dict[int, list[Inspection]] = defaultdict(list)
    for inspection in inspections:
        by_account[inspection.meter.account_id].append(inspection)
    links = (
        AccountLink.objects.filter(
            account_id__in=list(by_account),
            user__is_active=True,
            user__email_verified_at__isnull=False,
            account__closed_on__isnull=True,
        )
        .order_by("user_id", "account_id")
        .values_list("user_id", "account_id", "account__number", "user__email", "user__language")
    )
    for user_id, account_id, number, email, language in links:
        for inspection in by_account[account_id]:
            values = {
                "number": number,
                "serial": inspection.meter.serial,
                "on": inspection.planned_on,
                "hours": inspection.hours,
            }
            yield inspection.pk, Event(user_id, account_id, str(inspection.pk), email, language, values)


def inspections_notify(*, today: date | None = None) -> tuple[int, Prepared]:
    """Store the notices of the planned inspections still ahead (not those asked for) and mark
    them notified; an inspection of an account with no login stays planned (a letter by post is
    not made here). The number marked, and what ``notices_store`` did."""
    today = today or utility_now().date()
    planned = list(
        Inspection.objects.filter(status=Status.PLANNED, planned_on__gt=today)
        .exclude(reason=Reason.REQUESTED)  # agreed with the household when it asked
        .select_related("meter")
        .order_by("pk")
    )
    pairs = list(_events(planned))
    with transaction.atomic():
        prepared = notices_store(Topic.INSPECTION_SCHEDULED, (event for _pk, event in pairs))
        told = {pk for pk, _event in pairs}
        marked = Inspection.objects.filter(pk__in=told, status=Status.PLANNED).update(
            status=Status.NOTIFIED, notified_at=timezone.now()
        )
    return marked, prepared


def inspections_by_post(*, today: date | None = None) -> list[Inspection]:
    """The planned inspections still ahead (not those asked for) of households no notice can reach:
    no active login with a confirmed e-mail. The utility tells them by a letter by post."""
    today = today or utility_now().date()
    reachable = AccountLink.objects.filter(
        account_id=OuterRef("meter__account_id"),
        user__is_active=True,
        user__email_verified_at__isnull=False,
    )
    return list(
        Inspection.objects.filter(status=Status.PLANNED, planned_on__gt=today)
        .exclude(reason=Reason.REQUESTED)
        .exclude(Exists(reachable))
        .select_related("meter__account")
        .order_by("planned_on", "meter__account__address", "pk")
    )


def inspection_values(inspection: Inspection) -> dict[str, object]:
    """What the words of an inspection's notice need (``notify``'s ``inspection_scheduled``)."""
    return {
        "number": inspection.meter.account.number,
        "serial": inspection.meter.serial,
        "on": inspection.planned_on,
        "hours": inspection.hours,
    }


def inspection_letter(inspection: Inspection) -> str:
    """The words of the letter by post: the notice's, in Russian as a letter is printed."""
    from django.utils import translation

    from meterdesk.notify.prepare import _words

    with translation.override("ru"):
        return _words(Topic.INSPECTION_SCHEDULED, inspection_values(inspection))[1]


def inspections_posted(pks: Sequence[int], *, today: date | None = None) -> int:
    """Mark as notified those of ``pks`` still waiting for a letter (``inspections_by_post``): their
    letters were posted now. The number marked (a second call marks none)."""
    waiting = {i.pk for i in inspections_by_post(today=today)} & set(pks)
    return Inspection.objects.filter(pk__in=waiting, status=Status.PLANNED).update(
        status=Status.NOTIFIED, notified_at=timezone.now()
    )
