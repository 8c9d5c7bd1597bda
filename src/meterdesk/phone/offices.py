"""The customer offices as of a day: each office's latest version starting on or before it
(``OfficeVersion``), or the office's own row before its first version."""

from __future__ import annotations

import copy
from datetime import date

from meterdesk.phone.models import Office, OfficeVersion

#: The values an office's version carries (the rest of ``Office`` is its identity).
OFFICE_FIELDS = ("name", "address", "latitude", "longitude", "hours_ru", "hours_en", "active")


def office_on(office: Office, day: date, versions: list[OfficeVersion] | None = None) -> Office:
    """A copy of ``office`` with the values of its version valid on ``day``."""
    if versions is None:
        versions = list(office.versions.filter(valid_from__lte=day).order_by("valid_from"))
    shown = copy.copy(office)
    valid = [v for v in versions if v.office_id == office.pk and v.valid_from <= day]
    if valid:
        latest = max(valid, key=lambda v: v.valid_from)
        for name in OFFICE_FIELDS:
            setattr(shown, name, getattr(latest, name))
    return shown


def offices_on(day: date, *, active_only: bool = False) -> list[Office]:
    """Every office as of ``day`` (only those open to the public then, with ``active_only``), by name."""
    versions = list(OfficeVersion.objects.filter(valid_from__lte=day))
    offices = [office_on(o, day, versions) for o in Office.objects.order_by("pk")]
    if active_only:
        offices = [o for o in offices if o.active]
    return sorted(offices, key=lambda o: (o.name, o.pk))


def office_versions(office: Office) -> list[OfficeVersion]:
    """The versions of an office, newest first."""
    return list(office.versions.order_by("-valid_from"))
