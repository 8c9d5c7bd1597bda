"""The close's penalties: the month's accrual on overdue debt and the settlements of debts paid off
(``domain.penalties``), read for many accounts at once. The rebill computes a month's penalty again
with ``penalties_accrued``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection

from meterdesk.billing.close_read import as_date
from meterdesk.billing.codec import db_money as _money
from meterdesk.billing.messages import R_PENALTY_SETTLED
from meterdesk.billing.models import AccountClose, LedgerEntry
from meterdesk.domain import billing as engine
from meterdesk.domain.periods import add_months, month_parse
from meterdesk.domain.profiles import RulesProfile


def due_date(period: date, profile: RulesProfile) -> date:
    return add_months(period, 1).replace(day=profile.due_day)


def detail_json(data: Any) -> str:
    """JSON text as the ledger's details keep it (the engine's lines and the fast path's alike)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


#: An account's penalty inputs: the (period, due date, amount) of each month's debt before the
#: month, and its payments posted to the month or before (``penalty_inputs``).
PenaltyInputs = tuple[list[tuple[date, date, Decimal]], list[Any]]


def _in_part() -> tuple[str, Callable[[list[int]], Any]]:
    """The accounts as one parameter: the statements' text is the same for any number of them, so
    psycopg keeps it parsed and PostgreSQL prepared (psycopg parses a text with a list of
    placeholders anew on every call)."""
    if connection.vendor == "postgresql":
        return "account_id = ANY(%s)", list
    return "account_id IN (SELECT value FROM json_each(%s))", json.dumps


def penalty_inputs(account_ids: list[int], period: date, profile: RulesProfile) -> dict[int, PenaltyInputs]:
    """The debts and payments of ``account_ids`` that the penalties of ``period`` are computed from,
    read once for the month's accrual and the settlements.

    The payments made before the month for no stated month count as their sum (what each debt
    was paid before the month does not depend on the order of the payments:
    ``domain.penalties._allocate``), one for those posted to earlier months and one for those
    posted to this one, dated the day before the month; those after it as one, dated the day after
    it. A payment for a month, and one made in the month, keeps its day. An account in arrears
    has many payments: its penalties then allocate a few (``_paid_off_exactly`` says when the
    settlements need every payment on its own: ``_payments_each``)."""
    from meterdesk.domain.penalties import Payment

    t_ledger = LedgerEntry._meta.db_table
    in_part, as_param = _in_part()
    end = engine.period_end(period)
    day_before, day_after = date.fromordinal(period.toordinal() - 1), date.fromordinal(end.toordinal() + 1)
    dues: dict[date, date] = {}
    debts: dict[int, list[tuple[date, date, Decimal]]] = defaultdict(list)
    payments: dict[int, list[Payment]] = defaultdict(list)
    paid_for = _paid_for_sql()
    with connection.cursor() as cur:
        for start in range(0, len(account_ids), 500):
            part = as_param(account_ids[start : start + 500])
            _debt_rows(cur, in_part, part, period, profile, dues, debts)
            # Rows of either sign are summed apart, so that a payment entry with a positive
            # amount is still refused by Payment.
            cur.execute(
                f"SELECT account_id, CASE WHEN posted_on > %s THEN %s WHEN posted_on < %s AND {paid_for} = '' "  # noqa: S608
                f"THEN %s ELSE posted_on END AS day, CASE WHEN period < %s THEN %s ELSE %s END AS posted, "
                f"CASE WHEN posted_on > %s THEN '' ELSE {paid_for} END AS paid_for, SUM(amount) "
                f"FROM {t_ledger} WHERE {in_part} AND period <= %s AND kind = 'payment' "
                f"GROUP BY account_id, day, posted, paid_for, amount > 0 ORDER BY account_id, day, posted, paid_for",
                [
                    end,
                    day_after,
                    period,
                    day_before,
                    period,
                    add_months(period, -1),
                    period,
                    end,
                    part,
                    period,
                ],
            )
            for acc, day, posted, month, amount in cur.fetchall():
                payments[acc].append(
                    Payment(as_date(day), -_money(amount), as_date(posted), _month_or_none(month))
                )
    return {acc: (debts.get(acc, []), payments.get(acc, [])) for acc in account_ids}


def _payments_each(account_ids: list[int], period: date) -> dict[int, list[Any]]:
    """Every payment of ``account_ids`` posted to ``period`` or before, on its own (one per day,
    posted month and stated month)."""
    from meterdesk.domain.penalties import Payment

    t_ledger = LedgerEntry._meta.db_table
    in_part, as_param = _in_part()
    payments: dict[int, list[Payment]] = defaultdict(list)
    paid_for = _paid_for_sql()
    with connection.cursor() as cur:
        for start in range(0, len(account_ids), 500):
            cur.execute(
                f"SELECT account_id, posted_on, period, {paid_for} AS paid_for, SUM(amount) "  # noqa: S608
                f"FROM {t_ledger} WHERE {in_part} AND kind = 'payment' AND period <= %s "
                f"GROUP BY account_id, posted_on, period, paid_for, amount > 0 "
                f"ORDER BY account_id, posted_on, period, paid_for",
                [as_param(account_ids[start : start + 500]), period],
            )
            for acc, posted_on, posted, month, amount in cur.fetchall():
                payments[acc].append(
                    Payment(as_date(posted_on), -_money(amount), as_date(posted), _month_or_none(month))
                )
    return payments


def _paid_off_exactly(found: list[Any], payments: list[Any], period: date) -> bool:
    """Whether the debts ``found`` paid off (``debts_paid_off``) from the payments as
    ``penalty_inputs`` sums them are paid exactly as by every payment on its own: when no payment
    states a month, every payment pays the oldest debts first, so a debt paid wholly by payments
    made in the month (none of it by the sum of those made before) is paid by the same payments
    on the same days either way."""
    from meterdesk.domain.penalties import stated_month

    first = period.toordinal()
    if any(payment.paid_for is not None and stated_month(payment) is not None for payment in payments):
        return False
    return all(day >= first for _period, group in found for _debt, paid in group for day, _amount in paid)


def _accrued(inputs: PenaltyInputs, period: date, profile: RulesProfile, rates: Any) -> Any:
    """The month's penalty of one account (``domain.penalties.PenaltyResult``)."""
    from meterdesk.domain.penalties import debts_for_month, penalty_for_month

    rows, payments = inputs
    return penalty_for_month(
        debts_for_month(rows, payments, period), payments, period, rates, profile.penalty
    )


def penalties_accrued(
    account_ids: list[int], period: date, profile: RulesProfile
) -> dict[int, tuple[Decimal, list[Any]]]:
    """Penalty accrued in ``period`` for accounts that may hold overdue debt."""
    from meterdesk.domain.penalties import key_rates_load

    rates = key_rates_load()
    out: dict[int, tuple[Decimal, list[Any]]] = {}
    for acc, inputs in penalty_inputs(account_ids, period, profile).items():
        result = _accrued(inputs, period, profile, rates)
        if result.amount:
            out[acc] = (result.amount, penalty_parts(result))
    return out


def _paid_for_sql() -> str:
    """The month a payment entry was made for (its detail's ``period``, ``YYYY-MM``, as a bank
    registry or an import keeps it), '' when none: an SQL expression."""
    if connection.vendor == "postgresql":
        return "COALESCE(detail ->> 'period', '')"
    return "COALESCE(json_extract(detail, '$.period'), '')"


def _month_or_none(value: Any) -> date | None:
    """A payment's stated month (``_paid_for_sql``) as its first day; None when there is none or
    it is not a month (such a payment pays the oldest debts, as one without)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return month_parse(value)
    except ValueError:
        return None


def _debt_rows(
    cur: Any,
    in_part: str,
    part: Any,
    period: date,
    profile: RulesProfile,
    dues: dict[date, date],
    debts: dict[int, list[tuple[date, date, Decimal]]],
) -> None:
    """Add the (period, due date, amount) of each month's debt before ``period`` to ``debts``:
    its charges, recalculations and corrections summed. Paid services (``orders``) are left out: the
    penalty of the Housing Code art. 155 p. 14 is on payments for housing and utilities, and a
    service is a contract of its own."""
    from meterdesk.billing.rebill import R_REBILL, debt_month

    t_ledger = LedgerEntry._meta.db_table
    # A rebill's corrections (any month: one that lowers a past bill counts from that
    # month) come on rows of their own, with their detail: ``rebill.debt_month``.
    cur.execute(
        f"SELECT account_id, period, SUM(amount), CASE WHEN reason = %s THEN detail END AS rebill "  # noqa: S608
        f"FROM {t_ledger} WHERE {in_part} AND (period < %s OR reason = %s) "
        f"AND kind IN ('charge', 'recalculation', 'correction') "
        f"GROUP BY account_id, period, rebill ORDER BY account_id, period",
        [R_REBILL, part, period, R_REBILL],
    )
    by_month: dict[int, dict[date, Decimal]] = defaultdict(dict)
    for acc, p, amount, rebill in cur.fetchall():
        p = as_date(p) if rebill is None else debt_month(rebill, as_date(p))
        if p is not None and p < period:
            by_month[acc][p] = by_month[acc].get(p, Decimal(0)) + _money(amount)
    for acc, months in by_month.items():
        for p in sorted(months):
            due = dues.get(p)
            if due is None:
                due = dues[p] = due_date(p, profile)
            debts[acc].append((p, due, months[p]))


#: What the close posts as penalty for an account: (amount, reason, detail) entries.
PenaltyEntries = list[tuple[Decimal, str, dict[str, Any]]]


def penalties_of(
    account_ids: list[int], period: date, profile: RulesProfile
) -> tuple[dict[int, tuple[Decimal, list[Any]]], dict[int, PenaltyEntries]]:
    """The penalties the close of ``period`` posts for accounts that may hold overdue debt: the
    month's accrual (``penalties_accrued``) and the settlements of debts paid off, from one
    read of their debts and payments."""
    from meterdesk.domain.penalties import debts_paid_off, key_rates_load

    rates = key_rates_load()
    accrued: dict[int, tuple[Decimal, list[Any]]] = {}
    paid_off: dict[int, list[Any]] = {}
    again: dict[int, list[Any]] = {}
    for acc, inputs in penalty_inputs(account_ids, period, profile).items():
        result = _accrued(inputs, period, profile, rates)
        if result.amount:
            accrued[acc] = (result.amount, penalty_parts(result))
        rows, payments = inputs
        debts = _debts(rows)
        found = debts_paid_off(debts, payments, period)
        if found and _paid_off_exactly(found, payments, period):
            paid_off[acc] = found
        elif found:
            again[acc] = debts
    if again:
        each = _payments_each(sorted(again), period)
        for acc, debts in again.items():
            found = debts_paid_off(debts, each.get(acc, []), period)
            if found:
                paid_off[acc] = found
    return accrued, _settlements(paid_off, period, profile, accrued, rates)


def _debts(rows: list[tuple[date, date, Decimal]]) -> list[Any]:
    from meterdesk.domain.penalties import Debt

    return [Debt(*row) for row in rows]


def _settlements(
    paid_off: Mapping[int, list[Any]],
    period: date,
    profile: RulesProfile,
    accrued_now: Mapping[int, tuple[Decimal, list[Any]]],
    rates: Any,
) -> dict[int, PenaltyEntries]:
    """The settlement entries of the debts ``paid_off`` (``domain.penalties.debts_paid_off``, by
    account), against what was accrued on each: read here, for these accounts and debts only."""
    from meterdesk.billing.rebill import PENALTY, R_REBILL
    from meterdesk.domain.money import round_money
    from meterdesk.domain.penalties import debts_settled, penalty_part_amount

    if not paid_off:
        return {}
    t_ledger = LedgerEntry._meta.db_table
    in_part, as_param = _in_part()
    entries: dict[int, list[tuple[date, str, str, Any]]] = defaultdict(list)
    first_closed: dict[int, date] = {}
    accounts = sorted(paid_off)
    with connection.cursor() as cur:
        for start in range(0, len(accounts), 500):
            batch = accounts[start : start + 500]
            part = as_param(batch)
            # What was accrued: each month's penalty, as its rebills recomputed it (the latest
            # correction of a month's penalty holds its parts), and the debts settled already.
            # A debt's penalty accrues, and is settled, only in the months after it: the penalty
            # entries of an account's months up to its oldest debt paid off are not read.
            oldest_debts = [min(p for p, _group in paid_off[acc]) for acc in batch]
            if connection.vendor == "postgresql":
                cur.execute(
                    f"SELECT l.account_id, l.period, l.kind, l.reason, l.detail FROM {t_ledger} l "  # noqa: S608
                    f"JOIN unnest(%s::bigint[], %s::date[]) AS b(acc, oldest) ON l.account_id = b.acc "
                    f"WHERE (l.kind = 'penalty' AND l.period < %s AND l.period > b.oldest) "
                    f"OR (l.kind = 'correction' AND l.reason = %s) ORDER BY l.account_id, l.id",
                    [batch, oldest_debts, period, R_REBILL],
                )
            else:
                cur.execute(
                    f"SELECT account_id, period, kind, reason, detail FROM {t_ledger} WHERE {in_part} "  # noqa: S608
                    f"AND ((kind = 'penalty' AND period < %s) OR (kind = 'correction' AND reason = %s)) "
                    f"ORDER BY account_id, id",
                    [part, period, R_REBILL],
                )
            for acc, p, kind, reason, detail in cur.fetchall():
                entries[acc].append((as_date(p), kind, reason, detail))
            # The first month closed here: the penalty of the days before it (an imported history)
            # was charged elsewhere, and is not settled again.
            cur.execute(
                f"SELECT account_id, MIN(period) FROM {AccountClose._meta.db_table} WHERE {in_part} "  # noqa: S608
                f"GROUP BY account_id",
                [part],
            )
            first_closed.update((acc, as_date(p)) for acc, p in cur.fetchall())
    out: dict[int, PenaltyEntries] = {}
    for acc in accounts:
        wanted = {f"{p:%Y-%m}" for p, _group in paid_off[acc]}
        oldest = min(p for p, _group in paid_off[acc])
        month_parts: dict[str, list[Any]] = {}
        settled: set[date] = set()
        for p, kind, reason, detail in entries.get(acc, ()):
            if kind == "penalty" and p <= oldest:
                continue
            data = json.loads(detail) if isinstance(detail, str) else detail
            if not isinstance(data, dict):
                continue
            if kind == "penalty" and reason == R_PENALTY_SETTLED:
                settled.add(as_date(f"{data.get('debt')}-01"))
            elif kind == "penalty":
                month_parts.setdefault(f"{p:%Y-%m}", []).extend(data.get("parts") or [])
            elif data.get("basis") == PENALTY and data.get("period"):
                month_parts[str(data["period"])] = list(data.get("parts") or [])
        now = accrued_now.get(acc)
        accrued: dict[date, Decimal] = {}
        for part_row in [*(x for parts in month_parts.values() for x in parts), *(now[1] if now else ())]:
            if part_row["period"] not in wanted:
                continue
            debt_period = as_date(f"{part_row['period']}-01")
            accrued[debt_period] = accrued.get(debt_period, Decimal(0)) + penalty_part_amount(
                Decimal(str(part_row["overdue"])),
                Decimal(str(part_row["rate"])),
                int(part_row["divisor"]),
                int(part_row["days"]),
            )
        found = debts_settled(
            [item for item in paid_off[acc] if item[0] not in settled],
            rates,
            profile.penalty,
            accrued,
            since=first_closed.get(acc, period),
        )
        lines = [
            (
                s.amount,
                R_PENALTY_SETTLED,
                {
                    "debt": f"{s.period:%Y-%m}",
                    "paid_off": s.paid_off.isoformat(),
                    "key_rate": str(s.key_rate),
                    "settled": str(round_money(s.settled)),
                    "accrued": str(round_money(s.accrued)),
                    "parts": penalty_parts(s),
                },
            )
            for s in found
            if s.amount
        ]
        if lines:
            out[acc] = lines
    return out


def penalty_parts(result: Any) -> list[dict[str, Any]]:
    """The parts of a month's penalty (``domain.penalties``) as the ledger line's detail stores them."""
    return [
        {
            "period": f"{p.period:%Y-%m}",
            "days": p.days,
            "overdue": str(p.overdue),
            "rate": str(p.rate_percent),
            "divisor": p.divisor,
        }
        for p in result.parts
    ]


# --- the set-based fast path (PostgreSQL) ----------------------------------------------------
#
# The common case — every meter of the account has exactly one accepted customer reading in the
# month (no control or final reading: which of several readings counts is domain.month_reading's
# to say, so such a month goes through the engine), works (not failed, not removed, billing since before the
# month), has the state of the month before with no estimates to true up, no rollover, a tariff
# without volume bands; and the account has the statement of the month before — is billed by a
# few INSERT … SELECT per chunk instead of the Python engine. What they write is exactly what
# ``domain.billing.bill_account``, the codec and the loop of ``close_accounts`` write for such an
# account (tests/test_fast_path.py closes the same data both ways and compares every row); any
