"""Changes to the reference data from the back office: each change is a new version from a date.

Nothing is edited or deleted: a new tariff (or a new table of norms) starts on ``valid_from``; the
version in force before it gets its end (``valid_to``, the day before), and a version that starts
later still ends the new one. Billing and the channels already read the version in force on the
day or month they price (``billing.pricing``, ``tariffs.selectors``); the caches of the reference
data follow by the triggers of ``utility.ReferenceStamp``.

Billing prices a whole month at once, so versions start on the first day of a month. A change that
starts in or before a month already closed (``billing.BillingRun``) does not alter the closed bills
by itself (a rebill does, with the cause "prices corrected"); it says so and is refused unless the
member of staff may close months (the billing role), confirms it, and gives a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils.translation import gettext as _

from meterdesk.backoffice.audit import reference_change_record
from meterdesk.backoffice.roles import permission
from meterdesk.billing.messages import month_name
from meterdesk.billing.models import BillingRun
from meterdesk.customers.models import User
from meterdesk.domain.profiles import profile_codes
from meterdesk.phone.models import Office, OfficeVersion
from meterdesk.phone.offices import OFFICE_FIELDS, office_on
from meterdesk.tariffs.models import KIND_ZONES, Norm, Tariff, TariffBand, TariffKind, TariffPrice
from meterdesk.utility.models import BankDetailsVersion, ReadingWindowVersion, RulesProfileVersion
from meterdesk.utility.selectors import BANK_FIELDS, bank_details_get, reading_window_get, rules_profile_get


class ReferenceError(ValueError):
    """A change refused: the message says why; nothing was changed."""


class ClosedMonth(ReferenceError):
    """The change starts in or before a closed month and was not confirmed (or may not be)."""


def closed_until() -> date | None:
    """The last month closed (a run of the monthly close exists for it), None if none."""
    return BillingRun.objects.aggregate(last=Max("period"))["last"]


@dataclass(frozen=True)
class Change:
    """What the form asks of a change, whatever its kind."""

    valid_from: date
    reason: str
    confirm_closed: bool = False


def closed_month_check(user: User, change: Change) -> date | None:
    """The last closed month if ``change`` starts in or before it (and the change may go on);
    ``ClosedMonth`` if it may not; None if it touches no closed month."""
    last = closed_until()
    if last is None or change.valid_from >= _next_month(last):
        return None
    if not user.has_perm(permission("billing_close")):
        raise ClosedMonth(
            _(
                "This change starts in %(month)s or earlier, and %(month)s is already closed: only "
                "the billing role may change the reference data of a closed month."
            )
            % {"month": month_name(last)}
        )
    if not change.confirm_closed:
        raise ClosedMonth(
            _(
                "This change starts in %(month)s or earlier, and %(month)s is already closed. Its bills "
                "stay as they are until the accounts are rebilled. Tick the confirmation to go on."
            )
            % {"month": month_name(last)}
        )
    return last


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _common_checks(change: Change) -> None:
    if change.valid_from.day != 1:
        raise ReferenceError(
            _("A version starts on the first day of a month: billing prices a whole month at once.")
        )
    if not change.reason.strip():
        raise ReferenceError(_("Say why the reference data changes: it is recorded."))


def tariff_versions(region: str, category: str, kind: str) -> list[Tariff]:
    """Every version of a tariff, newest first, with its prices and bands."""
    return list(
        Tariff.objects.filter(region=region, category=category, kind=kind)
        .order_by("-valid_from")
        .prefetch_related("prices", "bands")
    )


def tariff_version_add(
    *,
    user: User,
    region: str,
    category: str,
    kind: str,
    prices: Mapping[tuple[int, int], Decimal],
    change: Change,
) -> Tariff:
    """A new version of the tariff (region, category, kind) from ``change.valid_from``, with the
    bands of the version it follows and ``prices`` for every (zone, band) of them."""
    _common_checks(change)
    closed = closed_month_check(user, change)
    with transaction.atomic():
        versions = list(
            Tariff.objects.select_for_update()
            .filter(region=region, category=category, kind=kind)
            .order_by("valid_from")
        )
        if any(v.valid_from == change.valid_from for v in versions):
            raise ReferenceError(
                _("A version from %(day)s exists already: history is not edited; choose another date.")
                % {"day": change.valid_from.strftime("%d.%m.%Y")}
            )
        before = [v for v in versions if v.valid_from < change.valid_from]
        after = [v for v in versions if v.valid_from > change.valid_from]
        model = before[-1] if before else (after[0] if after else None)
        bands = list(TariffBand.objects.filter(tariff=model)) if model is not None else []
        zones = KIND_ZONES[TariffKind(kind)]
        wanted = {(z, b.band) for z in range(1, zones + 1) for b in bands} or {
            (z, 1) for z in range(1, zones + 1)
        }
        if set(prices) != wanted or any(p is None or p < 0 for p in prices.values()):
            raise ReferenceError(_("Give a price (0 or more) for every zone and band."))
        tariff = Tariff.objects.create(
            region=region,
            category=category,
            kind=kind,
            valid_from=change.valid_from,
            valid_to=after[0].valid_from - timedelta(days=1) if after else None,
        )
        for band in bands:
            TariffBand.objects.create(tariff=tariff, band=band.band, upper_kwh=band.upper_kwh)
        for (zone, band_number), price in sorted(prices.items()):
            TariffPrice.objects.create(tariff=tariff, zone=zone, band=band_number, price=price)
        old = {(p.zone, p.band): p.price for p in TariffPrice.objects.filter(tariff=model)}
        extra = {"valid_from": change.valid_from.isoformat(), "closed_month": _iso(closed)}
        reference_change_record(
            actor=user,
            instance=tariff,
            action=LogEntry.Action.CREATE,
            changes={
                f"T{zone} band {band_number}": (old.get((zone, band_number)), price)
                for (zone, band_number), price in sorted(prices.items())
            },
            reason=change.reason.strip(),
            extra=extra,
        )
        if before and (before[-1].valid_to is None or before[-1].valid_to >= change.valid_from):
            _end(user, before[-1], change, extra)
    return tariff


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _end(user: User, version: Tariff | Norm, change: Change, extra: Mapping[str, str | None]) -> None:
    """End ``version`` the day before ``change`` starts (recorded)."""
    end = change.valid_from - timedelta(days=1)
    reference_change_record(
        actor=user,
        instance=version,
        action=LogEntry.Action.UPDATE,
        changes={"valid_to": (version.valid_to, end)},
        reason=change.reason.strip(),
        extra=dict(extra),
    )
    version.valid_to = end
    version.save(update_fields=["valid_to"])


def norm_table(region: str, category: str, on: date) -> list[Norm]:
    """The norms of a category in force on ``on``, by rooms and residents."""
    return list(
        Norm.objects.filter(region=region, category=category, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("rooms", "residents")
    )


def norm_starts(region: str, category: str) -> list[date]:
    """The days the norms of a category changed, newest first."""
    return list(
        Norm.objects.filter(region=region, category=category)
        .order_by("-valid_from")
        .values_list("valid_from", flat=True)
        .distinct()
    )


def norm_version_add(
    *,
    user: User,
    region: str,
    category: str,
    values: Mapping[tuple[int, int], Decimal],
    change: Change,
) -> list[Norm]:
    """A new table of norms of a category from ``change.valid_from``: kWh per resident for each
    (rooms, residents) of the table in force the day before (or any cells, for the first)."""
    _common_checks(change)
    closed = closed_month_check(user, change)
    if not values or any(v is None or v < 0 for v in values.values()):
        raise ReferenceError(_("Give a norm (0 or more) for every number of rooms and residents."))
    with transaction.atomic():
        rows = Norm.objects.select_for_update().filter(region=region, category=category)
        if rows.filter(valid_from=change.valid_from).exists():
            raise ReferenceError(
                _("A version from %(day)s exists already: history is not edited; choose another date.")
                % {"day": change.valid_from.strftime("%d.%m.%Y")}
            )
        current = norm_table(region, category, change.valid_from - timedelta(days=1))
        if current and set(values) != {(n.rooms, n.residents) for n in current}:
            raise ReferenceError(_("Give a norm (0 or more) for every number of rooms and residents."))
        later = (
            rows.filter(valid_from__gt=change.valid_from)
            .order_by("valid_from")
            .values_list("valid_from", flat=True)
            .first()
        )
        valid_to = later - timedelta(days=1) if later else None
        old = {(n.rooms, n.residents): n.kwh_per_person for n in current}
        extra = {"valid_from": change.valid_from.isoformat(), "closed_month": _iso(closed)}
        made = []
        for (rooms, residents), value in sorted(values.items()):
            norm = Norm.objects.create(
                region=region,
                category=category,
                rooms=rooms,
                residents=residents,
                kwh_per_person=value,
                valid_from=change.valid_from,
                valid_to=valid_to,
            )
            made.append(norm)
            reference_change_record(
                actor=user,
                instance=norm,
                action=LogEntry.Action.CREATE,
                changes={"kwh_per_person": (old.get((rooms, residents)), value)},
                reason=change.reason.strip(),
                extra=extra,
            )
        for norm in current:
            if norm.valid_to is None or norm.valid_to >= change.valid_from:
                _end(user, norm, change, extra)
    return made


def window_version_add(*, user: User, start_day: int, end_day: int, change: Change) -> ReadingWindowVersion:
    """A new reading window from the month of ``change.valid_from`` (until a later version)."""
    _common_checks(change)
    if not (1 <= start_day <= end_day <= 31):
        raise ReferenceError(_("The window opens on a day from 1 to 31 and closes on that day or later."))
    closed = closed_month_check(user, change)
    with transaction.atomic():
        if ReadingWindowVersion.objects.select_for_update().filter(valid_from=change.valid_from).exists():
            raise ReferenceError(
                _("A version from %(day)s exists already: history is not edited; choose another date.")
                % {"day": change.valid_from.strftime("%d.%m.%Y")}
            )
        before = reading_window_get(None, change.valid_from)
        version = ReadingWindowVersion.objects.create(
            valid_from=change.valid_from, start_day=start_day, end_day=end_day
        )
        reference_change_record(
            actor=user,
            instance=version,
            action=LogEntry.Action.CREATE,
            changes={
                "start_day": (before.start_day, start_day),
                "end_day": (before.end_day, end_day),
            },
            reason=change.reason.strip(),
            extra={"valid_from": change.valid_from.isoformat(), "closed_month": _iso(closed)},
        )
    return version


def bank_closed_month(valid_from: date) -> date | None:
    """The last closed month whose bill date (the 1st of the next month) the details from
    ``valid_from`` would reach; None if none. Its bills keep the details they were issued with."""
    last = closed_until()
    return last if last is not None and valid_from <= _next_month(last) else None


def bank_version_add(*, user: User, details: Mapping[str, str], change: Change) -> BankDetailsVersion:
    """New bank details of the payee from ``change.valid_from``: bills whose bill date is on or
    after it print them; the bills of closed months keep theirs (``documents.selectors``)."""
    _common_checks(change)
    values = {name: str(details.get(name) or "").strip() for name in BANK_FIELDS}
    version = BankDetailsVersion(valid_from=change.valid_from, **values)
    try:
        version.full_clean(exclude=["valid_from"])
    except ValidationError as error:
        raise ReferenceError(
            _("Give the bank's name, a BIC of 9 digits and accounts of 20 digits each.")
        ) from error
    if not all(values.values()):
        raise ReferenceError(_("Give the bank's name, a BIC of 9 digits and accounts of 20 digits each."))
    closed = bank_closed_month(change.valid_from)
    with transaction.atomic():
        if BankDetailsVersion.objects.select_for_update().filter(valid_from=change.valid_from).exists():
            raise ReferenceError(
                _("A version from %(day)s exists already: history is not edited; choose another date.")
                % {"day": change.valid_from.strftime("%d.%m.%Y")}
            )
        before = bank_details_get(change.valid_from)
        version.save()
        reference_change_record(
            actor=user,
            instance=version,
            action=LogEntry.Action.CREATE,
            changes={name: (before.get(name) or None, values[name]) for name in BANK_FIELDS},
            reason=change.reason.strip(),
            extra={"valid_from": change.valid_from.isoformat(), "closed_month": _iso(closed)},
        )
    return version


def bank_versions() -> list[BankDetailsVersion]:
    return list(BankDetailsVersion.objects.order_by("-valid_from"))


def office_version_add(
    *, user: User, office: Office, values: Mapping[str, object], change: Change
) -> OfficeVersion:
    """An office's new name, address, place, hours or opening from ``change.valid_from`` (any day:
    offices are not billed, so no month is closed for them)."""
    if not change.reason.strip():
        raise ReferenceError(_("Say why the reference data changes: it is recorded."))
    data = {name: values.get(name) for name in OFFICE_FIELDS}
    data["active"] = bool(data["active"])
    for name in ("name", "address", "hours_ru", "hours_en"):
        data[name] = str(data[name] or "").strip()
    latitude, longitude = data["latitude"], data["longitude"]
    if not all(data[name] for name in ("name", "address", "hours_ru", "hours_en")):
        raise ReferenceError(_("Give the office's name, address and hours in Russian and English."))
    if not (
        isinstance(latitude, Decimal)
        and isinstance(longitude, Decimal)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    ):
        raise ReferenceError(_("Give the latitude (-90 to 90) and the longitude (-180 to 180)."))
    with transaction.atomic():
        office = Office.objects.select_for_update().get(pk=office.pk)
        if office.versions.filter(valid_from=change.valid_from).exists():
            raise ReferenceError(
                _("A version from %(day)s exists already: history is not edited; choose another date.")
                % {"day": change.valid_from.strftime("%d.%m.%Y")}
            )
        before = office_on(office, change.valid_from)
        version = OfficeVersion.objects.create(office=office, valid_from=change.valid_from, **data)
        reference_change_record(
            actor=user,
            instance=version,
            action=LogEntry.Action.CREATE,
            changes={
                name: (getattr(before, name), data[name])
                for name in OFFICE_FIELDS
                if getattr(before, name) != data[name]
            },
            reason=change.reason.strip(),
            extra={"valid_from": change.valid_from.isoformat(), "office": office.pk},
        )
    return version


def profile_version_add(*, user: User, code: str, change: Change) -> RulesProfileVersion:
    """The rules profile ``code`` from the month of ``change.valid_from`` (until a later version).
    A closed month keeps the profile its close recorded, rebills included."""
    _common_checks(change)
    if code not in profile_codes():
        raise ReferenceError(
            _("Unknown rules profile %(code)s (known: %(known)s).")
            % {"code": code, "known": ", ".join(profile_codes())}
        )
    closed = closed_month_check(user, change)
    with transaction.atomic():
        if RulesProfileVersion.objects.select_for_update().filter(valid_from=change.valid_from).exists():
            raise ReferenceError(
                _("A version from %(day)s exists already: history is not edited; choose another date.")
                % {"day": change.valid_from.strftime("%d.%m.%Y")}
            )
        before = rules_profile_get(None, change.valid_from)
        version = RulesProfileVersion.objects.create(valid_from=change.valid_from, code=code)
        reference_change_record(
            actor=user,
            instance=version,
            action=LogEntry.Action.CREATE,
            changes={"code": (before, code)},
            reason=change.reason.strip(),
            extra={"valid_from": change.valid_from.isoformat(), "closed_month": _iso(closed)},
        )
    return version


def reference_history(limit: int = 100) -> list[LogEntry]:
    """The latest changes of tariffs, norms and the reading window made in the back office, newest
    first."""
    from django.contrib.contenttypes.models import ContentType

    kinds = ContentType.objects.get_for_models(
        Tariff, Norm, ReadingWindowVersion, BankDetailsVersion, OfficeVersion, RulesProfileVersion
    )
    return list(
        LogEntry.objects.filter(content_type__in=kinds.values())
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")[:limit]
    )
