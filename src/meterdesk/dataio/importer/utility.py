"""utility.csv: the utility's settings, one row. The given settings are set (the one section an
import changes rather than adds to); the sections after it use its region and time zone."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import ImportRun, Section, Spec
from meterdesk.dataio.importer.records import Records
from meterdesk.domain.profiles import profile_codes
from meterdesk.utility.models import UtilitySettings


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise f.FieldError("not a known time zone, e.g. Europe/Moscow", "unknown_time_zone") from exc
    return value


def _email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError as exc:
        raise f.FieldError("not an e-mail address", "not_an_email") from exc
    return value


class Utility(Section):
    name = "utility"

    def __init__(self, run: ImportRun, records: Records) -> None:
        super().__init__(run, records)
        self.changes: dict[str, Any] = {}  # the settings that differ from the stored ones

    def check(self) -> None:
        run = self.run
        spec: Spec = {
            "name": (f.text(200), False),
            "short_name": (f.text(60), False),
            "time_zone": (_time_zone, False),
            "window_start_day": (f.integer(1, 31), False),
            "window_end_day": (f.integer(1, 31), False),
            "rules_profile": (f.choice(profile_codes()), False),
            "tariff_region": (f.text(40), False),
            "address": (f.text(300), False),
            "phone": (f.text(40), False),
            "support_email": (_email, False),
            "inn": (f.text(12, r"\d{10}|\d{12}", "an INN has 10 or 12 digits"), False),
            "kpp": (f.text(9, r"\d{9}", "a KPP has 9 digits"), False),
            "bank_name": (f.text(200), False),
            "bic": (f.text(9, r"\d{9}", "a BIC has 9 digits"), False),
            "settlement_account": (f.text(20, r"\d{20}", "a bank account number has 20 digits"), False),
            "correspondent_account": (f.text(20, r"\d{20}", "a bank account number has 20 digits"), False),
        }
        rows = list(run.rows("utility", spec))
        if len(rows) > 1:
            run.problem(
                "utility",
                rows[1][0],
                "",
                "the utility's settings are one row; found more",
                code="more_than_one_row",
            )
        if not rows:
            return
        row, values = rows[0]
        parsed, ok = run.clean("utility", row, values, spec)
        start = parsed.get("window_start_day", run.utility.window_start_day)
        end = parsed.get("window_end_day", run.utility.window_end_day)
        if start > end:
            run.problem(
                "utility",
                row,
                "window_end_day",
                f"the window closes before it opens (day {start})",
                end,
                code="window_closes_before_it_opens",
            )
            ok = False
        if not ok:
            return
        self.changes = {k: v for k, v in parsed.items() if getattr(run.utility, k) != v}
        run.region = parsed.get("tariff_region", run.region)
        run.zone = ZoneInfo(parsed.get("time_zone", run.utility.time_zone))

    def load(self) -> None:
        utility = UtilitySettings.objects.order_by("pk").first() or UtilitySettings()
        for name, value in self.changes.items():
            setattr(utility, name, value)
        if self.changes or utility.pk is None:
            utility.save()
        self.result.updated = len(self.changes)
        self.result.extra["fields"] = len(self.changes)
