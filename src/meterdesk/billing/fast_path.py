"""The set-based fast path of the close (PostgreSQL).

The common case — every meter of the account has exactly one accepted customer reading in the
month (no control or final reading: which of several readings counts is domain.month_reading's
to say, so such a month goes through the engine), works (not failed, not removed, billing since
before the month), has the state of the month before with no estimates to true up, no rollover, a
tariff without volume bands; and the account has the statement of the month before — is billed by
one statement of INSERT … SELECT per chunk (fast_path.sql) instead of the Python engine. What it
writes is exactly what ``domain.billing.bill_account``, the codec and ``close_engine`` write for
such an account (tests/test_fast_path.py closes the same data both ways and compares every row);
any account outside that case goes through the engine, in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from django.conf import settings
from django.db import connection

from meterdesk.billing.close_penalties import PenaltyEntries, detail_json, due_date
from meterdesk.billing.codec import EXTRA_FIELDS as _CODEC_EXTRA_FIELDS
from meterdesk.billing.messages import R_LATE_PAYMENT
from meterdesk.billing.models import AccountClose, LedgerEntry, MeterBillingState
from meterdesk.customers.models import Account, PremisesCategory
from meterdesk.domain import billing as engine
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import RulesProfile
from meterdesk.domain.tariffs import TariffSpec
from meterdesk.metering.models import Meter, Reading


def fast_path_available(wanted: bool | None = None) -> bool:
    """Whether the chunks' common case goes through the SQL fast path: asked for (``wanted``; by
    default the setting METERDESK_BILLING_FAST_PATH), on PostgreSQL (on SQLite every account goes
    through the engine), and with no field in ``MeterState`` beyond those the SQL writes."""
    return (
        (settings.METERDESK_BILLING_FAST_PATH if wanted is None else wanted)
        and connection.vendor == "postgresql"
        and not _CODEC_EXTRA_FIELDS
    )


def _tariff_or_none(pricing: engine.Pricing, category: str, zones: int, period: date) -> TariffSpec | None:
    try:
        return pricing.tariff(category, zones, period)
    except LookupError:  # no such tariff (MissingPrice): those accounts take the engine, which says so
        return None


def _fast_prices(pricing: engine.Pricing, period: date) -> tuple[list[Any], ...]:
    """(category, zones, price of zone 1, 2, 3) of every tariff the fast path may use: both the
    meter's tariff and the single-rate one of the category are in force (the engine asks for
    both), and the meter's has no volume bands."""
    out: tuple[list[Any], ...] = ([], [], [], [], [])
    for category in PremisesCategory.values:
        if _tariff_or_none(pricing, category, 1, period) is None:
            continue
        for zones in (1, 2, 3):
            spec = _tariff_or_none(pricing, category, zones, period)
            if spec is None or spec.has_bands or spec.zones != zones:
                continue
            out[0].append(category)
            out[1].append(zones)
            for zone in (1, 2, 3):
                out[1 + zone].append(spec.price(zone, 1) if zone <= zones else None)
    return out


def _label(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def _fast_single_prices(pricing: engine.Pricing, period: date) -> tuple[list[str], list[Decimal]]:
    """(category, price) of the single-rate tariffs without bands (to reverse norm estimates)."""
    out: tuple[list[str], list[Decimal]] = ([], [])
    for category in PremisesCategory.values:
        spec = _tariff_or_none(pricing, category, 1, period)
        if spec is not None and not spec.has_bands and spec.zones == 1:
            out[0].append(category)
            out[1].append(spec.price(1, 1))
    return out


def _label_sql(index: str) -> str:
    """The 'YYYY-MM' label of a month index (year × 12 + month), as the codec writes it."""
    return (
        f"(lpad((({index} - 1) / 12)::text, 4, '0') || '-' || lpad((({index} - 1) %% 12 + 1)::text, 2, '0'))"
    )


def _month_index_sql(label: str) -> str:
    """The month index (year × 12 + month) of a 'YYYY-MM' label, as ``codec`` reads it."""
    return f"(substr({label}, 1, 4)::int * 12 + substr({label}, 6, 2)::int)"


#: The statement: a ``str.format`` template (tables and SQL expressions by name, literal braces
#: doubled) whose result takes psycopg's named parameters (``%(name)s``, a literal ``%`` doubled).
_FAST_SQL = resources.files("meterdesk.billing").joinpath("fast_path.sql").read_text(encoding="utf-8")


def _penalty_rows(
    penalties: Mapping[int, tuple[Decimal, list[Any]]], settlements: Mapping[int, PenaltyEntries]
) -> list[list[Any]]:
    """The penalty entries for the fast path, [account, amount, detail, reason], as the engine's
    loop writes them: by account, the month's penalty first, then the settlements."""
    rows: list[list[Any]] = []
    for acc in sorted(penalties.keys() | settlements.keys()):
        if acc in penalties:
            rows.append([acc, penalties[acc][0], {"parts": penalties[acc][1]}, R_LATE_PAYMENT])
        rows.extend([acc, amount, detail, reason] for amount, reason, detail in settlements.get(acc, ()))
    return rows


def fast_penalty_candidates(cur: Any, span: list[int], period: date, end: date) -> list[int]:
    """Accounts of the span whose statement of the month before leaves an overdue debt (opening
    balance above what that month billed): those the close asks the penalty of."""
    cur.execute(
        f"SELECT c.account_id FROM {AccountClose._meta.db_table} c JOIN {Account._meta.db_table} a "  # noqa: S608
        f"ON a.id = c.account_id WHERE c.account_id BETWEEN %s AND %s AND c.period = %s "
        f"AND c.closing_balance - (c.charges + c.recalculations) > 0 AND a.opened_on <= %s "
        # The accounts' own bounds too (the same rows: a.id = c.account_id): without them the
        # planner hashed the whole accounts table (a sequential scan per chunk, growing with N).
        f"AND a.id BETWEEN %s AND %s AND (a.closed_on IS NULL OR a.closed_on >= %s) ORDER BY c.account_id",
        [*span, add_months(period, -1), end, *span, period],
    )
    return [row[0] for row in cur.fetchall()]


def fast_close(
    cur: Any,
    *,
    span: list[int],
    period: date,
    run_id: int | None,
    moment: datetime,
    profile: RulesProfile,
    pricing: engine.Pricing,
    penalties: Mapping[int, tuple[Decimal, list[Any]]],
    settlements: Mapping[int, PenaltyEntries] | None = None,
) -> int:
    """Close the common-case accounts of the span in SQL; returns how many."""
    cats, zones, p1, p2, p3 = _fast_prices(pricing, period)
    if not cats:
        return 0
    single_cats, single_prices = _fast_single_prices(pricing, period)
    end = engine.period_end(period)
    sql = _FAST_SQL.format(
        t_acc=Account._meta.db_table,
        t_close=AccountClose._meta.db_table,
        t_read=Reading._meta.db_table,
        t_meter=Meter._meta.db_table,
        t_state=MeterBillingState._meta.db_table,
        t_ledger=LedgerEntry._meta.db_table,
        last_index=_month_index_sql("(u.last ->> 0)"),
        data_last_index=_month_index_sql("(mt.data -> 'last' ->> 0)"),
        first_index=_month_index_sql("(mt.data -> 'anchors' -> 0 ->> 0)"),
        span_index=_month_index_sql("(av0.span_pt ->> 0)"),
        cut_label=_label_sql(f"(l.li - {int(profile.average_min_months)})"),
    )
    cur.execute(
        sql,
        {
            "lo": span[0],
            "hi": span[1],
            "period": period,
            "prev": add_months(period, -1),
            "end": end,
            "p_label": _label(period),
            "p_index": period.year * 12 + period.month,
            "young_months": profile.average_min_months_young,
            "missing_limit": profile.missing_average_periods,
            "cut": json.dumps({"cut": _label(add_months(period, -profile.average_min_months))}),
            "cut_text": _label(add_months(period, -profile.average_min_months)),
            "run": run_id,
            "moment": moment,
            "due": due_date(period, profile),
            "p_cat": cats,
            "p_zones": zones,
            "p_1": p1,
            "p_2": p2,
            "p_3": p3,
            "s_cat": single_cats,
            "s_price": single_prices,
            "pen": detail_json(_penalty_rows(penalties, settlements or {})),
        },
    )
    return int(cur.rowcount)
