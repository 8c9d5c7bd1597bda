"""readings.csv: readings, by meter, month and kind, stored as history (not through
``reading_submit``: its window, lock and e-mail are about a customer submitting now).

The check reads the file once, row by row, keeping of each good row a few integers in its meter's
``ReadingSlots``; then ``History`` checks each meter's readings against each other and the stored
ones. The load reads the file again and inserts the new rows in batches."""

from __future__ import annotations

import calendar
import hashlib
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db import connection

from meterdesk.billing.bulk import bulk_insert
from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import (
    ACCOUNT_NUMBER,
    VALUE_MESSAGES,
    ImportAborted,
    ImportRun,
    Section,
    Spec,
    chunks,
    epoch,
)
from meterdesk.dataio.importer.history import History
from meterdesk.dataio.importer.packed import KIND_CODES, ReadingSlots, RowMarks, scaled
from meterdesk.dataio.importer.records import Records, db_id
from meterdesk.dataio.source import Column, Problem, rows_read
from meterdesk.domain import readings as rules
from meterdesk.domain.periods import month_from_index, month_index
from meterdesk.metering.models import Channel, Reading, ReadingKind, ReadingStatus

ROWS_PER_LOOKUP = 5000  # rows whose accounts and meters are looked up together
FILE_COLUMNS = ("account", "serial", "period", "t1", "t2", "t3", "kind", "channel", "submitted_at")
DB_COLUMNS = (
    "meter_id",
    "account_id",
    "period",
    "t1",
    "t2",
    "t3",
    "kind",
    "channel",
    "status",
    "submitted_at",
    "confirmation",
    "confirmed",
    "rolled_over",
)


class Readings(Section):
    name = "readings"

    def __init__(self, run: ImportRun, records: Records) -> None:
        super().__init__(run, records)
        self.marks = RowMarks()
        self.superseded: dict[int, int] = {}  # rows not the latest of their month: row -> n
        self.replaced_by: dict[int, int] = {}  # such a row -> the row of the next reading of its month

    def check(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "serial": (f.text(40), True),
            "period": (f.a_period, True),
            "t1": (str, True),
            "t2": (str, False),
            "t3": (str, False),
            "kind": (f.choice(KIND_CODES), False),
            "channel": (f.choice(Channel.values), False),
            "submitted_at": (f.a_datetime(self.run.zone), False),
        }
        buffer: list[tuple[int, dict[str, Any], dict[str, str], bool]] = []
        for row, values in self.run.rows("readings", spec):
            parsed, ok = self.run.clean("readings", row, values, spec)
            buffer.append((row, parsed, values, ok))
            if len(buffer) >= ROWS_PER_LOOKUP:
                self._check_rows(buffer)
                buffer = []
        self._check_rows(buffer)
        History(self).check()

    def _check_rows(self, buffer: list[tuple[int, dict[str, Any], dict[str, str], bool]]) -> None:
        numbers = {p["account"] for _r, p, _v, _ok in buffer if "account" in p}
        self.records.accounts_resolve(numbers)
        self.records.meters_resolve(numbers)
        this_month = month_index(self.run.today)
        for row, parsed, values, ok in buffer:
            meter = self.records.meter("readings", row, parsed)
            if meter is None:
                continue
            shape = meter.shape
            thousandths: list[int] = []
            for zone in (1, 2, 3):
                column = f"t{zone}"
                raw = values.get(column)
                if zone > shape.zones:
                    if raw is not None:
                        self.run.problem(
                            "readings",
                            row,
                            column,
                            f"the meter has {shape.zones} zone(s)",
                            raw,
                            code="wrong_zone_count",
                        )
                        ok = False
                    thousandths.append(-1)
                    continue
                value, code = rules.parse_value(raw, shape)
                if value is None:
                    if raw is not None or zone > 1:
                        code = code or rules.NOT_A_NUMBER
                        message = VALUE_MESSAGES[code].format(
                            zones=shape.zones, places=shape.decimal_places, digits=shape.digits
                        )
                        self.run.problem("readings", row, column, message, raw, code)
                    ok = False
                    thousandths.append(-1)
                    continue
                thousandths.append(scaled(value))
            period = parsed.get("period")
            kind = parsed.get("kind", ReadingKind.CUSTOMER.value)
            if period is not None:
                index = month_index(period)
                label = values["period"]
                if index > this_month:
                    self.run.problem(
                        "readings", row, "period", "a month in the future", label, code="in_the_future"
                    )
                    ok = False
                if index < month_index(meter.installed):
                    self.run.problem(
                        "readings",
                        row,
                        "period",
                        f"before the meter was installed on {meter.installed}",
                        label,
                        code="before_installed",
                    )
                    ok = False
                if meter.removed is not None and index > month_index(meter.removed):
                    self.run.problem(
                        "readings",
                        row,
                        "period",
                        f"after the meter was removed on {meter.removed}",
                        label,
                        code="after_removed",
                    )
                    ok = False
                if kind == ReadingKind.INITIAL and index != month_index(meter.installed):
                    self.run.problem(
                        "readings",
                        row,
                        "kind",
                        f"an initial reading is for the month of installation ({meter.installed:%Y-%m})",
                        kind,
                        code="wrong_month_for_kind",
                    )
                    ok = False
                if kind == ReadingKind.FINAL and (
                    meter.removed is None or index != month_index(meter.removed)
                ):
                    where = (
                        "the meter has no removed_on"
                        if meter.removed is None
                        else f"the month of removal is {meter.removed:%Y-%m}"
                    )
                    self.run.problem(
                        "readings",
                        row,
                        "kind",
                        f"a final reading is for the month of removal ({where})",
                        kind,
                        code="wrong_month_for_kind",
                    )
                    ok = False
            moment = parsed.get("submitted_at")
            if moment is not None and moment.date() > self.run.today:
                self.run.problem(
                    "readings",
                    row,
                    "submitted_at",
                    "in the future",
                    values["submitted_at"],
                    code="in_the_future",
                )
                ok = False
            if not ok or period is None:
                continue
            if meter.readings is None:
                meter.readings = ReadingSlots(shape.zones)
            given = -1 if moment is None else epoch(moment)
            meter.readings.add(month_index(period), KIND_CODES[kind], row, thousandths, given)

    def default_moment(self, period: int) -> int:
        """When a reading without ``submitted_at`` was given: noon of its month's last day (or
        now, for the current month)."""
        month = month_from_index(period)
        last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        return min(epoch(datetime.combine(last_day, time(12), tzinfo=self.run.zone)), epoch(self.run.now))

    def load(self) -> None:
        """Second pass over readings.csv: insert the new rows in batches. The rows were checked,
        so values are read with a plain Decimal; the insert is ``billing.bulk.bulk_insert``
        (executemany, COPY on PostgreSQL): Django's ``bulk_create`` compiles SQL for every batch
        of model instances, which would be most of the time for millions of readings."""
        spec_columns = [Column(c) for c in FILE_COLUMNS]
        submitted = f.a_datetime(self.run.zone)
        ops = connection.ops
        confirmations: dict[int, str] = {}  # of the rows of a month with several readings
        newer = set(self.replaced_by.values())
        defaults: dict[date, datetime] = {}
        ignored: list[Problem] = []
        batch: list[tuple[Any, ...]] = []
        created = 0
        table = Reading._meta.db_table
        for row, values in rows_read(self.run.ds, "readings", spec_columns, ignored):
            mark = self.marks[row]
            if mark == RowMarks.SKIP:
                continue
            meter = self.records.meters[(values["account"], values["serial"])]
            meter_id = db_id(meter)
            period = f.a_period(values["period"])
            zones = meter.shape.zones
            t = [_plain_decimal(values[f"t{z}"]) if z <= zones else None for z in (1, 2, 3)]
            kind = values.get("kind", ReadingKind.CUSTOMER.value)
            if "submitted_at" in values:
                moment = submitted(values["submitted_at"])
            else:
                moment = defaults.get(period) or defaults.setdefault(
                    period, datetime.fromtimestamp(self.default_moment(month_index(period)), self.run.zone)
                )
            seq = self.superseded.get(row, 0)
            confirmation = _confirmation(kind, period, meter_id, seq)
            if seq or row in newer:
                confirmations[row] = confirmation
            status = ReadingStatus.SUPERSEDED if seq else ReadingStatus.ACCEPTED
            batch.append(
                (
                    meter_id,
                    db_id(meter.account),
                    ops.adapt_datefield_value(period),
                    t[0],
                    t[1],
                    t[2],
                    kind,
                    values.get("channel", Channel.IMPORT.value),
                    status.value,
                    ops.adapt_datetimefield_value(moment),
                    confirmation,
                    "",
                    mark == RowMarks.ROLLED,
                )
            )
            if len(batch) >= self.run.batch_size:
                created += bulk_insert(table, DB_COLUMNS, batch)
                batch = []
                self.run.progress("loaded {n} readings", created, False)
        if ignored:  # the file changed between the two passes
            raise ImportAborted(ignored[0])
        created += bulk_insert(table, DB_COLUMNS, batch)
        self._link_superseded(confirmations)
        self.result.created = created
        self.run.progress("loaded {n} readings", created, True)

    def _link_superseded(self, confirmations: dict[int, str]) -> None:
        """Each superseded reading is ``replaces`` of the next one of its month (as a resubmission
        links them); found by their confirmation numbers once all are inserted."""
        if not self.replaced_by:
            return
        ids: dict[str, int] = {}
        for part in chunks(confirmations.values()):
            ids.update(Reading.objects.filter(confirmation__in=part).values_list("confirmation", "pk"))
        later = [
            Reading(pk=ids[confirmations[newer]], replaces_id=ids[confirmations[older]])
            for older, newer in sorted(self.replaced_by.items())
        ]
        Reading.objects.bulk_update(later, ["replaces"], batch_size=self.run.batch_size)


def _confirmation(kind: str, period: date, meter_id: int, seq: int) -> str:
    """The confirmation number of an imported reading: ``I`` + kind + month + meter id for the
    accepted one of its month and kind; ``I`` + n + kind + month + meter id for the n-th one it
    superseded. Stable (a re-import finds the same) and distinct from a submission's 12 digits;
    a hash of the same where that would pass the column's 20 characters."""
    text = f"I{seq or ''}{kind[:2]}{period:%Y%m}{meter_id}"
    if len(text) <= 20 or not seq:
        return text[:20]
    return "I" + hashlib.sha256(text.encode()).hexdigest()[:19]


def _plain_decimal(text: str) -> Decimal:
    """A value already checked by ``domain.readings.parse_value``: spaces out, comma to point."""
    return Decimal("".join(text.split()).replace(",", "."))
