"""What the readings check keeps of readings.csv between its row pass and its meter pass, and
from the check to the load, as plain integers: a reading's kind as a code, its values in
thousandths, its time in seconds since the epoch. The file's rows are not kept: a dataset may
hold a million meters' years of readings, and a Python object per reading would not fit in
memory."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from meterdesk.metering.models import ReadingKind

KIND_CODES = {
    ReadingKind.INITIAL.value: 0,
    ReadingKind.CUSTOMER.value: 1,
    ReadingKind.CONTROL.value: 2,
    ReadingKind.FINAL.value: 3,
}
KIND_NAMES = {code: kind for kind, code in KIND_CODES.items()}
VALUE_SCALE = 1000  # values are kept as integers of thousandths


def scaled(value: Decimal | None) -> int:
    return -1 if value is None else int(value * VALUE_SCALE)


def unscaled(value: int) -> Decimal | None:
    return None if value < 0 else Decimal(value).scaleb(-3).normalize()


def show(values: Iterable[int]) -> str:
    """Values in thousandths, as a person writes them: ``1100, 550``."""
    return ", ".join(format(Decimal(v).scaleb(-3).normalize(), "f") for v in values)


#: One reading of ``ReadingSlots``, unpacked: (month index, kind code, row, the meter's zones'
#: values in thousandths, submitted_at in seconds since the epoch or -1). A plain tuple, not a
#: named one: it is built once per reading of the dataset.
PackedReading = tuple[int, int, int, tuple[int, ...], int]


class ReadingSlots:
    """The readings of one meter from readings.csv, as the check keeps them until the meter's
    history is checked: seven integers each, one after another in one ``array("q")``."""

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
        data, zones = self._data, self.zones
        period, kind, row, t1, moment = self._PERIOD, self._KIND, self._ROW, self._T1, self._MOMENT
        for i in range(0, len(data), self._STRIDE):
            yield (
                data[i + period],
                data[i + kind],
                data[i + row],
                tuple(data[i + t1 : i + t1 + zones]),
                data[i + moment],
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
