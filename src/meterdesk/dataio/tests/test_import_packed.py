"""What the readings check keeps of a reading (``importer.packed``) gives back what was put in."""

from __future__ import annotations

from decimal import Decimal

from meterdesk.dataio.importer.packed import (
    KIND_CODES,
    ReadingSlots,
    RowMarks,
    scaled,
    show,
    unscaled,
)


def test_reading_slots_give_back_each_reading_with_the_meters_zones():
    slots = ReadingSlots(zones=2)
    slots.add(
        300, KIND_CODES["customer"], 2, [scaled(Decimal("1100.5")), scaled(Decimal(550)), -1], 1_760_000_000
    )
    slots.add(301, KIND_CODES["control"], 7, [1_200_000, 600_000, -1], -1)

    assert len(slots) == 2
    assert list(slots) == [
        (300, KIND_CODES["customer"], 2, (1_100_500, 550_000), 1_760_000_000),
        (301, KIND_CODES["control"], 7, (1_200_000, 600_000), -1),
    ]
    assert show(next(iter(slots))[3]) == "1100.5, 550"


def test_values_scale_to_thousandths_and_back():
    assert scaled(Decimal("12.345")) == 12_345
    assert scaled(None) == -1
    assert unscaled(12_345) == Decimal("12.345")
    assert unscaled(-1) is None


def test_row_marks_are_new_unless_marked():
    marks = RowMarks()
    assert marks[5] == RowMarks.NEW
    marks[250_000] = RowMarks.ROLLED
    marks[3] = RowMarks.SKIP
    assert (marks[3], marks[4], marks[250_000], marks[10**7]) == (
        RowMarks.SKIP,
        RowMarks.NEW,
        RowMarks.ROLLED,
        RowMarks.NEW,
    )
