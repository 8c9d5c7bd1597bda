"""Words for the codes of ``domain.readings`` and ``metering.services``: every channel uses these."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy, ngettext_lazy
from django.utils.translation import gettext as _

from meterdesk.domain import readings as rules
from meterdesk.domain.money import is_russian, volume_text
from meterdesk.domain.month_reading import CONTROL
from meterdesk.domain.readings import Issue


def zone_label(zones: int, zone: int) -> str:
    """The customer's name for a zone of a 1-, 2- or 3-zone meter."""
    if zones == 1:
        return _("Single rate")
    if zones == 2:
        return {1: _("T1 (day)"), 2: _("T2 (night)")}[zone]
    return {1: _("T1 (peak)"), 2: _("T2 (night)"), 3: _("T3 (semi-peak)")}[zone]


def _kwh(value: object) -> str:
    """A volume or a reading in the one way numbers are written (``domain.money.volume_text``)."""
    if isinstance(value, Decimal | int):
        return volume_text(value, get_language())
    return str(value)


def month_name(value: date) -> str:
    """A month and its year as a word, in the nominative: ``ноябрь 2026``, ``November 2026``.

    It also serves "за ноябрь 2026" (the accusative of a month is its nominative). Django's
    ``F`` is the nominative capitalised as for a heading; Russian writes month names in lower
    case within a sentence or a cell (``capfirst`` where one starts a sentence). For the
    genitive ("15 ноября", "с ноября 2026") use Django's ``E``."""
    text = date_format(value, "F Y")
    return text.lower() if is_russian(get_language()) else text


def _inspector_day(params: Mapping[str, object]) -> str:
    """The day of the inspector's control reading an issue is about (``metering.selectors.
    submission_check``), as ``10.11.2026``; empty when it is about another reading."""
    day = params.get("taken_on")
    if params.get("kind") != CONTROL or not isinstance(day, date):
        return ""
    return f"{day:%d.%m.%Y}"


#: The sentence of each code that says no more than the code itself.
_SAID = {
    rules.REQUIRED: gettext_lazy("Enter the value shown on the meter."),
    rules.NOT_A_NUMBER: gettext_lazy("Enter digits only, as shown on the meter."),
    rules.NEGATIVE: gettext_lazy("A meter reading cannot be negative."),
    rules.NOT_WHOLE: gettext_lazy(
        "Enter whole kilowatt-hours only, without the digits after the decimal point."
    ),
}
#: The sentence of each code that gives the meter's limit: the parameter that holds it, and the
#: sentence (singular and plural) with the limit as ``n``.
_COUNTED = {
    rules.TOO_MANY_DECIMALS: (
        "places",
        ngettext_lazy(
            "This meter accepts at most %(n)d digit after the decimal point.",
            "This meter accepts at most %(n)d digits after the decimal point.",
            "n",
        ),
    ),
    rules.TOO_MANY_DIGITS: (
        "digits",
        ngettext_lazy(
            "This meter shows at most %(n)d digit before the decimal point.",
            "This meter shows at most %(n)d digits before the decimal point.",
            "n",
        ),
    ),
    rules.WRONG_ZONE_COUNT: (
        "expected",
        ngettext_lazy(
            "This meter needs %(n)d value, one per zone.", "This meter needs %(n)d values, one per zone.", "n"
        ),
    ),
}


def issue_message(issue: Issue) -> str:
    """A clear, specific sentence for one problem with one value."""
    p = issue.params
    code = issue.code
    if code in _SAID:
        return str(_SAID[code])
    if code in _COUNTED:
        name, sentence = _COUNTED[code]
        return str(sentence % {"n": int(str(p.get(name, 0)))})
    inspector = _inspector_day(p)
    if code == rules.BELOW_PREVIOUS and inspector:
        return _(
            "The value is lower than the inspector's control reading of %(day)s (%(previous)s). "
            "Check the number."
        ) % {"day": inspector, "previous": _kwh(p.get("previous"))}
    if code == rules.BELOW_PREVIOUS:
        return _("The value is lower than the previous reading (%(previous)s). Check the number.") % {
            "previous": _kwh(p.get("previous"))
        }
    if code == rules.CONFIRM_ROLLOVER and inspector:
        return _(
            "The value is lower than the inspector's control reading of %(day)s (%(previous)s). If "
            "the meter passed its maximum and started again from zero since then, the consumption "
            "since then is %(consumption)s kWh. Confirm that this is so."
        ) % {"day": inspector, "previous": _kwh(p.get("previous")), "consumption": _kwh(p.get("consumption"))}
    if code == rules.CONFIRM_ROLLOVER:
        return _(
            "The value is lower than the previous reading (%(previous)s). If the meter passed its "
            "maximum and started again from zero, the consumption is %(consumption)s kWh. Confirm "
            "that this is so."
        ) % {"previous": _kwh(p.get("previous")), "consumption": _kwh(p.get("consumption"))}
    if code == rules.CONFIRM_HIGH:
        return _(
            "This value means a consumption of %(consumption)s kWh, more than %(factor)s times your "
            "average of %(average)s kWh a month. Check the number and confirm it if it is right."
        ) % {
            "consumption": _kwh(p.get("consumption")),
            "factor": _kwh(p.get("factor")),
            "average": _kwh(Decimal(str(p.get("average"))).quantize(Decimal(1))),
        }
    return _("The value was not accepted.")


def window_message(start_day: int, end_day: int) -> str:
    return _("Readings can be submitted from the %(start)s to the %(end)s of each month.") % {
        "start": _ordinal_day(start_day, ru_suffix="го"),
        "end": _ordinal_day(end_day, ru_suffix="е"),
    }


def _ordinal_day(day: int, ru_suffix: str) -> str:
    if (get_language() or "ru").startswith("ru"):
        return f"{day}-{ru_suffix}"
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def month_closed_message(period: date) -> str:
    """A reading for a month already closed (``month_closed``)."""
    return _(
        "Readings for %(month)s are no longer accepted: that month has already been billed. "
        "Submit your next reading in the next month's window."
    ) % {"month": month_name(period)}


def month_moved_message(closed: date, period: date) -> str:
    """A reading for a closed month that counts for the next open month (the rules profile's
    ``closed_month_readings: next_month``)."""
    return _("%(closed)s has already been billed, so this reading counts for %(month)s.") % {
        "closed": month_name(closed),
        "month": month_name(period),
    }
