"""`meterdesk import`: load a utility's data from its old system (docs/import-format.md).

Two passes over the dataset. **Validation** reads every file and collects every problem, each with
its file, row and column; it writes nothing. If there is no problem, **loading** reads the files
again and writes everything in one transaction, in batches (``bulk_create``), so that an error
half-way (a concurrent change, a full disk) leaves the database as it was.

The large sections (readings, and payments) are streamed: what validation keeps of a reading is a
few integers in a per-meter ``array`` (enough to find duplicates and values below the previous
ones), not the row, so a dataset of 100,000 accounts with years of readings fits in memory.

Re-importing a dataset changes nothing: every record has a key (below). A record whose key is
already stored with the same data is skipped and counted; with different data it is an error (an
import loads history; it does not silently change what is stored).

| section   | key                                              |
|-----------|--------------------------------------------------|
| utility   | (one row: the given settings are set)            |
| tariffs   | region, category, kind, valid_from               |
| norms     | region, category, rooms, residents, valid_from   |
| accounts  | number                                           |
| residents | account, effective_from                          |
| meters    | account, serial                                  |
| readings  | account + serial (the meter), period, kind       |
| payments  | external_id                                      |
"""

from __future__ import annotations

import calendar
import hashlib
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from meterdesk.billing.bulk import bulk_insert
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.services import PaymentError, payment_post
from meterdesk.customers.models import Account, PremisesCategory, ResidentsChange
from meterdesk.dataio import fields as f
from meterdesk.dataio import opening
from meterdesk.dataio.source import SECTIONS, Column, Dataset, Problem, rows_read
from meterdesk.domain import readings as rules
from meterdesk.domain.month_reading import given_at, month_reading
from meterdesk.domain.periods import month_from_index, month_index
from meterdesk.domain.profiles import profile_codes
from meterdesk.metering.models import Channel, Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.tariffs.models import KIND_ZONES, ZONES_KIND, Norm, Tariff, TariffBand, TariffKind, TariffPrice
from meterdesk.utility.models import UtilitySettings

#: Progress callback: (what, with "{n}" where the count goes; the count so far; finished).
Progress = Callable[[str, int, bool], None]

DB_CHUNK = 500  # ids or keys per IN (...) query
PROGRESS_EVERY = 10_000
KIND_CODES = {
    ReadingKind.INITIAL.value: 0,
    ReadingKind.CUSTOMER.value: 1,
    ReadingKind.CONTROL.value: 2,
    ReadingKind.FINAL.value: 3,
}
KIND_NAMES = {code: kind for kind, code in KIND_CODES.items()}
VALUE_SCALE = 1000  # readings are kept as integers of thousandths during validation
READING_FILE_COLUMNS = ("account", "serial", "period", "t1", "t2", "t3", "kind", "channel", "submitted_at")
READING_DB_COLUMNS = (
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
VERIFICATION_YEARS = 16

_VALUE_MESSAGES = {
    rules.REQUIRED: "required: the meter has {zones} zone(s)",
    rules.NOT_A_NUMBER: "not a number",
    rules.NEGATIVE: "must not be negative",
    rules.NOT_WHOLE: "the meter shows whole kWh only (decimal_places is 0)",
    rules.TOO_MANY_DECIMALS: "more decimal places than the meter's {places}",
    rules.TOO_MANY_DIGITS: "more integer digits than the meter's {digits}",
}

Spec = dict[str, tuple[f.Parser, bool]]
#: Kinds of which a month may have several readings, told apart by their time (the latest counts).
REPEATABLE = (KIND_CODES[ReadingKind.CUSTOMER.value], KIND_CODES[ReadingKind.CONTROL.value])


class PackedReading(NamedTuple):
    """One reading of ``ReadingSlots``, unpacked."""

    period: int  # month index
    kind: int  # KIND_CODES
    row: int
    values: tuple[int, ...]  # the meter's zones, in thousandths
    moment: int  # submitted_at, seconds since the epoch; -1: not given


class ReadingSlots:
    """The readings of one meter from readings.csv, as validation keeps them until the meter's
    history is checked: seven integers each, one after another in one ``array("q")`` -- not a
    Python object per reading, so that a million meters' years of readings fit in memory."""

    __slots__ = ("_data", "zones")
    _PERIOD, _KIND, _ROW, _T1, _MOMENT = 0, 1, 2, 3, 6
    _STRIDE = 7

    def __init__(self, zones: int) -> None:
        self._data = array("q")
        self.zones = zones

    def add(self, period: int, kind: int, row: int, values: Sequence[int], moment: int) -> None:
        """``values``: t1, t2, t3 in thousandths (-1: none); ``moment``: -1 when not given."""
        self._data.extend((period, kind, row, *values, moment))

    def __len__(self) -> int:
        return len(self._data) // self._STRIDE

    def __iter__(self) -> Iterator[PackedReading]:
        data, zones, t1 = self._data, self.zones, self._T1
        for i in range(0, len(data), self._STRIDE):
            yield PackedReading(
                data[i + self._PERIOD],
                data[i + self._KIND],
                data[i + self._ROW],
                tuple(data[i + t1 : i + t1 + zones]),
                data[i + self._MOMENT],
            )


class RowMarks:
    """How the load treats each row of readings.csv, one byte per row (``NEW`` unless marked)."""

    NEW, SKIP, ROLLED = 0, 1, 2  # SKIP: already stored; ROLLED: passed the meter's maximum
    _GROWTH = 100_000  # rows added at a time

    __slots__ = ("_marks",)

    def __init__(self) -> None:
        self._marks = bytearray()

    def __getitem__(self, row: int) -> int:
        return self._marks[row] if row < len(self._marks) else self.NEW

    def __setitem__(self, row: int, mark: int) -> None:
        if row >= len(self._marks):
            self._marks.extend(bytes(row + 1 - len(self._marks) + self._GROWTH))
        self._marks[row] = mark


class Entry(NamedTuple):
    """A reading during validation (sorted: by month, kind, then stored before the file's)."""

    period: int  # month index
    kind: int  # KIND_CODES
    row: int  # 0: stored
    values: tuple[int, ...]  # in thousandths
    moment: int  # submitted_at, seconds since the epoch (the default moment when not given)
    latest: bool = True  # the latest of its meter, month and kind: the one accepted; else superseded


class ImportAborted(Exception):
    """Loading stopped; the transaction is rolled back."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class SectionResult:
    created: int = 0
    skipped: int = 0  # already stored with the same data
    updated: int = 0
    extra: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportResult:
    problems: list[Problem]
    warnings: list[str]
    sections: dict[str, SectionResult]
    loaded: bool
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class AccountRec:
    number: str
    row: int  # 0: stored before this import
    db_id: int | None
    category: str
    opened_on: date
    new: dict[str, Any] | None = None  # the fields to create it with
    last_closed: date | None = None


@dataclass(slots=True)
class MeterRec:
    account: AccountRec
    serial: str
    row: int
    db_id: int | None
    shape: rules.MeterShape
    installed: date
    removed: date | None
    initial: tuple[Decimal, ...]
    new: dict[str, Any] | None = None
    readings: ReadingSlots | None = None  # from readings.csv, until its history is checked


@dataclass(slots=True)
class TariffRec:
    key: tuple[str, str, str, date]
    row: int
    valid_to: date | None
    bands: list[tuple[int, Decimal | None]]
    prices: dict[tuple[int, int], Decimal]


def _chunks(items: Iterable[Any], size: int = DB_CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _scaled(value: Decimal | None) -> int:
    return -1 if value is None else int(value * VALUE_SCALE)


def _unscaled(value: int) -> Decimal | None:
    return None if value < 0 else Decimal(value).scaleb(-3).normalize()


def _confirmation(kind: str, period: date, meter_id: int, seq: int) -> str:
    """The confirmation number of an imported reading: ``I`` + kind + month + meter id for the
    accepted one of its month and kind; ``I`` + n + kind + month + meter id for the n-th one it
    superseded. Stable (a re-import finds the same) and distinct from a submission's 12 digits;
    a hash of the same where that would pass the column's 20 characters."""
    text = f"I{seq or ''}{kind[:2]}{period:%Y%m}{meter_id}"
    if len(text) <= 20 or not seq:
        return text[:20]
    return "I" + hashlib.sha256(text.encode()).hexdigest()[:19]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _plain_decimal(text: str) -> Decimal:
    """A value already checked by ``domain.readings.parse_value``: spaces out, comma to point."""
    return Decimal("".join(text.split()).replace(",", "."))


def _show(values: Iterable[int]) -> str:
    """Values in thousandths, as a person writes them: ``1100, 550``."""
    return ", ".join(format(Decimal(v).scaleb(-3).normalize(), "f") for v in values)


def _fmt(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _differences(stored: Any, new: dict[str, Any]) -> list[str]:
    """The fields of a stored row that differ from the file's, in words."""
    return [
        f"{name} {_fmt(getattr(stored, name))!r} stored, {_fmt(value)!r} in the file"
        for name, value in new.items()
        if getattr(stored, name) != value
    ]


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


ACCOUNT_NUMBER = f.ACCOUNT_NUMBER
CATEGORY = f.choice(PremisesCategory.values)


class Importer:
    """Validate a dataset (``validate``), then load it (``load``, inside a transaction)."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        today: date | None = None,
        batch_size: int = 2000,
        progress: Progress | None = None,
    ) -> None:
        self.ds = dataset
        self.problems: list[Problem] = list(dataset.problems)
        self.warnings: list[str] = [f"{name}: not a .csv file, ignored" for name in dataset.ignored]
        self.results = {s: SectionResult() for s in SECTIONS if s in dataset.files}
        self.batch_size = batch_size
        self.progress = progress or (lambda _what, _n, _done: None)
        stored = UtilitySettings.objects.order_by("pk").first()
        self.utility = stored or UtilitySettings()
        self.utility_changes: dict[str, Any] = {}
        self.region = self.utility.tariff_region
        self.zone: tzinfo = ZoneInfo(self.utility.time_zone)
        self._today = today
        self.tariffs: dict[tuple[str, str, str, date], TariffRec] = {}
        self.new_tariffs: list[TariffRec] = []
        self.new_norms: list[Norm] = []
        self.accounts: dict[str, AccountRec] = {}
        self.bad_accounts: set[str] = set()
        self._account_misses: set[str] = set()
        self.new_residents: list[tuple[str, date, int, date | None]] = []
        self.latest_residents: dict[str, tuple[date, int]] = {}
        self.meters: dict[tuple[str, str], MeterRec] = {}
        self.bad_meters: set[tuple[str, str]] = set()
        self._meters_loaded: set[str] = set()  # accounts whose stored meters are in self.meters
        self.row_marks = RowMarks()  # readings.csv
        self.superseded: dict[int, int] = {}  # readings.csv rows not the latest of their month: row -> n
        self.replaced_by: dict[int, int] = {}  # such a row -> the row of the next reading of its month
        self.now = timezone.now()
        self.given_dues: dict[tuple[str, str], tuple[int, date]] = {}  # meters.csv: (row, verification_due)
        self.due_pending: dict[tuple[str, str], int] = {}  # meters.csv rows whose due date the history gives
        self.verifications = opening.Verifications()
        self.balances: list[opening.Balance] = []
        self.payments: list[tuple[int, str, date, Decimal, str, str, str]] = []
        self._has_closes = AccountClose.objects.exists()

    # --- helpers ---------------------------------------------------------------------------

    @property
    def today(self) -> date:
        if self._today is None:
            self._today = datetime.now(self.zone).date()
        return self._today

    def _problem(
        self, section: str, row: int | None, column: str, message: str, value: Any = None, code: str = ""
    ) -> None:
        shown = None if value is None else (value if isinstance(value, str) else _fmt(value))
        self.problems.append(Problem(self.ds.display(section), row, column, message, shown, code))

    def _rows(self, section: str, spec: Spec) -> Iterator[tuple[int, dict[str, str]]]:
        columns = [Column(name, required) for name, (_parser, required) in spec.items()]
        count = 0
        for row_no, values in rows_read(self.ds, section, columns, self.problems):
            count += 1
            if count % PROGRESS_EVERY == 0:
                self.progress(f"checked {{n}} rows of {section}.csv", count, False)
            yield row_no, values
        self.progress(f"checked {{n}} rows of {section}.csv", count, True)

    def _clean(
        self, section: str, row: int, values: dict[str, str], spec: Spec
    ) -> tuple[dict[str, Any], bool]:
        """Parse every cell of a row; report each bad or missing one. Returns (parsed, ok)."""
        out: dict[str, Any] = {}
        ok = True
        for name, (parser, required) in spec.items():
            raw = values.get(name)
            if raw is None:
                if required:
                    self._problem(section, row, name, "required", code="required")
                    ok = False
                continue
            try:
                out[name] = parser(raw)
            except f.FieldError as exc:
                self._problem(section, row, name, str(exc), raw, exc.code)
                ok = False
        return out, ok

    def _account(self, section: str, row: int, number: str | None) -> AccountRec | None:
        """The account a row refers to (in this dataset or stored); reports an unknown one.
        An account whose own row is bad is not reported again."""
        if number is None or number in self.bad_accounts:
            return None
        rec = self.accounts.get(number)
        if rec is None:
            self._accounts_resolve([number])
            rec = self.accounts.get(number)
        if rec is None:
            self._problem(
                section,
                row,
                "account",
                "unknown account: not in accounts.csv nor stored",
                number,
                code="unknown_account",
            )
        return rec

    def _accounts_resolve(self, numbers: Iterable[str]) -> None:
        """Add the stored accounts among ``numbers`` to ``self.accounts``."""
        wanted = [n for n in set(numbers) if n not in self.accounts and n not in self._account_misses]
        found: list[AccountRec] = []
        for part in _chunks(sorted(wanted)):
            for acc_id, number, category, opened in Account.objects.filter(number__in=part).values_list(
                "id", "number", "category", "opened_on"
            ):
                rec = AccountRec(number, 0, acc_id, category, opened)
                self.accounts[number] = rec
                found.append(rec)
        self._account_misses.update(n for n in wanted if n not in self.accounts)
        self._last_closed(found)

    def _last_closed(self, recs: list[AccountRec]) -> None:
        if not self._has_closes or not recs:
            return
        by_id = {r.db_id: r for r in recs if r.db_id is not None}
        for part in _chunks(by_id):
            rows = (
                AccountClose.objects.filter(account_id__in=part)
                .values("account_id")
                .annotate(last=Max("period"))
                .values_list("account_id", "last")
            )
            for acc_id, last in rows:
                by_id[acc_id].last_closed = last

    def _meters_resolve(self, numbers: Iterable[str]) -> None:
        """Add the stored meters of the stored accounts ``numbers`` to ``self.meters``."""
        accounts = {
            self.accounts[n].db_id: self.accounts[n]
            for n in set(numbers)
            if n not in self._meters_loaded and n in self.accounts and self.accounts[n].db_id
        }
        self._meters_loaded.update(a.number for a in accounts.values())
        for part in _chunks(accounts):
            for m in Meter.objects.filter(account_id__in=part):
                account = accounts[m.account_id]
                key = (account.number, m.serial)
                if key in self.meters:
                    continue
                self.meters[key] = MeterRec(
                    account=account,
                    serial=m.serial,
                    row=0,
                    db_id=m.pk,
                    shape=m.shape,
                    installed=m.installed_on,
                    removed=m.removed_on,
                    initial=m.initial_values,
                )

    # --- validation ------------------------------------------------------------------------

    def validate(self) -> list[Problem]:
        """Check the whole dataset; returns every problem (empty: ready to load)."""
        for section in SECTIONS:
            if section in self.ds.files:
                getattr(self, f"_check_{section}")()
        if not self.problems:
            self._coverage_warnings()
        order = {self.ds.display(section): n for n, section in enumerate(SECTIONS)}
        self.problems.sort(key=lambda p: (order.get(p.file, -1), p.row or 0))
        return self.problems

    def _check_utility(self) -> None:
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
        rows = list(self._rows("utility", spec))
        if len(rows) > 1:
            self._problem(
                "utility",
                rows[1][0],
                "",
                "the utility's settings are one row; found more",
                code="more_than_one_row",
            )
        if not rows:
            return
        row, values = rows[0]
        parsed, ok = self._clean("utility", row, values, spec)
        start = parsed.get("window_start_day", self.utility.window_start_day)
        end = parsed.get("window_end_day", self.utility.window_end_day)
        if start > end:
            self._problem(
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
        self.utility_changes = {k: v for k, v in parsed.items() if getattr(self.utility, k) != v}
        self.region = parsed.get("tariff_region", self.region)
        self.zone = ZoneInfo(parsed.get("time_zone", self.utility.time_zone))

    def _check_tariffs(self) -> None:
        price = f.decimal(2, max_integer_digits=6)
        spec: Spec = {
            "region": (f.text(40), False),
            "category": (CATEGORY, True),
            "kind": (f.choice(TariffKind.values), True),
            "valid_from": (f.a_date, True),
            "valid_to": (f.a_date, False),
            "band": (f.integer(1, 20), False),
            "band_upper_kwh": (f.decimal(3, max_integer_digits=7, positive=True), False),
            "price_t1": (price, True),
            "price_t2": (price, False),
            "price_t3": (price, False),
        }
        groups: dict[tuple[str, str, str, date], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        bad: set[tuple[str, str, str, date]] = set()
        for row, values in self._rows("tariffs", spec):
            parsed, ok = self._clean("tariffs", row, values, spec)
            zones = KIND_ZONES.get(TariffKind(parsed["kind"])) if "kind" in parsed else None
            if zones is not None:
                for zone in (1, 2, 3):
                    column = f"price_t{zone}"
                    if zone <= zones and column not in parsed and column in values:
                        continue  # reported by the parser
                    if zone <= zones and column not in values and zone > 1:  # t1: reported as required
                        self._problem(
                            "tariffs",
                            row,
                            column,
                            f"required: a {parsed['kind']} tariff has {zones} zone(s)",
                            code="required",
                        )
                        ok = False
                    elif zone > zones and column in values:
                        self._problem(
                            "tariffs",
                            row,
                            column,
                            f"a {parsed['kind']} tariff has {zones} zone(s)",
                            values[column],
                            code="wrong_zone_count",
                        )
                        ok = False
            if "valid_to" in parsed and "valid_from" in parsed and parsed["valid_to"] < parsed["valid_from"]:
                self._problem(
                    "tariffs",
                    row,
                    "valid_to",
                    "before valid_from",
                    values["valid_to"],
                    code="before_valid_from",
                )
                ok = False
            if {"category", "kind", "valid_from"} <= parsed.keys():
                key = (
                    parsed.get("region", self.region),
                    parsed["category"],
                    parsed["kind"],
                    parsed["valid_from"],
                )
                groups[key].append((row, parsed))
                if not ok:
                    bad.add(key)
        for key, rows in groups.items():
            if key in bad:
                continue
            rec = self._tariff_group(key, rows)
            if rec is not None:
                self.tariffs[key] = rec
        self._tariffs_against_stored()

    def _tariff_group(
        self, key: tuple[str, str, str, date], rows: list[tuple[int, dict[str, Any]]]
    ) -> TariffRec | None:
        """One tariff from its rows (one row per volume band)."""
        first_row, first = rows[0]
        ok = True
        for row, parsed in rows[1:]:
            if parsed.get("valid_to") != first.get("valid_to"):
                self._problem(
                    "tariffs",
                    row,
                    "valid_to",
                    f"differs from row {first_row} of the same tariff",
                    _fmt(parsed.get("valid_to")),
                    code="differs_within_tariff",
                )
                ok = False
        by_band: dict[int, tuple[int, dict[str, Any]]] = {}
        for row, parsed in rows:
            band = parsed.get("band", 1)
            if band in by_band:
                if "band" in parsed:
                    message = f"band {band} of this tariff is already in row {by_band[band][0]}"
                else:
                    message = (
                        f"the same tariff (region, category, kind, valid_from) as row {by_band[band][0]}"
                    )
                self._problem(
                    "tariffs",
                    row,
                    "band" if "band" in parsed else "valid_from",
                    message,
                    code="duplicate_tariff",
                )
                ok = False
                continue
            by_band[band] = (row, parsed)
        if not ok:
            return None
        numbers = sorted(by_band)
        if numbers != list(range(1, len(numbers) + 1)):
            self._problem(
                "tariffs",
                first_row,
                "band",
                f"bands must be numbered 1, 2, … without gaps; found {numbers}",
                code="band_gap",
            )
            return None
        zones = KIND_ZONES[TariffKind(key[2])]
        bands: list[tuple[int, Decimal | None]] = []
        prices: dict[tuple[int, int], Decimal] = {}
        previous_upper = Decimal(0)
        for band in numbers:
            row, parsed = by_band[band]
            upper = parsed.get("band_upper_kwh")
            last = band == numbers[-1]
            if last and upper is not None:
                message = (
                    "a tariff without bands has no upper limit"
                    if len(numbers) == 1
                    else "the last band is open: leave its upper limit empty"
                )
                self._problem("tariffs", row, "band_upper_kwh", message, _fmt(upper), code="band_limit")
                ok = False
            elif not last and upper is None:
                self._problem(
                    "tariffs", row, "band_upper_kwh", "required for every band but the last", code="required"
                )
                ok = False
            elif not last and upper is not None and upper <= previous_upper:
                self._problem(
                    "tariffs",
                    row,
                    "band_upper_kwh",
                    f"must be above the previous band's {_fmt(previous_upper)}",
                    _fmt(upper),
                    code="band_limit",
                )
                ok = False
            if upper is not None:
                previous_upper = upper
            if len(numbers) > 1:
                bands.append((band, upper))
            for zone in range(1, zones + 1):
                prices[(zone, band)] = parsed[f"price_t{zone}"]
        if not ok:
            return None
        return TariffRec(key, first_row, first.get("valid_to"), bands, prices)

    def _tariffs_against_stored(self) -> None:
        stored: dict[tuple[str, str, str], list[tuple[date, date | None, str]]] = defaultdict(list)
        kinds = {(k[0], k[1], k[2]) for k in self.tariffs}
        for region, category, kind in kinds:
            for tariff in Tariff.objects.filter(region=region, category=category, kind=kind).prefetch_related(
                "prices", "bands"
            ):
                key = (region, category, kind, tariff.valid_from)
                rec = self.tariffs.get(key)
                if rec is None:
                    stored[(region, category, kind)].append(
                        (tariff.valid_from, tariff.valid_to, "a stored tariff")
                    )
                    continue
                same = (
                    rec.valid_to == tariff.valid_to
                    and rec.bands == [(b.band, b.upper_kwh) for b in tariff.bands.all()]
                    and rec.prices == {(p.zone, p.band): p.price for p in tariff.prices.all()}
                )
                if same:
                    self.results["tariffs"].skipped += 1
                    stored[(region, category, kind)].append(
                        (tariff.valid_from, tariff.valid_to, "a stored tariff")
                    )
                    del self.tariffs[key]
                else:
                    self._problem(
                        "tariffs",
                        rec.row,
                        "valid_from",
                        "this tariff (region, category, kind, valid_from) is already stored with other prices, "
                        "bands or valid_to; an import does not change stored tariffs",
                        _fmt(key[3]),
                        code="stored_with_other_data",
                    )
                    del self.tariffs[key]
        for rec in self.tariffs.values():
            stored[rec.key[:3]].append((rec.key[3], rec.valid_to, f"row {rec.row}"))
        for (region, category, kind), spans in stored.items():
            spans.sort(key=lambda s: s[0])
            for (start_a, end_a, where_a), (start_b, _end_b, where_b) in pairwise(spans):
                if end_a is not None and end_a >= start_b:
                    rows = [w for w in (where_a, where_b) if w.startswith("row ")]
                    row = int(rows[-1][4:]) if rows else None
                    self._problem(
                        "tariffs",
                        row,
                        "valid_from",
                        f"the {kind} tariff of {category} in {region} from {start_b} overlaps {where_a} "
                        f"(valid {start_a} to {end_a})",
                        code="overlapping_tariffs",
                    )
        self.new_tariffs = list(self.tariffs.values())

    def _check_norms(self) -> None:
        spec: Spec = {
            "region": (f.text(40), False),
            "category": (CATEGORY, True),
            "rooms": (f.integer(1, 20), True),
            "residents": (f.integer(1, 20), True),
            "kwh_per_person": (f.decimal(3, max_integer_digits=5), True),
            "valid_from": (f.a_date, True),
            "valid_to": (f.a_date, False),
        }
        seen: dict[tuple[Any, ...], tuple[int, Norm]] = {}
        for row, values in self._rows("norms", spec):
            parsed, ok = self._clean("norms", row, values, spec)
            if "valid_to" in parsed and "valid_from" in parsed and parsed["valid_to"] < parsed["valid_from"]:
                self._problem(
                    "norms",
                    row,
                    "valid_to",
                    "before valid_from",
                    values["valid_to"],
                    code="before_valid_from",
                )
                ok = False
            if not ok:
                continue
            parsed["region"] = parsed.get("region", self.region)
            key = (
                parsed["region"],
                parsed["category"],
                parsed["rooms"],
                parsed["residents"],
                parsed["valid_from"],
            )
            if key in seen:
                self._problem(
                    "norms",
                    row,
                    "valid_from",
                    f"the same norm (region, category, rooms, residents, valid_from) as row {seen[key][0]}",
                    code="duplicate_norm",
                )
                continue
            seen[key] = (row, Norm(**parsed))
        regions = {k[0] for k in seen}
        for norm in Norm.objects.filter(region__in=regions) if seen else ():
            key = (norm.region, norm.category, norm.rooms, norm.residents, norm.valid_from)
            if key in seen:
                row, new = seen.pop(key)
                if new.kwh_per_person == norm.kwh_per_person and new.valid_to == norm.valid_to:
                    self.results["norms"].skipped += 1
                else:
                    self._problem(
                        "norms",
                        row,
                        "kwh_per_person",
                        f"this norm is already stored with {_fmt(norm.kwh_per_person)} kWh, valid to "
                        f"{_fmt(norm.valid_to)}; an import does not change stored norms",
                        _fmt(new.kwh_per_person),
                        code="stored_with_other_data",
                    )
        self.new_norms = [n for _row, n in seen.values()]

    def _check_accounts(self) -> None:
        spec: Spec = {
            "number": (ACCOUNT_NUMBER, True),
            "payer": (f.text(200), True),
            "address": (f.text(300), True),
            "category": (CATEGORY, True),
            "rooms": (f.integer(1, 100), False),
            "residents": (f.integer(0, 1000), False),
            "meter_required": (f.boolean, False),
            "opened_on": (f.a_date, True),
            "closed_on": (f.a_date, False),
        }
        rows: dict[str, AccountRec] = {}
        for row, values in self._rows("accounts", spec):
            parsed, ok = self._clean("accounts", row, values, spec)
            number = parsed.get("number")
            if "closed_on" in parsed and "opened_on" in parsed and parsed["closed_on"] < parsed["opened_on"]:
                self._problem(
                    "accounts",
                    row,
                    "closed_on",
                    "before opened_on",
                    values["closed_on"],
                    code="before_opened",
                )
                ok = False
            if number is not None and number in rows:
                self._problem(
                    "accounts",
                    row,
                    "number",
                    f"the same account number as row {rows[number].row}",
                    number,
                    code="duplicate_account",
                )
                continue
            if not ok or number is None:
                self.bad_accounts.add(number or values.get("number", ""))
                continue
            new = {
                "number": number,
                "holder_name": parsed["payer"],
                "address": parsed["address"],
                "category": parsed["category"],
                "rooms": parsed.get("rooms", 1),
                "meter_required": parsed.get("meter_required", True),
                "opened_on": parsed["opened_on"],
                "closed_on": parsed.get("closed_on"),
            }
            if "residents" in parsed:
                new["residents"] = parsed["residents"]
            rows[number] = AccountRec(number, row, None, new["category"], new["opened_on"], new)
        # Against the stored accounts.
        stored_recs: list[AccountRec] = []
        for part in _chunks(sorted(rows)):
            for stored in Account.objects.filter(number__in=part):
                rec = rows[stored.number]
                differences = _differences(stored, rec.new or {})
                if differences:
                    self._problem(
                        "accounts",
                        rec.row,
                        "number",
                        "this account is already stored with other data ("
                        + "; ".join(differences)
                        + "); an import does not change stored accounts",
                        rec.number,
                        code="stored_with_other_data",
                    )
                    self.bad_accounts.add(rec.number)
                    del rows[stored.number]
                else:
                    rec.db_id, rec.new = stored.pk, None
                    stored_recs.append(rec)
                    self.results["accounts"].skipped += 1
        self.accounts.update(rows)
        self._last_closed(stored_recs)

    def _check_residents(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "effective_from": (f.a_date, True),
            "residents": (f.integer(0, 1000), True),
            "reported_on": (f.a_date, False),
        }
        parsed_rows: list[tuple[int, dict[str, Any]]] = []
        for row, values in self._rows("residents", spec):
            parsed, ok = self._clean("residents", row, values, spec)
            if ok:
                parsed_rows.append((row, parsed))
        self._accounts_resolve(p["account"] for _r, p in parsed_rows)
        seen: dict[tuple[str, date], int] = {}
        stored_ids: dict[int, str] = {}
        candidates: list[tuple[int, dict[str, Any], AccountRec]] = []
        for row, parsed in parsed_rows:
            account = self._account("residents", row, parsed["account"])
            if account is None:
                continue
            key = (account.number, parsed["effective_from"])
            if key in seen:
                self._problem(
                    "residents",
                    row,
                    "effective_from",
                    f"the same account and date as row {seen[key]}",
                    _fmt(key[1]),
                    code="duplicate_residents",
                )
                continue
            seen[key] = row
            candidates.append((row, parsed, account))
            if account.db_id is not None:
                stored_ids[account.db_id] = account.number
        stored: dict[tuple[str, date], ResidentsChange] = {}
        for part in _chunks(stored_ids):
            for change in ResidentsChange.objects.filter(account_id__in=part):
                stored[(stored_ids[change.account_id], change.effective_from)] = change
        for row, parsed, account in candidates:
            key = (account.number, parsed["effective_from"])
            existing = stored.get(key)
            if existing is not None:
                if existing.residents == parsed["residents"] and existing.reported_on == parsed.get(
                    "reported_on"
                ):
                    self.results["residents"].skipped += 1
                else:
                    self._problem(
                        "residents",
                        row,
                        "residents",
                        f"already stored for this date: {existing.residents} residents, reported on "
                        f"{_fmt(existing.reported_on)}",
                        _fmt(parsed["residents"]),
                        code="stored_with_other_data",
                    )
                continue
            self.new_residents.append(
                (account.number, key[1], parsed["residents"], parsed.get("reported_on"))
            )
            latest = self.latest_residents.get(account.number)
            if latest is None or latest[0] < key[1]:
                self.latest_residents[account.number] = (key[1], parsed["residents"])

    def _check_meters(self) -> None:
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
        for row, values in self._rows("meters", spec):
            parsed, ok = self._clean("meters", row, values, spec)
            parsed_rows.append((row, parsed, values, ok))
        numbers = {p["account"] for _r, p, _v, _ok in parsed_rows if "account" in p}
        self._accounts_resolve(numbers)
        self._meters_resolve(numbers)
        seen: dict[tuple[str, str], int] = {}
        already: list[tuple[MeterRec, MeterRec]] = []  # (from the file, stored)
        for row, parsed, values, ok in parsed_rows:
            key = (
                parsed.get("account", values.get("account", "")),
                parsed.get("serial", values.get("serial", "")),
            )
            if key in seen:
                self._problem(
                    "meters",
                    row,
                    "serial",
                    f"the same account and serial as row {seen[key]}",
                    key[1],
                    code="duplicate_meter",
                )
                continue
            seen[key] = row
            account = self._account("meters", row, parsed.get("account")) if "account" in parsed else None
            rec = self._meter_row(row, parsed, values, ok, account)
            if rec is None:
                self.bad_meters.add(key)
                continue
            stored = self.meters.get(key)
            if stored is not None and stored.row == 0:
                already.append((rec, stored))
                continue
            self.meters[key] = rec
        for part in _chunks(already):
            meters = Meter.objects.in_bulk([stored.db_id for _rec, stored in part])
            for rec, stored in part:
                new = dict(rec.new or {})
                if (rec.account.number, rec.serial) not in self.given_dues:
                    # Not given: the stored date may follow verifications since (verifications.csv).
                    new.pop("verification_due", None)
                differences = _differences(meters[stored.db_id], new)
                if differences:
                    self._problem(
                        "meters",
                        rec.row,
                        "serial",
                        "this meter is already stored with other data ("
                        + "; ".join(differences)
                        + "); an import does not change stored meters",
                        rec.serial,
                        code="stored_with_other_data",
                    )
                    self.bad_meters.add((rec.account.number, rec.serial))
                else:
                    self.results["meters"].skipped += 1

    def _meter_row(
        self,
        row: int,
        parsed: dict[str, Any],
        values: dict[str, str],
        ok: bool,
        account: AccountRec | None,
    ) -> MeterRec | None:
        def problem(column: str, message: str, value: Any = None, code: str = "") -> None:
            nonlocal ok
            self._problem("meters", row, column, message, value, code)
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
            if "verifications" in self.ds.files and "account" in parsed and "serial" in parsed:
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
                    message = _VALUE_MESSAGES[code].format(
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

    def _check_readings(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "serial": (f.text(40), True),
            "period": (f.a_period, True),
            "t1": (str, True),
            "t2": (str, False),
            "t3": (str, False),
            "kind": (f.choice(KIND_CODES), False),
            "channel": (f.choice(Channel.values), False),
            "submitted_at": (f.a_datetime(self.zone), False),
        }
        buffer: list[tuple[int, dict[str, Any], dict[str, str], bool]] = []
        for row, values in self._rows("readings", spec):
            parsed, ok = self._clean("readings", row, values, spec)
            buffer.append((row, parsed, values, ok))
            if len(buffer) >= 5000:
                self._readings_rows(buffer)
                buffer = []
        self._readings_rows(buffer)
        self._readings_per_meter()

    def _readings_rows(self, buffer: list[tuple[int, dict[str, Any], dict[str, str], bool]]) -> None:
        numbers = {p["account"] for _r, p, _v, _ok in buffer if "account" in p}
        self._accounts_resolve(numbers)
        self._meters_resolve(numbers)
        this_month = month_index(self.today)
        for row, parsed, values, ok in buffer:
            meter = self._reading_meter(row, parsed)
            if meter is None:
                continue
            shape = meter.shape
            scaled: list[int] = []
            for zone in (1, 2, 3):
                column = f"t{zone}"
                raw = values.get(column)
                if zone > shape.zones:
                    if raw is not None:
                        self._problem(
                            "readings",
                            row,
                            column,
                            f"the meter has {shape.zones} zone(s)",
                            raw,
                            code="wrong_zone_count",
                        )
                        ok = False
                    scaled.append(-1)
                    continue
                value, code = rules.parse_value(raw, shape)
                if value is None:
                    if raw is not None or zone > 1:
                        code = code or rules.NOT_A_NUMBER
                        message = _VALUE_MESSAGES[code].format(
                            zones=shape.zones, places=shape.decimal_places, digits=shape.digits
                        )
                        self._problem("readings", row, column, message, raw, code)
                    ok = False
                    scaled.append(-1)
                    continue
                scaled.append(_scaled(value))
            period = parsed.get("period")
            kind = parsed.get("kind", ReadingKind.CUSTOMER.value)
            if period is not None:
                index = month_index(period)
                label = values["period"]
                if index > this_month:
                    self._problem(
                        "readings", row, "period", "a month in the future", label, code="in_the_future"
                    )
                    ok = False
                if index < month_index(meter.installed):
                    self._problem(
                        "readings",
                        row,
                        "period",
                        f"before the meter was installed on {meter.installed}",
                        label,
                        code="before_installed",
                    )
                    ok = False
                if meter.removed is not None and index > month_index(meter.removed):
                    self._problem(
                        "readings",
                        row,
                        "period",
                        f"after the meter was removed on {meter.removed}",
                        label,
                        code="after_removed",
                    )
                    ok = False
                if kind == ReadingKind.INITIAL and index != month_index(meter.installed):
                    self._problem(
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
                    self._problem(
                        "readings",
                        row,
                        "kind",
                        f"a final reading is for the month of removal ({where})",
                        kind,
                        code="wrong_month_for_kind",
                    )
                    ok = False
            moment = parsed.get("submitted_at")
            if moment is not None and moment.date() > self.today:
                self._problem(
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
            given = -1 if moment is None else _epoch(moment)
            meter.readings.add(month_index(period), KIND_CODES[kind], row, scaled, given)

    def _reading_meter(self, row: int, parsed: dict[str, Any], section: str = "readings") -> MeterRec | None:
        """The meter a row of ``section`` names (in this dataset or stored); reports an unknown one.
        A meter or account whose own row is bad is not reported again."""
        number, serial = parsed.get("account"), parsed.get("serial")
        if (
            number is None
            or serial is None
            or number in self.bad_accounts
            or (number, serial) in self.bad_meters
        ):
            return None
        meter = self.meters.get((number, serial))
        if meter is None and self._account(section, row, number) is not None:
            self._problem(
                section,
                row,
                "serial",
                f"no meter with this serial on account {number}",
                serial,
                "unknown_meter",
            )
        return meter

    def _readings_per_meter(self) -> None:
        """Duplicates, readings already stored, closed months and values below the previous."""
        with_readings = [m for m in self.meters.values() if m.readings]
        done = 0
        for part in _chunks(with_readings, DB_CHUNK):
            ids = [m.db_id for m in part if m.db_id is not None]
            stored: dict[int, list[Entry]] = defaultdict(list)
            if ids:
                for mid, period, kind, status, moment, t1, t2, t3 in Reading.objects.filter(
                    meter_id__in=ids
                ).values_list("meter_id", "period", "kind", "status", "submitted_at", "t1", "t2", "t3"):
                    values = tuple(_scaled(Decimal(v)) for v in (t1, t2, t3) if v is not None)
                    latest = status == ReadingStatus.ACCEPTED
                    entry = Entry(month_index(period), KIND_CODES[kind], 0, values, _epoch(moment), latest)
                    stored[mid].append(entry)
            for meter in part:
                self._meter_history(meter, stored.get(meter.db_id or 0, []))
                meter.readings = None  # free the memory; pass 2 uses row_marks
            done += len(part)
            self.progress("checked the reading history of {n} meters", done, False)
        self.progress("checked the reading history of {n} meters", done, True)

    def _default_moment(self, period: int) -> int:
        """When a reading without ``submitted_at`` was given: noon of its month's last day (or
        now, for the current month)."""
        month = month_from_index(period)
        last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        return min(_epoch(datetime.combine(last_day, time(12), tzinfo=self.zone)), _epoch(self.now))

    def _meter_history(self, meter: MeterRec, stored: list[Entry]) -> None:
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
            rows = self._distinct_readings(kind, label, sorted(rows))
            if (period, kind) in stored_groups:
                self._against_stored(kind, label, rows, stored_groups[(period, kind)])
                continue
            if closed is not None and period <= closed:
                for row, _values, _moment in rows:
                    self._problem(
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
                (moment if moment >= 0 else self._default_moment(period), row, values)
                for row, values, moment in rows
            )
            for seq, (moment, row, values) in enumerate(timed, start=1):
                latest = seq == len(timed)
                kept.append(Entry(period, kind, row, values, moment, latest))
                if not latest:
                    self.superseded[row] = seq
                    self.replaced_by[row] = timed[seq][1]
        kept.sort()
        self._check_sequence(meter, kept)

    def _distinct_readings(
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
                self._problem(
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
            self._problem("readings", row, "period", message, label, "duplicate_reading")
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
                    self._problem(
                        "readings",
                        row,
                        "submitted_at",
                        f"the {name} readings of this meter for {label} are already stored, none at this time; "
                        "an import does not add readings to a month and kind that has stored ones",
                        code="month_readings_stored",
                    )
                    continue
            if same:
                self.row_marks[row] = RowMarks.SKIP
                self.results["readings"].skipped += 1
                continue
            self._problem(
                "readings",
                row,
                "t1",
                f"an accepted {name} reading for {label} is already stored with other values "
                f"({_show(other.values)})",
                _show(values),
                "stored_with_other_values",
            )

    def _check_sequence(self, meter: MeterRec, entries: list[Entry]) -> None:
        """Each month's readings against the meter's position at the end of the month before
        and, as a submission is checked (``metering.selectors.submission_check``), against the
        month's own reading given before it that counts (an inspector's; never a household's):
        a value below either is an error unless it fits a rollover past the meter's maximum (as
        ``domain.readings.check_reading`` decides). An inspector's control reading is not
        judged: it is what the meter showed. Values are in thousandths (ints); the domain rule is
        asked only when a value goes down."""
        initial = tuple(_scaled(v) for v in meter.initial)
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
                        self._problem(
                            "readings",
                            row,
                            "t1",
                            f"an initial reading must equal the meter's initial values ({_show(initial)})",
                            _show(values),
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
                    [_unscaled(v) for v in values],
                    [_unscaled(v) or Decimal(0) for v in previous],
                    None,
                    max(1, period - previous_period),
                    latest=None if floor is None else [_unscaled(v) or Decimal(0) for v in floor.values],
                    latest_params=None if floor is None else {"entry": floor},
                )
                for issue in checked.errors:
                    wrong.add(row)
                    zone = issue.zone or 1
                    below = issue.params.get("entry")
                    if isinstance(below, Entry):
                        label = f"{month_from_index(period):%Y-%m}"
                        what = f"the {KIND_NAMES[below.kind]} reading {_show(below.values[zone - 1 : zone])}"
                        where = f"{label}, row {below.row}" if below.row else f"{label}, stored"
                    else:
                        what, where = (
                            f"the previous reading {_show(previous[zone - 1 : zone])}",
                            previous_where,
                        )
                    self._problem(
                        "readings",
                        row,
                        f"t{zone}",
                        f"below {what} ({where}) and too far below it for a rollover of a "
                        f"{meter.shape.digits}-digit meter",
                        _show(values[zone - 1 : zone]),
                        code=rules.BELOW_PREVIOUS,
                    )
                if checked.ok and any(checked.rolled_over):
                    self.row_marks[row] = RowMarks.ROLLED
            good = [e for e in month if e.row not in wrong and e.latest]  # the superseded never count
            if not good:
                continue
            counted = month_reading(
                given_at(KIND_NAMES[e.kind], datetime.fromtimestamp(e.moment, self.zone), self.zone, source=e)
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
            given_at(KIND_NAMES[e.kind], datetime.fromtimestamp(e.moment, self.zone), self.zone, source=e)
            for e in candidates
        )
        return counted.source if counted is not None else None

    def _check_verifications(self) -> None:
        opening.verifications_check(self)

    def _check_balances(self) -> None:
        opening.balances_check(self)

    def _check_payments(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "paid_on": (f.a_date, True),
            "amount": (f.decimal(2, max_integer_digits=12, positive=True), True),
            "external_id": (f.text(80), True),
            "source": (f.text(40), False),
            "period": (f.a_period, False),
        }
        seen: dict[str, int] = {}
        rows: list[tuple[int, dict[str, Any]]] = []
        for row, values in self._rows("payments", spec):
            parsed, ok = self._clean("payments", row, values, spec)
            if "paid_on" in parsed and parsed["paid_on"] > self.today:
                self._problem("payments", row, "paid_on", "in the future", values["paid_on"], "in_the_future")
                ok = False
            if "paid_on" in parsed and parsed.get("period", date.min) > parsed["paid_on"]:
                self._problem(
                    "payments",
                    row,
                    "period",
                    f"after the month of payment ({parsed['paid_on']:%Y-%m}): a payment pays a month billed "
                    "before it or the month it is made in",
                    values["period"],
                    "period_after_payment",
                )
                ok = False
            ext = parsed.get("external_id")
            if ext is not None:
                if ext in seen:
                    self._problem(
                        "payments",
                        row,
                        "external_id",
                        f"the same external id as row {seen[ext]}",
                        ext,
                        code="duplicate_external_id",
                    )
                    continue
                seen[ext] = row
            if ok:
                rows.append((row, parsed))
        self._accounts_resolve(p["account"] for _r, p in rows)
        stored: dict[str, tuple[str, str, date, Decimal, str]] = {}
        for part in _chunks([p["external_id"] for _r, p in rows]):
            for ext, kind, acc_number, posted, amount, detail in LedgerEntry.objects.filter(
                external_id__in=part
            ).values_list("external_id", "kind", "account__number", "posted_on", "amount", "detail"):
                paid_for = detail.get("period", "") if isinstance(detail, dict) else ""
                stored[str(ext)] = (kind, acc_number, posted, amount, paid_for)
        for row, parsed in rows:
            account = self._account("payments", row, parsed["account"])
            if account is None:
                continue
            ext = parsed["external_id"]
            period = parsed.get("period")
            if period is not None and month_index(period) < month_index(account.opened_on):
                self._problem(
                    "payments",
                    row,
                    "period",
                    f"before the account was opened on {account.opened_on}",
                    f"{period:%Y-%m}",
                    "before_opened",
                )
                continue
            label = f"{period:%Y-%m}" if period is not None else ""
            if ext in stored:
                kind, acc_number, posted, amount, paid_for = stored[ext]
                if (
                    kind == EntryKind.PAYMENT
                    and acc_number == account.number
                    and posted == parsed["paid_on"]
                    and -amount == parsed["amount"]
                    and paid_for == label
                ):
                    self.results["payments"].skipped += 1
                else:
                    self._problem(
                        "payments",
                        row,
                        "external_id",
                        f"already used by a stored {kind} of account {acc_number} on {posted} for "
                        f"{_fmt(-amount if kind == EntryKind.PAYMENT else amount)}"
                        + (f" paying {paid_for}" if paid_for else ""),
                        ext,
                        "external_id_used",
                    )
                continue
            self.payments.append(
                (
                    row,
                    account.number,
                    parsed["paid_on"],
                    parsed["amount"],
                    ext,
                    parsed.get("source", "import"),
                    label,
                )
            )

    def _coverage_warnings(self) -> None:
        """Prices the first close will need: a tariff for every category and meter kind loaded,
        and a single-rate tariff and norms for every category (the norm basis)."""
        needed: dict[tuple[str, str], int] = defaultdict(int)
        categories: dict[str, int] = defaultdict(int)
        for account in self.accounts.values():
            if account.new is not None:
                needed[(account.category, TariffKind.SINGLE.value)] += 0
                categories[account.category] += 1
        for meter in self.meters.values():
            if meter.new is not None:
                needed[(meter.account.category, str(ZONES_KIND[meter.shape.zones]))] += 1
        if not needed:
            return
        have = {(k[1], k[2]) for k in self.tariffs if k[0] == self.region}
        have |= set(Tariff.objects.filter(region=self.region).values_list("category", "kind").distinct())
        for (category, kind), meters in sorted(needed.items()):
            if (category, kind) not in have:
                what = (
                    f"{meters} meter(s)" if meters else f"the norm basis of {categories[category]} account(s)"
                )
                self.warnings.append(
                    f"no {kind} tariff of {category} in region {self.region}: {what} cannot be billed until one is loaded"
                )
        norms = {n.category for n in self.new_norms if n.region == self.region}
        norms |= set(Norm.objects.filter(region=self.region).values_list("category", flat=True).distinct())
        for category, count in sorted(categories.items()):
            if category not in norms:
                self.warnings.append(
                    f"no consumption norm of {category} in region {self.region}: {count} account(s) cannot be "
                    "billed by norm until one is loaded"
                )

    # --- loading ---------------------------------------------------------------------------

    def load(self) -> dict[str, SectionResult]:
        """Write what ``validate`` accepted. Call inside ``transaction.atomic()``."""
        if self.problems:
            raise RuntimeError("the dataset has problems; nothing may be loaded")
        if "utility" in self.results:
            self._load_utility()
        if self.new_tariffs:
            self._load_tariffs()
        if self.new_norms:
            Norm.objects.bulk_create(self.new_norms, batch_size=self.batch_size)
            self.results["norms"].created = len(self.new_norms)
        self._load_accounts()
        self._load_residents()
        self._load_meters()
        if "verifications" in self.results:
            opening.verifications_load(self)
        if "readings" in self.results:
            self._load_readings()
        if self.balances:
            opening.balances_load(self)
        if self.payments:
            self._load_payments()
        return self.results

    def _load_utility(self) -> None:
        utility = UtilitySettings.objects.order_by("pk").first() or UtilitySettings()
        for name, value in self.utility_changes.items():
            setattr(utility, name, value)
        if self.utility_changes or utility.pk is None:
            utility.save()
        self.results["utility"].updated = len(self.utility_changes)
        self.results["utility"].extra["fields"] = len(self.utility_changes)

    def _load_tariffs(self) -> None:
        prices = bands = 0
        for rec in self.new_tariffs:
            region, category, kind, start = rec.key
            tariff = Tariff.objects.create(
                region=region, category=category, kind=kind, valid_from=start, valid_to=rec.valid_to
            )
            TariffBand.objects.bulk_create(
                TariffBand(tariff=tariff, band=b, upper_kwh=u) for b, u in rec.bands
            )
            TariffPrice.objects.bulk_create(
                TariffPrice(tariff=tariff, zone=z, band=b, price=p)
                for (z, b), p in sorted(rec.prices.items())
            )
            prices += len(rec.prices)
            bands += len(rec.bands)
        result = self.results["tariffs"]
        result.created = len(self.new_tariffs)
        result.extra.update(prices=prices, bands=bands)

    def _load_accounts(self) -> None:
        new = [a for a in self.accounts.values() if a.new is not None]
        done = 0
        for part in _chunks(new, self.batch_size):
            objects = []
            for rec in part:
                values = dict(rec.new or {})
                if "residents" not in values:
                    latest = self.latest_residents.get(rec.number)
                    values["residents"] = latest[1] if latest else 1
                objects.append(Account(**values))
            created = Account.objects.bulk_create(objects)
            ids = self._ids(created, Account, "number", [o.number for o in objects])
            for rec, obj in zip(part, objects, strict=True):
                rec.db_id = ids[obj.number]
                rec.new = None
            done += len(part)
            self.progress("loaded {n} accounts", done, False)
        if "accounts" in self.results:
            self.results["accounts"].created = len(new)
            self.progress("loaded {n} accounts", done, True)

    @staticmethod
    def _db_id(rec: AccountRec | MeterRec) -> int:
        if rec.db_id is None:  # pragma: no cover - loading order guarantees it
            raise RuntimeError(f"{rec} has no id yet")
        return rec.db_id

    @staticmethod
    def _ids(created: list[Any], model: Any, field_name: str, keys: list[Any]) -> dict[Any, int]:
        """Primary keys of just-created rows (returned by the database where it can, else read)."""
        if all(o.pk is not None for o in created):
            return {getattr(o, field_name): o.pk for o in created}
        return dict(model.objects.filter(**{f"{field_name}__in": keys}).values_list(field_name, "pk"))

    def _load_residents(self) -> None:
        if not self.new_residents:
            return
        for part in _chunks(self.new_residents, self.batch_size):
            ResidentsChange.objects.bulk_create(
                ResidentsChange(
                    account_id=self._db_id(self.accounts[number]),
                    effective_from=start,
                    residents=count,
                    reported_on=reported,
                )
                for number, start, count, reported in part
            )
        self.results["residents"].created = len(self.new_residents)

    def _load_meters(self) -> None:
        new = [m for m in self.meters.values() if m.new is not None]
        done = 0
        for part in _chunks(new, self.batch_size):
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
            self.progress("loaded {n} meters", done, False)
        if "meters" in self.results:
            self.results["meters"].created = len(new)
            self.progress("loaded {n} meters", done, True)

    def _load_readings(self) -> None:
        """Second pass over readings.csv: insert the new rows in batches. The rows were checked,
        so values are read with a plain Decimal; the insert is ``billing.bulk.bulk_insert``
        (executemany, COPY on PostgreSQL): Django's ``bulk_create`` compiles SQL for every batch
        of model instances, which would be most of the time for millions of readings."""
        spec_columns = [Column(c) for c in READING_FILE_COLUMNS]
        submitted = f.a_datetime(self.zone)
        ops = connection.ops
        confirmations: dict[int, str] = {}  # of the rows of a month with several readings
        newer = set(self.replaced_by.values())
        defaults: dict[date, datetime] = {}
        ignored: list[Problem] = []
        batch: list[tuple[Any, ...]] = []
        created = 0
        table = Reading._meta.db_table
        for row, values in rows_read(self.ds, "readings", spec_columns, ignored):
            mark = self.row_marks[row]
            if mark == RowMarks.SKIP:
                continue
            meter = self.meters[(values["account"], values["serial"])]
            meter_id = self._db_id(meter)
            period = f.a_period(values["period"])
            zones = meter.shape.zones
            t = [_plain_decimal(values[f"t{z}"]) if z <= zones else None for z in (1, 2, 3)]
            kind = values.get("kind", ReadingKind.CUSTOMER.value)
            if "submitted_at" in values:
                moment = submitted(values["submitted_at"])
            else:
                moment = defaults.get(period) or defaults.setdefault(
                    period, datetime.fromtimestamp(self._default_moment(month_index(period)), self.zone)
                )
            seq = self.superseded.get(row, 0)
            confirmation = _confirmation(kind, period, meter_id, seq)
            if seq or row in newer:
                confirmations[row] = confirmation
            status = ReadingStatus.SUPERSEDED if seq else ReadingStatus.ACCEPTED
            batch.append(
                (
                    meter_id,
                    self._db_id(meter.account),
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
            if len(batch) >= self.batch_size:
                created += bulk_insert(table, READING_DB_COLUMNS, batch)
                batch = []
                self.progress("loaded {n} readings", created, False)
        if ignored:  # the file changed between the two passes
            raise ImportAborted(ignored[0])
        created += bulk_insert(table, READING_DB_COLUMNS, batch)
        self._link_superseded(confirmations)
        self.results["readings"].created = created
        self.progress("loaded {n} readings", created, True)

    def _link_superseded(self, confirmations: dict[int, str]) -> None:
        """Each superseded reading is ``replaces`` of the next one of its month (as a resubmission
        links them); found by their confirmation numbers once all are inserted."""
        if not self.replaced_by:
            return
        ids: dict[str, int] = {}
        for part in _chunks(confirmations.values()):
            ids.update(Reading.objects.filter(confirmation__in=part).values_list("confirmation", "pk"))
        later = [
            Reading(pk=ids[confirmations[newer]], replaces_id=ids[confirmations[older]])
            for older, newer in sorted(self.replaced_by.items())
        ]
        Reading.objects.bulk_update(later, ["replaces"], batch_size=self.batch_size)

    def _load_payments(self) -> None:
        done = 0
        for part in _chunks(self.payments, self.batch_size):
            accounts = Account.objects.in_bulk([self.accounts[p[1]].db_id for p in part])
            for row, number, paid_on, amount, ext, source, paid_for in part:
                account = accounts[self.accounts[number].db_id or 0]
                detail: dict[str, Any] = {"import_row": row}
                if paid_for:
                    detail["period"] = paid_for  # the month it pays, as a registry's payment keeps it
                try:
                    payment_post(
                        account=account,
                        amount=amount,
                        paid_on=paid_on,
                        external_id=ext,
                        source=source,
                        detail=detail,
                    )
                except PaymentError as exc:
                    raise ImportAborted(
                        Problem(self.ds.display("payments"), row, "external_id", str(exc), ext, code=exc.code)
                    ) from exc
            done += len(part)
            self.progress("posted {n} payments", done, False)
        self.results["payments"].created = done
        self.progress("posted {n} payments", done, True)


def dataset_import(
    dataset: Dataset,
    *,
    dry_run: bool = False,
    today: date | None = None,
    batch_size: int = 2000,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate ``dataset`` and, if it has no problem, load it in one transaction (rolled back at
    the end with ``dry_run``). Nothing is loaded if there is any problem."""
    importer = Importer(dataset, today=today, batch_size=batch_size, progress=progress)
    problems = importer.validate()
    if problems:
        return ImportResult(problems, importer.warnings, importer.results, loaded=False, dry_run=dry_run)
    try:
        with transaction.atomic():
            results = importer.load()
            if dry_run:
                transaction.set_rollback(True)
    except ImportAborted as exc:
        return ImportResult([exc.problem], importer.warnings, importer.results, loaded=False, dry_run=dry_run)
    except IntegrityError as exc:
        problem = Problem(
            str(dataset.path.name),
            None,
            "",
            f"the database changed while the dataset was loading ({exc}); nothing was loaded: run the import again",
            code="database_changed",
        )
        return ImportResult([problem], importer.warnings, importer.results, loaded=False, dry_run=dry_run)
    return ImportResult([], importer.warnings, results, loaded=not dry_run, dry_run=dry_run)
