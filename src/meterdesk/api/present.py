"""Models and results of the services as the API's JSON-ready dicts (see schemas.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.preview import ChargePreview
from meterdesk.core.accounts import (
    MeterCard,
    PenaltyLine,
    StatementLine,
    StatementTotals,
    price_rows,
    statement_line,
    window_state,
)
from meterdesk.customers.models import Account, PremisesCategory
from meterdesk.domain.money import money_plain
from meterdesk.metering.messages import zone_label
from meterdesk.metering.models import Meter, MeterStatus, Reading
from meterdesk.tariffs.models import Tariff, TariffKind
from meterdesk.tariffs.selectors import tariff_spec


def money(value: Decimal | int) -> str:
    """An amount in the API's machine form, ``2384.13`` (``domain.money.money_plain``)."""
    return money_plain(value)


def kwh(value: Decimal | int) -> str:
    """A volume or a meter value with its meaningful decimals only: ``154``, ``12.5``."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def month(value: date) -> str:
    return f"{value:%Y-%m}"


def local(moment: datetime) -> datetime:
    return timezone.localtime(moment)


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# --- tariffs --------------------------------------------------------------------------------------


def tariff_out(tariff: Tariff) -> dict[str, Any]:
    prices = [
        {
            "zone": row.zone,
            "zone_label": row.label,
            "band": row.band,
            "upper_kwh": kwh(row.upper_kwh) if row.upper_kwh is not None else None,
            "price": money(row.price),
        }
        for row in price_rows(tariff_spec(tariff))
    ]
    return {
        "id": tariff.pk,
        "region": tariff.region,
        "category": tariff.category,
        "category_label": _label(PremisesCategory, tariff.category),
        "kind": tariff.kind,
        "kind_label": _label(TariffKind, tariff.kind),
        "zones": tariff.zones,
        "valid_from": tariff.valid_from,
        "valid_to": tariff.valid_to,
        "prices": prices,
    }


def tariff_ref(tariff: Tariff | None) -> dict[str, Any] | None:
    if tariff is None:
        return None
    return {
        "id": tariff.pk,
        "kind": tariff.kind,
        "valid_from": tariff.valid_from,
        "valid_to": tariff.valid_to,
    }


# --- accounts -------------------------------------------------------------------------------------


def account_summary(account: Account) -> dict[str, Any]:
    return {
        "number": account.number,
        "address": account.address,
        "category": account.category,
        "category_label": _label(PremisesCategory, account.category),
    }


def payment_out(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "posted_on": entry.posted_on,
        "period": month(entry.period),
        "amount": money(-entry.amount),
        "source": entry.reason,
    }


# --- meters ---------------------------------------------------------------------------------------


def window_out() -> dict[str, Any]:
    """The submission window as the customer sees it today (``core.accounts.window_state``)."""
    state = window_state()
    return {
        "start_day": state.start_day,
        "end_day": state.end_day,
        "open_now": state.open,
        "opens_on": state.opens_on,
        "closes_on": state.closes_on,
        "message": state.text,
    }


def zone_values(meter: Meter, values: tuple[Decimal, ...]) -> list[dict[str, Any]]:
    return [
        {"zone": zone, "label": zone_label(meter.zones, zone), "value": kwh(value)}
        for zone, value in enumerate(values, start=1)
    ]


def meter_out(card: MeterCard, window: dict[str, Any]) -> dict[str, Any]:
    """A meter's card (``core.accounts.meter_card``) with the window (``window_out``)."""
    meter, last = card.meter, card.last
    return {
        "id": meter.pk,
        "serial": meter.serial,
        "model": meter.model_name,
        "zones": meter.zones,
        "zone_labels": card.labels,
        "digits": meter.digits,
        "decimal_places": meter.decimal_places,
        "installed_on": meter.installed_on,
        "verification_due": meter.verification_due,
        "verification_overdue": card.overdue,
        "status": meter.status,
        "status_label": _label(MeterStatus, meter.status),
        "accepts_readings": card.accepts_readings,
        "last_reading": (
            {
                "id": last.pk,
                "period": month(last.period),
                "values": [
                    {"zone": zone, "label": label, "value": kwh(value)}
                    for zone, (label, value) in enumerate(card.last_values, start=1)
                ],
                "submitted_at": local(last.submitted_at),
            }
            if last is not None
            else None
        ),
        "window": window,
    }


def reading_out(reading: Reading, meter: Meter) -> dict[str, Any]:
    return {
        "id": reading.pk,
        "confirmation": reading.confirmation,
        "meter_id": meter.pk,
        "account_number": meter.account.number,
        "period": month(reading.period),
        "values": zone_values(meter, reading.values),
        "kind": reading.kind,
        "channel": reading.channel,
        "status": reading.status,
        "submitted_at": local(reading.submitted_at),
        "rolled_over": reading.rolled_over,
        "confirmed": [c for c in reading.confirmed.split(",") if c],
    }


def charge_out(charge: ChargePreview, meter: Meter) -> dict[str, Any]:
    return {
        "period": month(charge.period) if charge.period is not None else None,
        "basis": charge.basis,
        "months": charge.months,
        "consumption": [
            {"zone": zone, "label": zone_label(meter.zones, zone), "kwh": kwh(value)}
            for zone, value in enumerate(charge.consumption, start=1)
        ],
        "lines": [
            {
                "zone": line.zone,
                "zone_label": zone_label(meter.zones, line.zone) if line.zone else zone_label(1, 1),
                "band": line.band,
                "volume": kwh(line.volume),
                "price": money(line.price),
                "amount": money(line.amount),
                "basis": line.basis,
                "reason": line.reason,
                "words": line.words,
            }
            for line in charge.lines
        ],
        "total": money(charge.total) if charge.total is not None else None,
        "tariff": tariff_ref(charge.tariff),
    }


# --- the ledger -----------------------------------------------------------------------------------


def ledger_line_out(entry: LedgerEntry, control: set[tuple[date, int | None]]) -> dict[str, Any]:
    """One line of the ledger with its basis in words; ``control`` from ``core.accounts.control_months``."""
    return statement_line_out(statement_line(entry, control))


def statement_line_out(line: StatementLine) -> dict[str, Any]:
    entry = line.entry
    return {
        "id": entry.pk,
        "period": month(entry.period),
        "posted_on": entry.posted_on,
        "kind": entry.kind,
        "basis": line.basis,
        "reason": entry.reason,
        "words": line.words,
        "meter_id": entry.meter_id,
        "meter_serial": line.meter,
        "zone": entry.zone,
        "zone_label": line.zone,
        "band": line.band,
        "volume": kwh(line.volume) if line.volume is not None else None,
        "price": money(line.price) if line.price is not None else None,
        "amount": money(line.amount),
    }


def statement_summary(totals: StatementTotals) -> dict[str, Any]:
    """A month's sums (``core.accounts.statement_totals``) as the API writes them: payments as the
    ledger holds them, negative."""
    return {
        "period": month(totals.period),
        "basis": totals.basis,
        "opening_balance": money(totals.opening_balance),
        "charges": money(totals.charges),
        "recalculations": money(totals.recalculations),
        "payments": money(-totals.paid),
        "penalty": money(totals.penalty),
        "closing_balance": money(totals.closing_balance),
        "total_due": money(totals.due),
        "due_date": totals.due_date,
        "closed_at": local(totals.closed_at),
    }


def penalty_out(line: PenaltyLine) -> dict[str, Any]:
    return {"amount": money(line.amount), "parts": line.parts}
