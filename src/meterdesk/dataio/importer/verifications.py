"""verifications.csv: each meter's verification history, one per meter and day. A stored one is
never changed. A meter's ``verification_due`` follows its latest verification: the next due date
of a passed one; the day before a failed one (the meter counts as failed from that day on)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import ACCOUNT_NUMBER, DB_CHUNK, Adding, ImportRun, Spec
from meterdesk.dataio.importer.meters import Meters
from meterdesk.dataio.importer.records import MeterRec, Records, db_id
from meterdesk.metering.models import Meter, MeterVerification, VerificationResult

_FIELDS = ("result", "next_due", "verified_by", "note")


@dataclass(slots=True)
class Verification:
    meter: MeterRec
    row: int
    verified_on: date
    data: dict[str, Any]  # the model's fields but the meter and the date

    @property
    def due(self) -> date:
        """The meter's verification due date when this is its latest verification."""
        if self.data["result"] == VerificationResult.PASSED:
            return self.data["next_due"]  # type: ignore[no-any-return]
        return self.verified_on - timedelta(days=1)


class Verifications(Adding[Verification]):
    name = "verifications"

    def __init__(self, run: ImportRun, records: Records, meters: Meters) -> None:
        super().__init__(run, records)
        self.meters = meters
        self.due_updates: dict[int, date] = {}  # stored meter id -> new due date

    def check(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "serial": (f.text(40), True),
            "verified_on": (f.a_date, True),
            "result": (f.choice(VerificationResult.values), True),
            "next_due": (f.a_date, False),
            "verified_by": (f.text(200), False),
            "note": (f.text(500), False),
        }
        rows: list[tuple[int, dict[str, Any]]] = []
        for row, values in self.run.rows("verifications", spec):
            parsed, ok = self.run.clean("verifications", row, values, spec)
            verified, result, due = parsed.get("verified_on"), parsed.get("result"), parsed.get("next_due")
            if verified is not None and verified > self.run.today:
                self.run.problem(
                    "verifications",
                    row,
                    "verified_on",
                    "in the future",
                    values["verified_on"],
                    "in_the_future",
                )
                ok = False
            if result == VerificationResult.PASSED and "next_due" not in values:
                self.run.problem(
                    "verifications", row, "next_due", "required after a passed verification", code="required"
                )
                ok = False
            if result == VerificationResult.FAILED and "next_due" in values:
                self.run.problem(
                    "verifications",
                    row,
                    "next_due",
                    "a failed verification has no next due date (the meter counts as failed from that day)",
                    values["next_due"],
                    "not_expected",
                )
                ok = False
            if due is not None and verified is not None and due <= verified:
                self.run.problem(
                    "verifications", row, "next_due", "not after verified_on", values["next_due"], "too_early"
                )
                ok = False
            if ok:
                rows.append((row, parsed))
        numbers = {p["account"] for _r, p in rows}
        self.records.accounts_resolve(numbers)
        self.records.meters_resolve(numbers)
        by_meter: dict[tuple[str, str], list[Verification]] = defaultdict(list)
        seen: dict[tuple[str, str, date], int] = {}
        for row, parsed in rows:
            meter = self.records.meter("verifications", row, parsed)
            if meter is None:
                continue
            key = (meter.account.number, meter.serial, parsed["verified_on"])
            if key in seen:
                self.run.problem(
                    "verifications",
                    row,
                    "verified_on",
                    f"the same meter and day as row {seen[key]}",
                    parsed["verified_on"],
                    "duplicate_verification",
                )
                continue
            seen[key] = row
            data = {
                "result": parsed["result"],
                "next_due": parsed.get("next_due"),
                "verified_by": parsed.get("verified_by", ""),
                "note": parsed.get("note", ""),
            }
            by_meter[key[:2]].append(Verification(meter, row, parsed["verified_on"], data))
        stored = _stored_verifications([m[0].meter.db_id for m in by_meter.values() if m[0].meter.db_id])
        for meter_key, items in by_meter.items():
            self._meter(meter_key, items, stored.get(items[0].meter.db_id or 0, {}))
        for meter_key, row in self.meters.due_pending.items():
            if meter_key not in by_meter and meter_key not in self.records.bad_meters:
                self.run.problem(
                    "meters",
                    row,
                    "verification_due",
                    "required (or give manufactured_on: then 16 years after it; or the meter's verifications)",
                    code="required",
                )

    def _meter(
        self, key: tuple[str, str], items: list[Verification], stored: dict[date, dict[str, Any]]
    ) -> None:
        """One meter's verifications from the file: against the stored ones, and its due date."""
        new: list[Verification] = []
        for item in items:
            existing = stored.get(item.verified_on)
            if existing is None:
                new.append(item)
            elif existing == item.data:
                self.result.skipped += 1
            else:
                differences = [
                    f"{name} {_show(existing[name])!r} stored, {_show(item.data[name])!r} in the file"
                    for name in _FIELDS
                    if existing[name] != item.data[name]
                ]
                self.run.problem(
                    "verifications",
                    item.row,
                    "verified_on",
                    "this verification is already stored with other data (" + "; ".join(differences) + ")",
                    item.verified_on,
                    "stored_with_other_data",
                )
        self.new.extend(new)
        latest = max(new, key=lambda v: v.verified_on, default=None)
        if latest is None or (stored and max(stored) > latest.verified_on):
            return  # the stored history's latest stays the latest: the due date is already its
        meter = latest.meter
        given = self.meters.given_dues.get(key)
        if given is not None and given[1] != latest.due:
            self.run.problem(
                "meters",
                given[0],
                "verification_due",
                f"differs from the due date given by the meter's latest verification, {latest.due} "
                f"(verifications.csv row {latest.row})",
                given[1],
                "verification_due_mismatch",
            )
            return
        if meter.new is not None:
            meter.new["verification_due"] = latest.due
        elif meter.db_id is not None:
            self.due_updates[meter.db_id] = latest.due

    def load(self) -> None:
        new = self.new
        for start in range(0, len(new), self.run.batch_size):
            MeterVerification.objects.bulk_create(
                MeterVerification(meter_id=db_id(v.meter), verified_on=v.verified_on, **v.data)
                for v in new[start : start + self.run.batch_size]
            )
        for meter_id, due in self.due_updates.items():
            Meter.objects.filter(pk=meter_id).update(verification_due=due)
        result = self.result
        result.created = len(new)
        if self.due_updates:
            result.extra["stored meters' due dates moved"] = len(self.due_updates)


def _stored_verifications(meter_ids: list[int]) -> dict[int, dict[date, dict[str, Any]]]:
    stored: dict[int, dict[date, dict[str, Any]]] = defaultdict(dict)
    for start in range(0, len(meter_ids), DB_CHUNK):
        rows = MeterVerification.objects.filter(meter_id__in=meter_ids[start : start + DB_CHUNK]).values(
            "meter_id", "verified_on", *_FIELDS
        )
        for item in rows:
            stored[item.pop("meter_id")][item.pop("verified_on")] = item
    return stored


def _show(value: Any) -> str:
    return "(empty)" if value in (None, "") else str(value)
