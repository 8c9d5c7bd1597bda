"""Words for the bill: each charge line's basis and reason, balances, payments and penalties.

Every channel that explains a charge (the personal account, the preview after a submission, the
e-mail, the printed bill, the phone line) takes its sentences from here, so that a basis is
described the same way everywhere. The functions take plain values (a line's ``basis``,
``reason`` and ``detail`` as the engine gives them and the ledger stores them) and return text in
the active language.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from meterdesk.domain import billing as engine
from meterdesk.domain.money import money_text, volume_text
from meterdesk.metering.messages import (
    month_name as month_name,
)  # defined in metering, which billing builds on

if TYPE_CHECKING:
    from meterdesk.billing.models import LedgerEntry

# The reason codes of the penalty and of a payment (the ledger's, not the engine's).
R_LATE_PAYMENT = "late_payment"
#: the penalty of a debt paid off, settled at the rate of the day of payment (the difference)
R_PENALTY_SETTLED = "penalty_settled"
#: The basis and reason of a balance carried over from the previous system (``meterdesk import``,
#: balances.csv: ``dataio.importer.balances``); its penalty is a ``late_payment`` line marked ``opening``.
B_OPENING = "opening"

#: The basis of a paid service's ledger line (``EntryKind.SERVICE``; its detail names the service).
B_SERVICE = "service"
R_OPENING_BALANCE = "opening_balance"


def money(amount: Decimal | int | None, *, symbol: bool = True) -> str:
    """``domain.money.money_text`` in the active language: ``1 234,56 ₽``, ``1,234.56 ₽``
    (without the ``₽`` for a table column that names its unit)."""
    return money_text(amount, get_language(), symbol=symbol)


def kwh(volume: Decimal | int | None) -> str:
    """A volume in kWh with its meaningful decimals only (up to 3), grouped: ``1 234,5``."""
    return volume_text(volume, get_language())


def month_label(value: date | str) -> str:
    """A billing month as on the bill: ``03.2026`` (from a date or a ``2026-03`` code)."""
    if isinstance(value, str):
        try:
            year, month = int(value[:4]), int(value[5:7])
        except ValueError:
            return value
        return f"{month:02d}.{year}"
    return f"{value.month:02d}.{value.year}"


def balance_words(balance: Decimal) -> str:
    """The account's balance in one phrase: a debt, a credit, or nothing to pay."""
    if balance > 0:
        return _("You owe %(amount)s") % {"amount": money(balance)}
    if balance < 0:
        return _("Credit %(amount)s") % {"amount": money(-balance)}
    return _("Nothing to pay")


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _residents(detail: Mapping[str, Any]) -> int | None:
    """The number of residents the norm was charged for (None when it changed within the month).

    The engine writes ``"2×78"`` (2 residents, 78 kWh each), or several such parts joined by
    ``+`` when the count changed within the month."""
    text = str(detail.get("residents", ""))
    if not text or "+" in text:
        return None
    return _int(text.split("×", 1)[0], default=-1) if "×" in text else None


def _norm_reason(reason: str) -> str:
    return {
        engine.R_AVERAGE_EXHAUSTED: _(
            "readings have been missing for longer than an estimate from the average is allowed"
        ),
        engine.R_NO_BASIS: _("there are not yet enough readings to estimate from your average"),
        engine.R_METER_NEW: _("a new meter is billed from the 1st of the month after its installation"),
        engine.R_NO_METER: _("the premises has no meter"),
    }.get(reason, "")


def _failed_increased_words(count: int | None, coefficient: str, limit: int) -> str:
    """The norm times the coefficient of p.60: a failed meter left in place after its estimates."""
    if limit:
        why = ngettext(
            "the meter is faulty, lost or past its verification date and was not replaced within "
            "%(limit)s month billed by estimate — replace or verify it",
            "the meter is faulty, lost or past its verification date and was not replaced within "
            "%(limit)s months billed by estimate — replace or verify it",
            limit,
        ) % {"limit": limit}
    else:
        why = _(
            "the meter is faulty, lost or past its verification date and was not replaced in time — "
            "replace or verify it"
        )
    if count is None or count < 0:
        words = _("by the norm with the increasing coefficient %(coefficient)s") % {
            "coefficient": coefficient
        }
    else:
        words = ngettext(
            "by the consumption norm for %(n)s resident with the increasing coefficient %(coefficient)s",
            "by the consumption norm for %(n)s residents with the increasing coefficient %(coefficient)s",
            count,
        ) % {"n": count, "coefficient": coefficient}
    return f"{words}: {why}"


def _norm_words(basis: str, reason: str, detail: Mapping[str, Any]) -> str:
    count = _residents(detail)
    if basis == engine.NORM_INCREASED:
        coefficient = number_format(Decimal(str(detail.get("coefficient", "1.5"))).normalize())
        if reason == engine.R_FAILED_EXHAUSTED:
            return _failed_increased_words(count, coefficient, _int(detail.get("limit")))
        if count is None or count < 0:
            return _(
                "by the norm with the increasing coefficient %(coefficient)s: the premises has no meter"
            ) % {"coefficient": coefficient}
        return ngettext(
            "by the consumption norm for %(n)s resident with the increasing coefficient "
            "%(coefficient)s: the premises has no meter",
            "by the consumption norm for %(n)s residents with the increasing coefficient "
            "%(coefficient)s: the premises has no meter",
            count,
        ) % {"n": count, "coefficient": coefficient}
    if count is None or count < 0:
        words = _("by the consumption norm for the residents of each part of the month")
    else:
        words = ngettext(
            "by the consumption norm for %(n)s resident",
            "by the consumption norm for %(n)s residents",
            count,
        ) % {"n": count}
    why = _norm_reason(reason)
    return f"{words}: {why}" if why else words


def _actual_words(detail: Mapping[str, Any]) -> str:
    months = _int(detail.get("months"), 1)
    since = detail.get("since")
    if months > 1 and since:
        words = ngettext(
            "by your readings: the consumption over %(n)s month since the reading of %(since)s",
            "by your readings: the consumption over %(n)s months since the reading of %(since)s",
            months,
        ) % {"n": months, "since": month_label(str(since))}
    else:
        words = _("by your readings")
    return words + _rollover_words(detail)


def _rollover_words(detail: Mapping[str, Any]) -> str:
    if str(detail.get("rollover", "")) == "1":
        return "; " + _("the meter passed its maximum and started again from zero")
    return ""


def _control_words(reason: str, detail: Mapping[str, Any]) -> str:
    """A month billed from an inspector's control reading is a charge; only the part below the
    values billed before is a recalculation (``domain.billing.statement_kind``)."""
    if reason == engine.R_BELOW_BILLED:
        return _(
            "recalculation after the inspector's control reading: the meter shows less than the "
            "readings billed before"
        )
    months = _int(detail.get("months"), 1)
    since = detail.get("since")
    if months > 1 and since:
        words = ngettext(
            "by the inspector's control reading: the consumption over %(n)s month since the reading "
            "of %(since)s",
            "by the inspector's control reading: the consumption over %(n)s months since the reading "
            "of %(since)s",
            months,
        ) % {"n": months, "since": month_label(str(since))}
    else:
        words = _("by the inspector's control reading")
    return words + _rollover_words(detail)


def _average_words(reason: str, detail: Mapping[str, Any]) -> str:
    if reason == engine.R_FAILED:
        words = _(
            "estimated from your average: the meter is faulty or its verification is overdue, so its "
            "readings cannot be used — have it verified or replaced"
        )
    else:
        words = _("estimated from your average — submit readings to have it recalculated")
    run, limit = _int(detail.get("run")), _int(detail.get("limit"))
    if run and limit:
        words += " " + _("(estimated month %(run)s of at most %(limit)s in a row)") % {
            "run": run,
            "limit": limit,
        }
    return words


def _recalculation_words(detail: Mapping[str, Any], after_control: bool) -> str:
    first, last = detail.get("from"), detail.get("to")
    if not first:
        return _("recalculation of earlier estimated charges")
    span = {"from": month_label(str(first)), "to": month_label(str(last or first))}
    norm = str(detail.get("norm", "")) == "1"
    single = span["from"] == span["to"]
    if after_control:
        if norm:
            if single:
                return (
                    _(
                        "recalculation of the month %(from)s billed by the norm, after the inspector's "
                        "control reading"
                    )
                    % span
                )
            return (
                _(
                    "recalculation of the months %(from)s to %(to)s billed by the norm, after the "
                    "inspector's control reading"
                )
                % span
            )
        if single:
            return (
                _("recalculation of the estimated month %(from)s after the inspector's control reading")
                % span
            )
        return (
            _(
                "recalculation of the estimated months %(from)s to %(to)s after the inspector's control reading"
            )
            % span
        )
    if norm:
        if single:
            return _("recalculation of the month %(from)s billed by the norm, after your readings") % span
        return (
            _("recalculation of the months %(from)s to %(to)s billed by the norm, after your readings") % span
        )
    if single:
        return _("recalculation of the estimated month %(from)s after your readings") % span
    return _("recalculation of the estimated months %(from)s to %(to)s after your readings") % span


def line_words(
    basis: str,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
    *,
    after_control: bool = False,
) -> str:
    """The basis of one charge line in plain words, e.g. "by your readings".

    ``after_control``: the line is part of a month whose actual values came from an inspector's
    control reading (a recalculation then says so rather than "after your readings")."""
    detail = detail or {}
    if basis == engine.ACTUAL:
        return _actual_words(detail)
    if basis == engine.AVERAGE:
        return _average_words(reason, detail)
    if basis in (engine.NORM, engine.NORM_INCREASED):
        return _norm_words(basis, reason, detail)
    if basis == engine.RECALCULATION:
        return _recalculation_words(detail, after_control)
    if basis == engine.CONTROL:
        return _control_words(reason, detail)
    if basis == engine.REPLACEMENT:
        if reason == engine.R_BELOW_BILLED:
            return _(
                "recalculation by the final reading of the replaced meter: it shows less than the "
                "readings billed before"
            )
        return _("final reading of the replaced meter")
    if basis == engine.CORRECTION:
        month = detail.get("period") or detail.get("month")
        if month:
            return _("correction of the charge for %(month)s") % {"month": month_label(str(month))}
        return _("correction of an earlier charge")
    if basis == B_SERVICE:
        return _service_words(detail)
    if basis == B_OPENING:
        # A debt or, negative, a credit: the amount's sign tells which.
        return _("balance carried over from the previous system")
    if reason == R_LATE_PAYMENT and detail.get("opening"):
        return _("penalty carried over from the previous system")
    if reason == R_LATE_PAYMENT:
        return _("penalty for late payment")
    if reason == R_PENALTY_SETTLED:
        month = detail.get("debt")
        if month:
            return _("penalty on the debt for %(month)s settled at the key rate of the day of payment") % {
                "month": month_label(str(month))
            }
        return _("penalty settled at the key rate of the day of payment")
    return _("charge for electricity")


def _service_words(detail: Mapping[str, Any]) -> str:
    """A paid service's line: "<service> — <price> (request <number>)", the name in the active
    language (the detail holds both)."""
    found = detail.get("service")
    names: Mapping[str, str] = found if isinstance(found, dict) else {}
    name = names.get("en" if (get_language() or "ru").startswith("en") else "ru") or names.get("ru") or ""
    try:
        price = money(Decimal(str(detail["price"])))
    except (KeyError, ArithmeticError, ValueError):
        return _("paid service %(name)s") % {"name": name}
    return _("%(name)s — %(price)s (service request %(request)s)") % {
        "name": name or _("paid service"),
        "price": price,
        "request": detail.get("request", ""),
    }


def entry_words(entry: LedgerEntry, *, after_control: bool = False) -> str:
    """``line_words`` of a ledger line of a statement (a correction posted later, which has no basis
    of its own, is a correction; any other line without one is named by its kind)."""
    from meterdesk.billing.models import EntryKind

    basis = entry.basis or (engine.CORRECTION if entry.kind == EntryKind.CORRECTION else entry.kind)
    return line_words(basis, entry.reason, entry.detail or {}, after_control=after_control)


def entry_zone(entry: LedgerEntry) -> str:
    """The zone of a ledger line in words: its meter's zone, "single rate" for a volume without a
    meter (a norm), nothing for a line without a volume."""
    from meterdesk.metering.messages import zone_label

    if entry.meter is not None and entry.zone:
        return zone_label(entry.meter.zones, entry.zone)
    return zone_label(1, 1) if entry.volume is not None else ""


def _settlement_words(detail: Mapping[str, Any]) -> str:
    """The settlement of a debt's penalty when it was paid off (``penalty_settled``) in a sentence."""
    try:
        paid_off = date.fromisoformat(str(detail["paid_off"]))
        values = {
            "month": month_label(str(detail["debt"])),
            "day": f"{paid_off:%d.%m.%Y}",
            "rate": number_format(Decimal(str(detail["key_rate"])).normalize()),
            "settled": money(Decimal(str(detail["settled"]))),
            "accrued": money(Decimal(str(detail["accrued"]))),
        }
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return ""
    return (
        _(
            "The debt for %(month)s was paid off on %(day)s: its penalty for the whole overdue period is "
            "settled at the key rate of that day (%(rate)s%%, capped where a cap is in force), "
            "%(settled)s instead of the %(accrued)s charged month by month"
        )
        % values
    )


def penalty_words(detail: Mapping[str, Any] | None = None) -> list[str]:
    """One sentence per part of a late-payment penalty (a debt of a month, overdue for some days
    at a fraction of the key rate), for the statement; a settlement of a debt paid off is first
    summed up in a sentence of its own."""
    parts = (detail or {}).get("parts") or []
    out = []
    if detail and detail.get("opening"):
        out.append(_("penalty carried over from the previous system"))
    if detail and detail.get("debt"):
        summary = _settlement_words(detail)
        if summary:
            out.append(summary)
    for part in parts:
        try:
            days = int(part["days"])
            overdue = Decimal(str(part["overdue"]))
            rate = Decimal(str(part["rate"])).normalize()
            divisor = int(part["divisor"])
            month = month_label(str(part["period"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
        out.append(
            ngettext(
                "%(days)s day late on %(overdue)s owed for %(month)s: 1/%(divisor)s of the key rate "
                "(%(rate)s%%) for each day",
                "%(days)s days late on %(overdue)s owed for %(month)s: 1/%(divisor)s of the key rate "
                "(%(rate)s%%) for each day",
                days,
            )
            % {
                "days": days,
                "overdue": money(overdue),
                "month": month,
                "divisor": divisor,
                "rate": number_format(rate),
            }
        )
    return out
