"""Reads of the utility's settings, and the per-process cache of the reference data.

The reference data (the utility's settings and reading windows, tariffs with their prices and
bands, consumption norms) changes a few times a year but is read by every reading submitted. Each process keeps a
copy in memory and, on every use, reads one value to know whether the copy is still current:
``utility_referencestamp``, a row that database triggers change in the same transaction as any
insert, update or delete of those tables (see the migration ``utility.0003_reference_stamp``). So a
change by the admin, the import, another process or plain SQL is seen by the very next request of
every process, never a moment later (no time-to-live), and a transaction sees its own changes.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from meterdesk.domain.window import ReadingWindow
from meterdesk.utility.models import (
    BankDetailsVersion,
    ReadingWindowVersion,
    RulesProfileVersion,
    UtilitySettings,
)

T = TypeVar("T")

_STAMP_SQL = "SELECT stamp FROM utility_referencestamp WHERE name = 'reference'"
#: The stamp as a scalar subquery, for a hot path that reads it together with its own rows (one
#: statement less) and hands it to ``reference_get(stamp=…)``.
REFERENCE_STAMP_SUBQUERY = f"({_STAMP_SQL})"
_ASK: Any = object()


@dataclass
class Reference:
    """The reference data as of one stamp: the utility's settings, and whatever else was built
    from the reference tables at that stamp (``reference_cached``). Shared by the threads of a
    process: treat it as read-only (``utility_get`` hands out copies of the settings)."""

    stamp: int | None
    utility: UtilitySettings
    _built: dict[Any, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, key: Any, build: Callable[[], T]) -> T:
        """``build()``, computed once for this stamp (per key)."""
        try:
            return self._built[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = build()
        if self.stamp is not None:
            with self._lock:
                self._built.setdefault(key, value)
        return value


_current: Reference | None = None


def reference_stamp() -> int | None:
    """The current stamp of the reference data (one indexed read); None when the row is absent
    (a table emptied by a test's flush): then nothing is cached."""
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _utility_load() -> UtilitySettings:
    obj = UtilitySettings.objects.order_by("pk").first()
    if obj is None:
        obj, _ = UtilitySettings.objects.get_or_create(pk=1)
    return obj


def reference_get(*, stamp: int | None = _ASK) -> Reference:
    """The reference data of this moment: this process's copy if the stamp has not moved, else a
    fresh one (the settings are read at once; the rest is built on demand). ``stamp``: the stamp
    as the caller has just read it in its own transaction (``REFERENCE_STAMP_SUBQUERY``), to save
    the read."""
    global _current
    if stamp is _ASK:
        stamp = reference_stamp()
    elif stamp is not None:
        stamp = int(stamp)
    current = _current
    if current is not None and stamp is not None and current.stamp == stamp:
        return current
    fresh = Reference(stamp, _utility_load())
    if stamp is None:
        return fresh
    # The settings row may have been created just now (which moves the stamp): read it again.
    again = reference_stamp()
    if again != stamp:
        return Reference(None, fresh.utility)
    _current = fresh
    return fresh


def reference_peek() -> Reference:
    """This process's copy of the reference data without checking that it is current (read once
    if there is none): for what does not change in practice, such as the utility's time zone."""
    current = _current
    return current if current is not None else reference_get()


def reference_forget() -> None:
    """Drop this process's copy (the next use reads everything again)."""
    global _current
    _current = None


def utility_get(reference: Reference | None = None) -> UtilitySettings:
    """The utility's settings (the defaults of DOMAIN.md until someone changes them): a copy, so
    that a caller may change and save it."""
    return copy.copy((reference or reference_get()).utility)


def utility_zone(utility: UtilitySettings | None = None) -> tzinfo:
    return ZoneInfo((utility or reference_get().utility).time_zone)


def utility_now(utility: UtilitySettings | None = None, now: datetime | None = None) -> datetime:
    """The current moment in the utility's time zone."""
    return (now or timezone.now()).astimezone(utility_zone(utility))


def _valid_on(versions: list[tuple[date, T]], period: date | None, utility: UtilitySettings) -> T | None:
    """The value of the latest of ``versions`` (ordered by start) that starts on or before the month
    ``period`` (default: this month); None before the first."""
    if not versions:
        return None
    month = (period or utility_now(utility).date()).replace(day=1)
    for start, value in reversed(versions):
        if start <= month:
            return value
    return None


def reading_window_get(utility: UtilitySettings | None = None, period: date | None = None) -> ReadingWindow:
    """The submission window of the month ``period`` (default: this month): METERDESK_READING_WINDOW
    if set, else the latest ``ReadingWindowVersion`` that starts on or before the month, else the
    utility's setting. With ``utility`` given, the versions come from this process's copy of the
    reference data (the caller has just made sure it is current)."""
    spec = settings.METERDESK_READING_WINDOW
    if spec:
        return ReadingWindow.parse(spec)
    reference = reference_peek() if utility is not None else reference_get()
    utility = utility or reference.utility
    found = _valid_on(reference.cached(("reading_windows",), _window_versions), period, utility)
    return found if found is not None else ReadingWindow(utility.window_start_day, utility.window_end_day)


def _window_versions() -> list[tuple[date, ReadingWindow]]:
    rows = ReadingWindowVersion.objects.order_by("valid_from").values_list(
        "valid_from", "start_day", "end_day"
    )
    return [(start, ReadingWindow(first, last)) for start, first, last in rows]


#: The payee's bank details: the fields of ``UtilitySettings`` that ``BankDetailsVersion`` versions.
BANK_FIELDS = ("bank_name", "bic", "settlement_account", "correspondent_account")


def bank_details_get(
    day: date, *, known_at: datetime | None = None, utility: UtilitySettings | None = None
) -> dict[str, str]:
    """The payee's bank details valid on ``day``: the latest ``BankDetailsVersion`` starting on or
    before it (of those recorded by ``known_at``, when given); else the utility's settings."""
    reference = reference_get()
    versions: list[tuple[date, datetime, dict[str, str]]] = reference.cached(
        ("bank_details",), _bank_versions
    )
    for start, recorded, details in reversed(versions):
        if start <= day and (known_at is None or recorded <= known_at):
            return dict(details)
    utility = utility or reference.utility
    return {name: getattr(utility, name) for name in BANK_FIELDS}


def _bank_versions() -> list[tuple[date, datetime, dict[str, str]]]:
    rows = BankDetailsVersion.objects.order_by("valid_from").values("valid_from", "recorded_at", *BANK_FIELDS)
    return [
        (row["valid_from"], row["recorded_at"], {name: row[name] for name in BANK_FIELDS}) for row in rows
    ]


def utility_with_bank_details(
    day: date, *, known_at: datetime | None = None, utility: UtilitySettings | None = None
) -> UtilitySettings:
    """A copy of the utility's settings with the bank details valid on ``day`` (``bank_details_get``)."""
    copied = utility_get() if utility is None else copy.copy(utility)
    for name, value in bank_details_get(day, known_at=known_at, utility=copied).items():
        setattr(copied, name, value)
    return copied


def rules_profile_get(utility: UtilitySettings | None = None, period: date | None = None) -> str:
    """The code of the rules profile of the month ``period`` (default: this month): the latest
    ``RulesProfileVersion`` that starts on or before the month, else the utility's setting. With
    ``utility`` given, the versions come from this process's copy of the reference data (as
    ``reading_window_get``)."""
    reference = reference_peek() if utility is not None else reference_get()
    utility = utility or reference.utility
    found = _valid_on(reference.cached(("rules_profiles",), _profile_versions), period, utility)
    return found if found is not None else utility.rules_profile


def _profile_versions() -> list[tuple[date, str]]:
    return list(RulesProfileVersion.objects.order_by("valid_from").values_list("valid_from", "code"))
