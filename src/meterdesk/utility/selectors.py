"""Reads of the utility's settings."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from meterdesk.domain.window import ReadingWindow
from meterdesk.utility.models import UtilitySettings


def utility_get() -> UtilitySettings:
    """The utility's settings (the defaults of DOMAIN.md until someone changes them)."""
    obj = UtilitySettings.objects.order_by("pk").first()
    if obj is None:
        obj, _ = UtilitySettings.objects.get_or_create(pk=1)
    return obj


def utility_zone(utility: UtilitySettings | None = None) -> tzinfo:
    return ZoneInfo((utility or utility_get()).time_zone)


def utility_now(utility: UtilitySettings | None = None, now: datetime | None = None) -> datetime:
    """The current moment in the utility's time zone."""
    return (now or timezone.now()).astimezone(utility_zone(utility))


def reading_window_get(utility: UtilitySettings | None = None) -> ReadingWindow:
    """The submission window: METERDESK_READING_WINDOW if set, else the utility's setting."""
    spec = settings.METERDESK_READING_WINDOW
    if spec:
        return ReadingWindow.parse(spec)
    utility = utility or utility_get()
    return ReadingWindow(utility.window_start_day, utility.window_end_day)
