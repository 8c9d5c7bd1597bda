"""meters.csv: meters, by account and serial, with their zones, digits and initial values. A stored
meter is never changed, but for its verification due date, which verifications.csv may move."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import (
    ACCOUNT_NUMBER,
    VALUE_MESSAGES,
    ImportRun,
    Section,
    Spec,
    chunks,
    differences,
)
from meterdesk.dataio.importer.records import AccountRec, MeterRec, Records
from meterdesk.domain import readings as rules
from meterdesk.metering.models import Meter, MeterStatus

VERIFICATION_YEARS = 16


class Meters(Section):
    name = "meters"

    def __init__(self, run: ImportRun, records: Records) -> None:
        super().__init__(run, records)
        # For verifications.csv: the due dates given (row, date), and the rows that give none
        # and leave it to the meter's verifications.
        self.given_dues: dict[tuple[str, str], tuple[int, date]] = {}
        self.due_pending: dict[tuple[str, str], int] = {}

    def check(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "serial": (f.text(40), True),
            "model": (f.text(100), False),
            "zones": (f.integer(1, 3), True),
            "digits": (f.integer(5, 7), True),
            "decimal_places": (f.integer(0, 3), False),
            "manufactured_on": (f.a_date, False),
            "installed_on": (f.a_date, True),
            "verification_due": (f.a_date, False),
            "status": (f.choice(MeterStatus.values), False),
            "removed_on": (f.a_date, False),
            "failed_on": (f.a_date, False),
            "initial_t1": (str, True),
            "initial_t2": (str, False),
            "initial_t3": (str, False),
        }
        parsed_rows: list[tuple[int, dict[str, Any], dict[str, str], bool]] = []
        for row, values in self.run.rows("meters", spec):
            parsed, ok = self.run.clean("meters", row, values, spec)
            parsed_rows.append((row, parsed, values, ok))
        numbers = {p["account"] for _r, p, _v, _ok in parsed_rows if "account" in p}
        self.records.accounts_resolve(numbers)
        self.records.meters_resolve(numbers)
        seen: dict[tuple[str, str], int] = {}
        already: list[tuple[MeterRec, MeterRec]] = []  # (from the file, stored)
        for row, parsed, values, ok in parsed_rows:
            key = (
                parsed.get("account", values.get("account", "")),
                parsed.get("serial", values.get("serial", "")),
            )
            if key in seen:
                self.run.problem(
                    "meters",
                    row,
                    "serial",
                    f"the same account and serial as row {seen[key]}",
                    key[1],
                    code="duplicate_meter",
                )
                continue
            seen[key] = row
            account = (
                self.records.account("meters", row, parsed.get("account")) if "account" in parsed else None
            )
            rec = self._row(row, parsed, values, ok, account)
            if rec is None:
                self.records.bad_meters.add(key)
                continue
            stored = self.records.meters.get(key)
            if stored is not None and stored.row == 0:
                already.append((rec, stored))
                continue
            self.records.meters[key] = rec
        for part in chunks(already):
            meters = Meter.objects.in_bulk([stored.db_id for _rec, stored in part])
            for rec, stored in part:
                new = dict(rec.new or {})
                if (rec.account.number, rec.serial) not in self.given_dues:
                    # Not given: the stored date may follow verifications since (verifications.csv).
                    new.pop("verification_due", None)
                changed = differences(meters[stored.db_id], new)
                if changed:
                    self.run.problem(
                        "meters",
                        rec.row,
                        "serial",
                        "this meter is already stored with other data ("
                        + "; ".join(changed)
                        + "); an import does not change stored meters",
                        rec.serial,
                        code="stored_with_other_data",
                    )
                    self.records.bad_meters.add((rec.account.number, rec.serial))
                else:
                    self.result.skipped += 1

    def _row(
        self,
        row: int,
        parsed: dict[str, Any],
        values: dict[str, str],
        ok: bool,
        account: AccountRec | None,
    ) -> MeterRec | None:
        def problem(column: str, message: str, value: Any = None, code: str = "") -> None:
            nonlocal ok
            self.run.problem("meters", row, column, message, value, code)
            ok = False

        installed = parsed.get("installed_on")
        for column in ("removed_on", "failed_on"):
            if installed is not None and column in parsed and parsed[column] < installed:
                problem(column, "before installed_on", values[column], code="before_installed")
        manufactured = parsed.get("manufactured_on")
        if manufactured is not None and installed is not None and installed < manufactured:
            problem(
                "installed_on", "before manufactured_on", values["installed_on"], code="before_manufactured"
            )
        due = parsed.get("verification_due")
        if due is not None and "account" in parsed and "serial" in parsed:
            self.given_dues[(parsed["account"], parsed["serial"])] = (row, due)
        if due is None and manufactured is not None:
            due = manufactured.replace(year=manufactured.year + VERIFICATION_YEARS)
        elif due is None and "verification_due" not in values:
            if "verifications" in self.run.ds.files and "account" in parsed and "serial" in parsed:
                self.due_pending[(parsed["account"], parsed["serial"])] = row  # from the history
            else:
                problem(
                    "verification_due",
                    "required (or give manufactured_on: then 16 years after it)",
                    code="required",
                )
        status = parsed.get("status")
        removed, failed = parsed.get("removed_on"), parsed.get("failed_on")
        if status is None:
            status = MeterStatus.REMOVED if removed else MeterStatus.FAILED if failed else MeterStatus.ACTIVE
        if "status" in parsed or "removed_on" in parsed or "failed_on" in parsed:
            if status == MeterStatus.REMOVED and removed is None and "removed_on" not in values:
                problem("removed_on", "required for a removed meter", code="required")
            if removed is not None and status != MeterStatus.REMOVED:
                problem(
                    "status", "removed_on is set: the status must be removed", status, code="status_mismatch"
                )
            if (
                status in (MeterStatus.FAILED, MeterStatus.LOST)
                and failed is None
                and "failed_on" not in values
            ):
                problem(
                    "failed_on",
                    f"required for a {status} meter (the day it was found {status})",
                    code="required",
                )
            if failed is not None and status == MeterStatus.ACTIVE:
                problem(
                    "status",
                    "failed_on is set: the status must be failed, lost or removed",
                    status,
                    code="status_mismatch",
                )
        initial: list[Decimal] = []
        shape: rules.MeterShape | None = None
        if {"zones", "digits"} <= parsed.keys():
            shape = rules.MeterShape(parsed["zones"], parsed["digits"], parsed.get("decimal_places", 0))
            for zone in (1, 2, 3):
                column = f"initial_t{zone}"
                raw = values.get(column)
                if zone > shape.zones:
                    if raw is not None:
                        problem(column, f"the meter has {shape.zones} zone(s)", raw, code="wrong_zone_count")
                    continue
                value, code = rules.parse_value(raw, shape)
                if value is None:
                    code = code or rules.NOT_A_NUMBER
                    message = VALUE_MESSAGES[code].format(
                        zones=shape.zones, places=shape.decimal_places, digits=shape.digits
                    )
                    if raw is not None or column != "initial_t1":  # a missing t1 is already reported
                        problem(column, message, raw, code)
                    continue
                initial.append(value)
        if not ok or account is None or shape is None or installed is None:
            return None
        padded = [*initial, None, None][:3]
        new = {
            "serial": parsed["serial"],
            "model_name": parsed.get("model", ""),
            "zones": shape.zones,
            "digits": shape.digits,
            "decimal_places": shape.decimal_places,
            "manufactured_on": manufactured,
            "installed_on": installed,
            "verification_due": due,
            "status": str(status),
            "removed_on": removed,
            "failed_on": failed,
            "initial_t1": padded[0],
            "initial_t2": padded[1],
            "initial_t3": padded[2],
        }
        return MeterRec(account, parsed["serial"], row, None, shape, installed, removed, tuple(initial), new)

    def load(self) -> None:
        new = [m for m in self.records.meters.values() if m.new is not None]
        done = 0
        for part in chunks(new, self.run.batch_size):
            objects = [Meter(account_id=m.account.db_id, **(m.new or {})) for m in part]
            created = Meter.objects.bulk_create(objects)
            if all(o.pk is not None for o in created):
                for rec, obj in zip(part, created, strict=True):
                    rec.db_id = obj.pk
            else:  # pragma: no cover - databases that cannot return ids from a bulk insert
                for rec in part:
                    rec.db_id = Meter.objects.get(account_id=rec.account.db_id, serial=rec.serial).pk
            for rec in part:
                rec.new = None
            done += len(part)
            self.run.progress("loaded {n} meters", done, False)
        self.result.created = len(new)
        self.run.progress("loaded {n} meters", done, True)
