"""The meter pass of the readings check: each meter's readings from the file against each other
and the stored ones -- duplicates, readings already stored, closed months, and values below the
previous ones. The row pass left them packed in ``MeterRec.readings``; what it finds here goes to
the ``Readings`` section (the row marks, the superseded rows) for the load."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from meterdesk.dataio.importer.core import DB_CHUNK, chunks, epoch
from meterdesk.dataio.importer.packed import KIND_CODES, KIND_NAMES, RowMarks, scaled, show, unscaled
from meterdesk.dataio.importer.records import MeterRec
from meterdesk.domain import readings as rules
from meterdesk.domain.month_reading import given_at, month_reading
from meterdesk.domain.periods import month_from_index, month_index
from meterdesk.metering.models import Reading, ReadingKind, ReadingStatus

if TYPE_CHECKING:
    from meterdesk.dataio.importer.readings import Readings

#: Kinds of which a month may have several readings, told apart by their time (the latest counts).
REPEATABLE = (KIND_CODES[ReadingKind.CUSTOMER.value], KIND_CODES[ReadingKind.CONTROL.value])


class Entry(NamedTuple):
    """A reading during validation (sorted: by month, kind, then stored before the file's)."""

    period: int  # month index
    kind: int  # KIND_CODES
    row: int  # 0: stored
    values: tuple[int, ...]  # in thousandths
    moment: int  # submitted_at, seconds since the epoch (the default moment when not given)
    latest: bool = True  # the latest of its meter, month and kind: the one accepted; else superseded


class History:
    """The meter pass of one import's readings check."""

    def __init__(self, readings: Readings) -> None:
        self.readings = readings
        self.run = readings.run
        self.records = readings.records

    def check(self) -> None:
        """Duplicates, readings already stored, closed months and values below the previous."""
        with_readings = [m for m in self.records.meters.values() if m.readings]
        done = 0
        for part in chunks(with_readings, DB_CHUNK):
            ids = [m.db_id for m in part if m.db_id is not None]
            stored: dict[int, list[Entry]] = defaultdict(list)
            if ids:
                for mid, period, kind, status, moment, t1, t2, t3 in Reading.objects.filter(
                    meter_id__in=ids
                ).values_list("meter_id", "period", "kind", "status", "submitted_at", "t1", "t2", "t3"):
                    values = tuple(scaled(Decimal(v)) for v in (t1, t2, t3) if v is not None)
                    latest = status == ReadingStatus.ACCEPTED
                    entry = Entry(month_index(period), KIND_CODES[kind], 0, values, epoch(moment), latest)
                    stored[mid].append(entry)
            for meter in part:
                self._meter(meter, stored.get(meter.db_id or 0, []))
                meter.readings = None  # free the memory; the load goes by the row marks
            done += len(part)
            self.run.progress("checked the reading history of {n} meters", done, False)
        self.run.progress("checked the reading history of {n} meters", done, True)

    def _meter(self, meter: MeterRec, stored: list[Entry]) -> None:
        """The file's readings of one meter against each other and the stored ones. Of several
        readings of one month and kind (each with its time), the latest is accepted and the
        others are kept as superseded, as a resubmission does; a month and kind with stored
        readings takes none from the file (an import adds history, it does not change it)."""
        groups: dict[tuple[int, int], list[tuple[int, tuple[int, ...], int]]] = defaultdict(list)
        for period, kind, row, values, moment in meter.readings or ():
            groups[(period, kind)].append((row, values, moment))
        stored_groups: dict[tuple[int, int], list[Entry]] = defaultdict(list)
        for entry in stored:
            stored_groups[(entry.period, entry.kind)].append(entry)
        kept: list[Entry] = [e for e in stored if e.latest]
        closed = month_index(meter.account.last_closed) if meter.account.last_closed else None
        for (period, kind), rows in sorted(groups.items()):
            label = f"{month_from_index(period):%Y-%m}"
            rows = self._distinct(kind, label, sorted(rows))
            if (period, kind) in stored_groups:
                self._against_stored(kind, label, rows, stored_groups[(period, kind)])
                continue
            if closed is not None and period <= closed:
                for row, _values, _moment in rows:
                    self.run.problem(
                        "readings",
                        row,
                        "period",
                        f"{label} is already closed for account {meter.account.number} (the last closed month is "
                        f"{month_from_index(closed):%Y-%m}); a reading cannot change a closed month",
                        label,
                        "month_closed",
                    )
                continue
            timed = sorted(
                (moment if moment >= 0 else self.readings.default_moment(period), row, values)
                for row, values, moment in rows
            )
            for seq, (moment, row, values) in enumerate(timed, start=1):
                latest = seq == len(timed)
                kept.append(Entry(period, kind, row, values, moment, latest))
                if not latest:
                    self.readings.superseded[row] = seq
                    self.readings.replaced_by[row] = timed[seq][1]
        kept.sort()
        self._sequence(meter, kept)

    def _distinct(
        self, kind: int, label: str, rows: list[tuple[int, tuple[int, ...], int]]
    ) -> list[tuple[int, tuple[int, ...], int]]:
        """The rows (row, values, moment) of one meter, month and kind that may all be loaded:
        several only of a repeatable kind, each with its own time; each other one is reported."""
        name = KIND_NAMES[kind]
        first_row, _values, first_moment = rows[0]
        distinct = [rows[0]]
        moments = {first_moment: first_row}
        for row, values, moment in rows[1:]:
            if kind not in REPEATABLE:
                message = f"a second {name} reading of this meter for {label} (the first is row {first_row})"
            elif moment < 0 or first_moment < 0:
                message = (
                    f"a second {name} reading of this meter for {label} (the first is row {first_row}): "
                    "give each reading of the month its submitted_at (the latest counts)"
                )
            elif moment in moments:
                self.run.problem(
                    "readings",
                    row,
                    "submitted_at",
                    f"a second {name} reading of this meter for {label} at the same time (row {moments[moment]})",
                    code="duplicate_reading",
                )
                continue
            else:
                moments[moment] = row
                distinct.append((row, values, moment))
                continue
            self.run.problem("readings", row, "period", message, label, "duplicate_reading")
        return distinct

    def _against_stored(
        self, kind: int, label: str, rows: list[tuple[int, tuple[int, ...], int]], stored: list[Entry]
    ) -> None:
        """A month and kind with stored readings: each row must be one of them (then it is
        skipped): the one stored at its time, or, for a row without a time, one with its values."""
        name = KIND_NAMES[kind]
        by_moment = {e.moment: e for e in stored}
        accepted = next((e for e in stored if e.latest), stored[-1])
        for row, values, moment in rows:
            if moment < 0:
                same = any(e.values == values for e in stored)
                other = accepted
            else:
                match = by_moment.get(moment)
                same = match is not None and match.values == values
                other = match if match is not None else accepted
                if match is None:
                    self.run.problem(
                        "readings",
                        row,
                        "submitted_at",
                        f"the {name} readings of this meter for {label} are already stored, none at this time; "
                        "an import does not add readings to a month and kind that has stored ones",
                        code="month_readings_stored",
                    )
                    continue
            if same:
                self.readings.marks[row] = RowMarks.SKIP
                self.readings.result.skipped += 1
                continue
            self.run.problem(
                "readings",
                row,
                "t1",
                f"an accepted {name} reading for {label} is already stored with other values "
                f"({show(other.values)})",
                show(values),
                "stored_with_other_values",
            )

    def _sequence(self, meter: MeterRec, entries: list[Entry]) -> None:
        """Each month's readings against the meter's position at the end of the month before
        and, as a submission is checked (``metering.selectors.submission_check``), against the
        month's own reading given before it that counts (an inspector's; never a household's):
        a value below either is an error unless it fits a rollover past the meter's maximum (as
        ``domain.readings.check_reading`` decides). An inspector's control reading is not
        judged: it is what the meter showed. Values are in thousandths (ints); the domain rule is
        asked only when a value goes down."""
        initial = tuple(scaled(v) for v in meter.initial)
        previous = initial
        previous_period = month_index(meter.installed)
        previous_where = "the meter's initial values"
        control, first = KIND_CODES[ReadingKind.CONTROL], KIND_CODES[ReadingKind.INITIAL]
        index = 0
        while index < len(entries):
            period = entries[index][0]
            month: list[Entry] = []
            while index < len(entries) and entries[index][0] == period:
                month.append(entries[index])
                index += 1
            wrong: set[int] = set()
            for _period, kind, row, values, moment, _latest in month:
                if row == 0 or kind == control:
                    continue
                if kind == first:
                    if values != initial:
                        wrong.add(row)
                        self.run.problem(
                            "readings",
                            row,
                            "t1",
                            f"an initial reading must equal the meter's initial values ({show(initial)})",
                            show(values),
                            code="initial_mismatch",
                        )
                    continue
                floor = self._month_reading_before(month, kind, moment, wrong)
                if all(v >= p for v, p in zip(values, previous, strict=True)) and (
                    floor is None or all(v >= p for v, p in zip(values, floor.values, strict=True))
                ):
                    continue
                checked = rules.check_reading(
                    meter.shape,
                    [unscaled(v) for v in values],
                    [unscaled(v) or Decimal(0) for v in previous],
                    None,
                    max(1, period - previous_period),
                    latest=None if floor is None else [unscaled(v) or Decimal(0) for v in floor.values],
                    latest_params=None if floor is None else {"entry": floor},
                )
                for issue in checked.errors:
                    wrong.add(row)
                    zone = issue.zone or 1
                    below = issue.params.get("entry")
                    if isinstance(below, Entry):
                        label = f"{month_from_index(period):%Y-%m}"
                        what = f"the {KIND_NAMES[below.kind]} reading {show(below.values[zone - 1 : zone])}"
                        where = f"{label}, row {below.row}" if below.row else f"{label}, stored"
                    else:
                        what, where = (
                            f"the previous reading {show(previous[zone - 1 : zone])}",
                            previous_where,
                        )
                    self.run.problem(
                        "readings",
                        row,
                        f"t{zone}",
                        f"below {what} ({where}) and too far below it for a rollover of a "
                        f"{meter.shape.digits}-digit meter",
                        show(values[zone - 1 : zone]),
                        code=rules.BELOW_PREVIOUS,
                    )
                if checked.ok and any(checked.rolled_over):
                    self.readings.marks[row] = RowMarks.ROLLED
            good = [e for e in month if e.row not in wrong and e.latest]  # the superseded never count
            if not good:
                continue
            counted = month_reading(
                given_at(
                    KIND_NAMES[e.kind],
                    datetime.fromtimestamp(e.moment, self.run.zone),
                    self.run.zone,
                    source=e,
                )
                for e in good
            )
            chosen = counted.source if counted is not None and counted.source is not None else good[-1]
            previous, previous_period, row = chosen.values, period, chosen.row
            label = f"{month_from_index(period):%Y-%m}"
            previous_where = f"{label}, row {row}" if row else f"{label}, stored"

    def _month_reading_before(
        self, month: list[Entry], kind: int, moment: int, wrong: set[int]
    ) -> Entry | None:
        """Of a month's entries, the one a reading of ``kind`` given at ``moment`` must go on
        from (``metering.selectors.month_reading_before``): the one that counts among those of
        other kinds than its own and the household's, given before it (not a wrong one)."""
        household = KIND_CODES[ReadingKind.CUSTOMER]
        candidates = [
            e for e in month if e.kind not in (kind, household) and e.moment <= moment and e.row not in wrong
        ]
        if not candidates:
            return None
        counted = month_reading(
            given_at(
                KIND_NAMES[e.kind], datetime.fromtimestamp(e.moment, self.run.zone), self.run.zone, source=e
            )
            for e in candidates
        )
        return counted.source if counted is not None else None
