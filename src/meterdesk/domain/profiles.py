"""Rules profiles: every number of the billing rules, as data.

A profile is a JSON file (``domain/profiles/<code>.json``, or any directory given to
``profile_load``); adding a region's profile needs no code change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).with_name("profiles")
CLOSED_MONTH_REFUSE = "refuse"
CLOSED_MONTH_NEXT = "next_month"


class ProfileError(ValueError):
    """A rules profile is missing or malformed."""


@dataclass(frozen=True)
class RateCap:
    start: date
    end: date
    max_percent: Decimal


@dataclass(frozen=True)
class PenaltyRules:
    grace_days: int
    first_divisor: int
    second_from_day: int
    second_divisor: int
    rate_caps: tuple[RateCap, ...]
    moratoria: tuple[tuple[date, date], ...]


@dataclass(frozen=True)
class DebtNoticeRules:
    """Decree 354 pp. 117–119: a debt over ``threshold_months`` months' charges is warned of; unpaid
    ``pay_within_days`` after the warning's delivery, supply may be restricted, and
    ``suspend_after_days`` later suspended."""

    threshold_months: int = 2
    pay_within_days: int = 20
    suspend_after_days: int = 10


@dataclass(frozen=True)
class InspectionRules:
    """Decree 354 pp. 82–85: each meter checked at least every ``every_months`` and not more often
    than every ``min_months``; a meter silent for ``silent_months`` checked within
    ``silent_within_days``; the household told ``notice_days`` ahead; after ``refusals_act`` refusals
    of access in a row the utility may bill by the average, then the norm (p.85, pp.59–60)."""

    every_months: int = 12
    min_months: int = 3
    silent_months: int = 6
    silent_within_days: int = 15
    notice_days: int = 14
    refusals_act: int = 2


@dataclass(frozen=True)
class RulesProfile:
    code: str
    title: str
    missing_average_periods: int
    failed_average_periods: int
    average_min_months: int
    average_min_months_young: int
    no_meter_coefficient: Decimal
    window: tuple[int, int]
    due_day: int
    penalty: PenaltyRules
    #: A reading given for a month that is already closed: "refuse" it (month_closed), or
    #: "next_month": store it for the next open month (docs/readings.md).
    closed_month_readings: str = "refuse"
    debt_notice: DebtNoticeRules = DebtNoticeRules()
    #: A change in the number of residents reported within this many working days counts from the
    #: day it happened; reported later, from the day it was reported.
    residents_report_days: int = 5
    inspections: InspectionRules = InspectionRules()


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ProfileError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc


def profile_parse(data: dict[str, Any]) -> RulesProfile:
    """Build a profile from its JSON data, checking every field."""
    try:
        pen = data["penalty"]
        profile = RulesProfile(
            code=str(data["code"]),
            title=str(data.get("title", data["code"])),
            missing_average_periods=int(data["missing_average_periods"]),
            failed_average_periods=int(data["failed_average_periods"]),
            average_min_months=int(data["average_min_months"]),
            average_min_months_young=int(data["average_min_months_young"]),
            no_meter_coefficient=Decimal(str(data["no_meter_coefficient"])),
            window=(int(data["window"][0]), int(data["window"][1])),
            due_day=int(data["due_day"]),
            penalty=PenaltyRules(
                grace_days=int(pen["grace_days"]),
                first_divisor=int(pen["first_divisor"]),
                second_from_day=int(pen["second_from_day"]),
                second_divisor=int(pen["second_divisor"]),
                rate_caps=tuple(
                    RateCap(
                        _date(c["from"], "rate_caps"),
                        _date(c["to"], "rate_caps"),
                        Decimal(str(c["max_percent"])),
                    )
                    for c in pen.get("rate_caps", [])
                ),
                moratoria=tuple(
                    (_date(m["from"], "moratoria"), _date(m["to"], "moratoria"))
                    for m in pen.get("moratoria", [])
                ),
            ),
            closed_month_readings=str(data.get("closed_month_readings", CLOSED_MONTH_REFUSE)),
            debt_notice=DebtNoticeRules(**{k: int(v) for k, v in data.get("debt_notice", {}).items()}),
            residents_report_days=int(data.get("residents_report_days", 5)),
            inspections=InspectionRules(**{k: int(v) for k, v in data.get("inspections", {}).items()}),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ProfileError(f"rules profile: missing or malformed field {exc}") from exc
    if profile.missing_average_periods < 0 or profile.failed_average_periods < 0:
        raise ProfileError("average periods cannot be negative")
    if not 1 <= profile.average_min_months_young <= profile.average_min_months:
        raise ProfileError("average_min_months_young must be between 1 and average_min_months")
    if not 1 <= profile.due_day <= 28:
        raise ProfileError("due_day must be between 1 and 28")
    if profile.residents_report_days < 1:
        raise ProfileError("residents_report_days must be at least 1")
    debt = profile.debt_notice
    if min(debt.threshold_months, debt.pay_within_days, debt.suspend_after_days) < 1:
        raise ProfileError("debt_notice: every figure must be at least 1")
    rules = profile.inspections
    if min(vars(rules).values()) < 1 or rules.min_months >= rules.every_months:
        raise ProfileError("inspections: every figure at least 1, and min_months below every_months")
    if profile.closed_month_readings not in (CLOSED_MONTH_REFUSE, CLOSED_MONTH_NEXT):
        raise ProfileError(
            f"closed_month_readings must be {CLOSED_MONTH_REFUSE} or {CLOSED_MONTH_NEXT}, "
            f"got {profile.closed_month_readings!r}"
        )
    return profile


@cache
def profile_load(code: str, directory: Path = PROFILE_DIR) -> RulesProfile:
    """The profile ``code`` from ``directory``."""
    path = directory / f"{code}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.json")))
        raise ProfileError(f"unknown rules profile {code!r} (known: {known})")
    return profile_parse(json.loads(path.read_text(encoding="utf-8")))


def profile_codes(directory: Path = PROFILE_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.json"))
