"""Money and volume arithmetic (Decimal only, rounded half up) and the one way amounts are written.

Every place that shows an amount to a person (the pages, the e-mails, the PDF documents, the
command line) writes it through ``money_text``: ``2 384,13 ₽`` in Russian (a narrow no-break space
between thousands, a decimal comma) and ``2,384.13 ₽`` in English, with a true minus sign and a
no-break space before the sign, so that an amount never breaks across lines. The API's JSON keeps
its machine form (``money_plain``: ``2384.13``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

KOPECK = Decimal("0.01")
KWH_PRECISION = Decimal("0.001")

MINUS = "\u2212"  # a true minus sign: read as "minus" by screen readers, unlike a hyphen
NARROW_NBSP = "\u202f"  # the Russian thousands separator (as in CLDR's ru number format)
NBSP = "\u00a0"  # between an amount and its sign, so that the two never part
RUBLE = "₽"


def round_money(value: Decimal) -> Decimal:
    """Round roubles to the kopeck, half up (the rule for every bill line)."""
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def round_volume(value: Decimal) -> Decimal:
    """Round a volume in kWh to three decimals, half up."""
    return value.quantize(KWH_PRECISION, rounding=ROUND_HALF_UP)


def is_russian(language: str | None) -> bool:
    """Whether ``language`` (``ru``, ``ru-RU``, ``en``, None …) writes numbers the Russian way;
    anything else is written the English way."""
    return (language or "").lower().replace("_", "-").split("-")[0] == "ru"


def number_text(value: Decimal | int, places: int, language: str | None) -> str:
    """``value`` rounded half up to ``places`` decimals and grouped by thousands in ``language``:
    ``12 345,6`` or ``12,345.6``; a true minus sign for a negative value (none for a zero)."""
    number = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{abs(number):,.{places}f}"
    if is_russian(language):
        text = text.replace(",", NARROW_NBSP).replace(".", ",")
    return f"{MINUS}{text}" if number < 0 else text


def money_text(amount: Decimal | int | None, language: str | None, *, symbol: bool = True) -> str:
    """Roubles with kopecks as a person reads them: ``2 384,13 ₽`` (ru), ``2,384.13 ₽`` (en);
    without the ``₽`` for a table column whose header names the unit; empty for None."""
    if amount is None:
        return ""
    text = number_text(amount, 2, language)
    return f"{text}{NBSP}{RUBLE}" if symbol else text


def volume_text(volume: Decimal | int | None, language: str | None) -> str:
    """A volume in kWh with its meaningful decimals only (up to 3), grouped like money:
    ``1 234,5`` (ru), ``1,234.5`` (en), ``380``; empty for None."""
    if volume is None:
        return ""
    value = Decimal(volume)
    exponent = value.normalize().as_tuple().exponent
    places = max(0, min(3, -exponent)) if isinstance(exponent, int) else 0
    return number_text(value, places, language)


def money_plain(amount: Decimal | int) -> str:
    """An amount for machines (the API's JSON, files): ``2384.13``, ``-12.50``."""
    return str(Decimal(amount).quantize(KOPECK, rounding=ROUND_HALF_UP))
