"""Checking a submitted meter reading: the rules of DOMAIN.md "Meters and readings".

``check_reading`` takes the raw values a customer typed (one per zone), the meter's shape,
the previous accepted values and the customer's average monthly consumption, and returns either
the parsed values with the consumption they imply, or the list of problems, each with a stable
code that the channels turn into words. Two outcomes are not errors but need the customer's
explicit confirmation: a value that fits a rollover past the meter's maximum, and a value that
implies an unusually high consumption.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

# Error codes (stable: the API and the translations key on them).
REQUIRED = "required"
NOT_A_NUMBER = "not_a_number"
NEGATIVE = "negative"
NOT_WHOLE = "not_whole"
TOO_MANY_DECIMALS = "too_many_decimals"
TOO_MANY_DIGITS = "too_many_digits"
BELOW_PREVIOUS = "reading_below_previous"
WRONG_ZONE_COUNT = "wrong_zone_count"

# Confirmation codes.
CONFIRM_ROLLOVER = "rollover"
CONFIRM_HIGH = "high_consumption"
#: A confirmation as the customer sends it: the code, the zone and the value confirmed
#: (``rollover:1=30``). The API's schema validates ``confirm`` by the same pattern.
CONFIRMATION_PATTERN = r"(rollover|high_consumption):([1-9])=([0-9]{1,28}(?:\.[0-9]{1,6})?)"
CONFIRMATION_RE = re.compile(CONFIRMATION_PATTERN)

#: A value below the previous one is offered as a rollover only if the consumption it implies
#: is at most this share of the meter's range (a tenth: 10,000 kWh on a five-digit meter).
ROLLOVER_MAX_SHARE = Decimal("0.1")
#: Consumption above ``HIGH_FACTOR`` × the monthly average asks for confirmation ...
HIGH_FACTOR = Decimal(5)
#: ... but never below this many kWh a month, so that a near-zero average (an empty dacha)
#: does not make every ordinary reading look suspicious.
HIGH_FLOOR_KWH = Decimal(50)

_NUMBER_RE = re.compile(r"([+-]?)([0-9]+)(?:[.,]([0-9]+))?")
#: A Decimal with more places than this is judged by its exponent, not written out in full.
_MAX_PLACES = 100


@dataclass(frozen=True)
class MeterShape:
    """What a reading of this meter can look like."""

    zones: int
    digits: int
    decimal_places: int = 0

    @property
    def capacity(self) -> Decimal:
        """10^digits: the value at which the meter rolls over to zero."""
        return Decimal(10) ** self.digits


@dataclass(frozen=True)
class Issue:
    """One problem with one zone's value (zone is 1-based; 0 means the reading as a whole)."""

    zone: int
    code: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckedReading:
    """The result of ``check_reading``."""

    values: tuple[Decimal, ...]
    consumption: tuple[Decimal, ...]
    rolled_over: tuple[bool, ...]
    errors: tuple[Issue, ...]
    confirmations: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def token(self, issue: Issue) -> str:
        """What the customer sends to confirm ``issue``: its code, zone and value."""
        return confirmation_token(issue.code, issue.zone, self.values[issue.zone - 1])

    def unconfirmed(self, confirmed: Iterable[str]) -> tuple[Issue, ...]:
        """The confirmations still needed, given the tokens the customer has sent. A token
        confirms one zone's value: after a change of the value, it is asked for again."""
        given = {parsed for text in confirmed if (parsed := confirmation_parse(text)) is not None}
        return tuple(c for c in self.confirmations if (c.code, c.zone, self.values[c.zone - 1]) not in given)


def confirmation_token(code: str, zone: int, value: Decimal) -> str:
    """``high_consumption:1=98765``: a confirmation of ``code`` for this value of this zone."""
    return f"{code}:{zone}={value:f}"


def confirmation_parse(text: str) -> tuple[str, int, Decimal] | None:
    """(code, zone, value) of a confirmation token, or None if it is not one."""
    match = CONFIRMATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    return match[1], int(match[2]), Decimal(match[3])


def parse_value(raw: str | int | Decimal | None, shape: MeterShape) -> tuple[Decimal | None, str | None]:
    """Parse one zone's typed value. Returns (value, None) or (None, error code).

    Spaces (``12 345``) are ignored and a comma is accepted as the decimal mark. The digits are
    counted on the text, before any arithmetic: Decimal keeps 28 significant digits, so a longer
    value would otherwise be rounded or fail.
    """
    if raw is None:
        return None, REQUIRED
    if isinstance(raw, bool):
        return None, NOT_A_NUMBER
    if isinstance(raw, int):
        if raw < 0:
            return None, NEGATIVE
        if raw >= 10**shape.digits:  # before str(): a huge int has no text (int_max_str_digits)
            return None, TOO_MANY_DIGITS
        text = str(raw)
    elif isinstance(raw, Decimal):
        if not raw.is_finite():
            return None, NOT_A_NUMBER
        if raw.is_signed():
            return None, NEGATIVE
        decimal_text = _decimal_text(raw, shape)
        if decimal_text in (NOT_WHOLE, TOO_MANY_DECIMALS, TOO_MANY_DIGITS):
            return None, decimal_text
        text = decimal_text
    else:
        text = "".join(str(raw).split()).replace("\u00a0", "")
    if text == "":
        return None, REQUIRED
    match = _NUMBER_RE.fullmatch(text)
    if match is None:
        return None, NOT_A_NUMBER
    sign, whole, fraction = match.groups()
    if sign == "-":
        return None, NEGATIVE
    # Trailing zeros after the decimal mark carry no digits: "12345.0" is whole, "123.40" has one place.
    fraction = (fraction or "").rstrip("0")
    whole = whole.lstrip("0") or "0"
    if len(fraction) > shape.decimal_places:
        return None, NOT_WHOLE if shape.decimal_places == 0 else TOO_MANY_DECIMALS
    if len(whole) > shape.digits:
        return None, TOO_MANY_DIGITS
    return Decimal(f"{whole}.{fraction}" if fraction else whole), None


def _decimal_text(raw: Decimal, shape: MeterShape) -> str:
    """A non-negative finite Decimal as plain text, or the error code of a value whose exponent
    alone shows it is too long (without writing out its digits)."""
    _sign, digits, exponent = raw.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - finite, checked by the caller
        return NOT_A_NUMBER
    if not any(digits):
        return "0"
    if exponent > shape.digits:
        return TOO_MANY_DIGITS
    if exponent < -_MAX_PLACES:
        # Trailing zeros do not count as places: 1.000… with any exponent is whole.
        trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
        if exponent + trailing < -shape.decimal_places:
            return NOT_WHOLE if shape.decimal_places == 0 else TOO_MANY_DECIMALS
    return format(raw, "f")


def check_reading(
    shape: MeterShape,
    raw_values: Sequence[str | int | Decimal | None],
    previous: Sequence[Decimal],
    average: Sequence[Decimal | None] | None = None,
    months_since_previous: int = 1,
    *,
    high_factor: Decimal = HIGH_FACTOR,
    high_floor: Decimal = HIGH_FLOOR_KWH,
    rollover_max_share: Decimal = ROLLOVER_MAX_SHARE,
    latest: Sequence[Decimal] | None = None,
    latest_params: Mapping[str, object] | None = None,
    authoritative: bool = False,
) -> CheckedReading:
    """Check one reading of every zone of a meter against the previous accepted one.

    ``previous`` holds the value of each zone that counted for the latest earlier month (the
    meter's initial values when it has no readings yet): the month's consumption is measured
    from it. ``average`` holds the average monthly consumption of each zone, or None where there
    is no basis for one. ``months_since_previous`` is how many billing months the consumption
    covers (at least 1).

    ``latest`` holds the values of a reading of the same month given before this one that the
    new one must go on from (an inspector's control reading), None if there is none. The value
    must then be at least that reading's, or pass zero after it (a rollover, confirmed); an issue
    about it carries ``latest_params`` (who gave it, when). And it must still go on from
    ``previous``, which the month is billed against: below it only by a rollover, confirmed by
    the submitter unless ``latest`` already shows the meter past zero.

    ``authoritative``: the utility's own reading (an inspector's control reading) is what the meter
    shows: a value below ``previous`` is a credit of what was billed (p.61), not an error, and
    needs no confirmation (the billing engine tells a credit from a rollover).
    """
    errors: list[Issue] = []
    confirmations: list[Issue] = []
    if len(raw_values) != shape.zones:
        return CheckedReading(
            (), (), (), (Issue(0, WRONG_ZONE_COUNT, {"expected": shape.zones, "got": len(raw_values)}),), ()
        )
    if len(previous) != shape.zones:
        raise ValueError("previous must hold one value per zone")
    months = Decimal(max(1, months_since_previous))
    values: list[Decimal] = []
    consumption: list[Decimal] = []
    rolled: list[bool] = []
    for index, raw in enumerate(raw_values):
        zone = index + 1
        value, code = parse_value(raw, shape)
        if value is None:
            code = code or NOT_A_NUMBER
            params: dict[str, object] = {}
            if code == TOO_MANY_DIGITS:
                params["digits"] = shape.digits
            elif code == TOO_MANY_DECIMALS:
                params["places"] = shape.decimal_places
            errors.append(Issue(zone, code, params))
            continue
        prev = previous[index]
        if authoritative:
            values.append(value)
            consumption.append(value - prev)
            rolled.append(False)
            continue
        # The month's consumption, since the previous month's value (past zero if below it).
        did_roll = value < prev
        used = value - prev + (shape.capacity if did_roll else 0)
        # The value goes on from the latest reading before it: the month's own, if any.
        floor = latest[index] if latest is not None else None
        base, about = (prev, {}) if floor is None else (floor, dict(latest_params or {}))
        if value < base:
            since = value + shape.capacity - base
            if since > shape.capacity * rollover_max_share:
                errors.append(Issue(zone, BELOW_PREVIOUS, {"previous": base, **about}))
                continue
            confirmations.append(
                Issue(
                    zone, CONFIRM_ROLLOVER, {"previous": base, "value": value, "consumption": since, **about}
                )
            )
        elif (
            did_roll
            and floor is not None
            and floor + shape.capacity - prev > shape.capacity * rollover_max_share
        ):
            # At or above the month's reading but below what was billed, with no pass through zero
            # between them: billed against ``prev`` it would count as one.
            errors.append(Issue(zone, BELOW_PREVIOUS, {"previous": prev}))
            continue
        avg = average[index] if average is not None and index < len(average) else None
        if avg is not None:
            limit = max(avg * high_factor * months, high_floor * months)
            if used > limit:
                confirmations.append(
                    Issue(zone, CONFIRM_HIGH, {"consumption": used, "average": avg, "factor": high_factor})
                )
        values.append(value)
        consumption.append(used)
        rolled.append(did_roll)
    if errors:
        return CheckedReading((), (), (), tuple(errors), ())
    return CheckedReading(tuple(values), tuple(consumption), tuple(rolled), (), tuple(confirmations))


def average_monthly(points: Sequence[tuple[int, Decimal]], capacity: Decimal | None = None) -> Decimal | None:
    """Average monthly consumption of one zone from actual readings.

    ``points`` are (month index, value) pairs of accepted actual readings in chronological order,
    where the month index counts months (year * 12 + month). Consumption between two points is the
    difference (plus ``capacity`` if the value went down, i.e. the meter rolled over). Returns None
    when there is no interval to average over.
    """
    if len(points) < 2:
        return None
    total = Decimal(0)
    for (_, before), (_, after) in pairwise(points):
        delta = after - before
        if delta < 0 and capacity is not None:
            delta += capacity
        total += delta
    months = points[-1][0] - points[0][0]
    if months <= 0:
        return None
    return total / Decimal(months)
