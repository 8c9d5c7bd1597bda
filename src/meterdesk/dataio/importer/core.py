"""What every section of an import shares: the run (the dataset read row by row, its problems and
warnings, the results, the progress line, the utility's settings and clock), the base of a
section, and small helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from django.utils import timezone

from meterdesk.customers.models import PremisesCategory
from meterdesk.dataio import fields as f
from meterdesk.dataio.source import SECTIONS, Column, Dataset, Problem, rows_read
from meterdesk.domain import readings as rules
from meterdesk.utility.models import UtilitySettings

if TYPE_CHECKING:
    from meterdesk.dataio.importer.records import Records

#: Progress callback: (what, with "{n}" where the count goes; the count so far; finished).
Progress = Callable[[str, int, bool], None]
#: A section's columns: name -> (parser, required).
Spec = dict[str, tuple[f.Parser, bool]]

New = TypeVar("New")

DB_CHUNK = 500  # ids or keys per IN (...) query
PROGRESS_EVERY = 10_000

ACCOUNT_NUMBER = f.ACCOUNT_NUMBER
CATEGORY = f.choice(PremisesCategory.values)
#: The words of ``domain.readings.parse_value``'s codes, for a meter's initial values and readings.
VALUE_MESSAGES = {
    rules.REQUIRED: "required: the meter has {zones} zone(s)",
    rules.NOT_A_NUMBER: "not a number",
    rules.NEGATIVE: "must not be negative",
    rules.NOT_WHOLE: "the meter shows whole kWh only (decimal_places is 0)",
    rules.TOO_MANY_DECIMALS: "more decimal places than the meter's {places}",
    rules.TOO_MANY_DIGITS: "more integer digits than the meter's {digits}",
}


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


class ImportRun:
    """One import of one dataset: what its sections read, report and count."""

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
        self.progress: Progress = progress or (lambda _what, _n, _done: None)
        stored = UtilitySettings.objects.order_by("pk").first()
        self.utility = stored or UtilitySettings()
        # utility.csv may set these two: the sections after it read them from here.
        self.region = self.utility.tariff_region
        self.zone: tzinfo = ZoneInfo(self.utility.time_zone)
        self._today = today
        self.now = timezone.now()

    @property
    def today(self) -> date:
        """In the utility's time zone: the one utility.csv gives, once it is checked."""
        if self._today is None:
            self._today = datetime.now(self.zone).date()
        return self._today

    def problem(
        self, section: str, row: int | None, column: str, message: str, value: Any = None, code: str = ""
    ) -> None:
        shown = None if value is None else (value if isinstance(value, str) else fmt(value))
        self.problems.append(Problem(self.ds.display(section), row, column, message, shown, code))

    def rows(self, section: str, spec: Spec) -> Iterator[tuple[int, dict[str, str]]]:
        """The rows of a section's file (row number, {column: text}), with a progress line."""
        columns = [Column(name, required) for name, (_parser, required) in spec.items()]
        count = 0
        for row_no, values in rows_read(self.ds, section, columns, self.problems):
            count += 1
            if count % PROGRESS_EVERY == 0:
                self.progress(f"checked {{n}} rows of {section}.csv", count, False)
            yield row_no, values
        self.progress(f"checked {{n}} rows of {section}.csv", count, True)

    def clean(
        self, section: str, row: int, values: dict[str, str], spec: Spec
    ) -> tuple[dict[str, Any], bool]:
        """Parse every cell of a row; report each bad or missing one. Returns (parsed, ok)."""
        out: dict[str, Any] = {}
        ok = True
        for name, (parser, required) in spec.items():
            raw = values.get(name)
            if raw is None:
                if required:
                    self.problem(section, row, name, "required", code="required")
                    ok = False
                continue
            try:
                out[name] = parser(raw)
            except f.FieldError as exc:
                self.problem(section, row, name, str(exc), raw, exc.code)
                ok = False
        return out, ok

    def dates_in_order(
        self,
        section: str,
        row: int,
        values: dict[str, str],
        parsed: dict[str, Any],
        first: str,
        then: str,
        *,
        code: str,
    ) -> bool:
        """Whether the date in column ``then`` is not before the one in ``first`` (either one
        missing or bad: nothing to compare); reports ``then`` with ``code`` when it is."""
        if first in parsed and then in parsed and parsed[then] < parsed[first]:
            self.problem(section, row, then, f"before {first}", values[then], code=code)
            return False
        return True


class Section:
    """One file of a dataset. ``check`` is the first pass: it reads the file, reports every
    problem and keeps what is to be loaded, writing nothing. ``load``, called only when no
    section has a problem, writes it (inside the run's transaction). Each is called only when
    the dataset has the file."""

    name: ClassVar[str]

    def __init__(self, run: ImportRun, records: Records) -> None:
        self.run = run
        self.records = records

    @property
    def result(self) -> SectionResult:
        return self.run.results[self.name]

    def check(self) -> None:
        raise NotImplementedError

    def load(self) -> None:
        raise NotImplementedError


class Adding(Section, Generic[New]):
    """A section that adds records: ``check`` keeps what is to be created in ``new``, ``load``
    creates it."""

    def __init__(self, run: ImportRun, records: Records) -> None:
        super().__init__(run, records)
        self.new: list[New] = []


def chunks(items: Iterable[Any], size: int = DB_CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def fmt(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def differences(stored: Any, new: dict[str, Any]) -> list[str]:
    """The fields of a stored row that differ from the file's, in words."""
    return [
        f"{name} {fmt(getattr(stored, name))!r} stored, {fmt(value)!r} in the file"
        for name, value in new.items()
        if getattr(stored, name) != value
    ]
