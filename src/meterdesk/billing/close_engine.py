"""The close of a chunk of accounts: read, compute, write.

``close_accounts`` bills the accounts of an id range not yet closed for a month: the common case
first by the SQL fast path (``fast_path``), the others by reading what they need
(``close_read.chunk_read``), running the engine over that plain data (``_bills``, then the
penalties and ``_statements``), and writing the ledger lines, meter states and statements in bulk
(``_write``), all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from meterdesk.billing import fast_path
from meterdesk.billing.bulk import bulk_insert
from meterdesk.billing.close_penalties import (
    PenaltyEntries,
    detail_json,
    due_date,
    penalties_of,
)
from meterdesk.billing.close_read import ChunkData, as_date, chunk_read
from meterdesk.billing.codec import state_dumps
from meterdesk.billing.messages import R_LATE_PAYMENT
from meterdesk.billing.models import AccountClose, BillingRun, LedgerEntry, MeterBillingState
from meterdesk.domain import billing as engine
from meterdesk.domain.profiles import RulesProfile


def close_accounts(
    *,
    run: BillingRun | None,
    first_id: int,
    last_id: int,
    profile: RulesProfile,
    pricing: engine.Pricing,
    period: date | None = None,
    now: datetime | None = None,
    fast: bool | None = None,
) -> int:
    """Bill the accounts with ids in [first_id, last_id] not yet closed for the month.

    With the fast path (``fast``: None for the default, see ``fast_path.fast_path_available``) the
    common-case accounts are billed first by set-based SQL (``fast_path.fast_close``), the others
    by the engine, in the same transaction; the result is the same."""
    period = run.period if run is not None else period
    if period is None:
        raise ValueError("a run or a period is needed")
    end = engine.period_end(period)
    moment = now or timezone.now()
    span = [first_id, last_id]
    run_id = run.pk if run is not None else None
    fast_closed = 0
    # Penalties asked before anything is written (they read only earlier months and payments).
    known_penalties: dict[int, tuple[Decimal, list[Any]]] = {}
    known_settled: dict[int, PenaltyEntries] = {}
    asked: set[int] = set()
    if fast_path.fast_path_available(fast):
        with connection.cursor() as cur:
            candidates = fast_path.fast_penalty_candidates(cur, span, period, end)
        if candidates:
            known_penalties, known_settled = penalties_of(candidates, period, profile)
            asked = set(candidates)
        # A cursor with server-side binding: the fast path's arrays go as parameters, not as
        # literals quoted in Python (Django's cursors bind on the client).
        with psycopg.Cursor(connection.connection) as cur:
            fast_closed = fast_path.fast_close(
                cur,
                span=span,
                period=period,
                run_id=run_id,
                moment=moment,
                profile=profile,
                pricing=pricing,
                penalties=known_penalties,
                settlements=known_settled,
            )
    # Read.
    data = chunk_read(span, period, profile, after_fast=bool(fast_closed))
    if data is None:
        return fast_closed
    # Compute: the engine over each account, then the penalties of those that may owe one.
    ledger_rows, state_rows, results, penalty_candidates = _bills(
        data, period, pricing, profile, run_id, moment
    )
    penalties, settlements = known_penalties, known_settled
    unasked = [a for a in penalty_candidates if a not in asked]
    if unasked:
        more, more_settled = penalties_of(unasked, period, profile)
        penalties = {**known_penalties, **more}
        settlements = {**known_settled, **more_settled}
    close_rows = _statements(results, penalties, settlements, ledger_rows, period, profile, run_id, moment)
    # Write.
    _write(ledger_rows, state_rows, close_rows)
    return fast_closed + len(close_rows)


#: An account's statement before its penalty: (account, basis, opening, charges, recalculations,
#: payments).
_Result = tuple[int, str, Decimal, Decimal, Decimal, Decimal]


def _bills(
    data: ChunkData,
    period: date,
    pricing: engine.Pricing,
    profile: RulesProfile,
    run_id: int | None,
    moment: datetime,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[_Result], list[int]]:
    """The engine over each account of the chunk: its ledger lines and meter states (rows to
    write), its statement's figures before the penalty, and the accounts that may owe a penalty."""
    end = engine.period_end(period)
    ledger_rows: list[tuple[Any, ...]] = []
    state_rows: list[tuple[Any, ...]] = []
    penalty_candidates: list[int] = []
    results: list[_Result] = []
    bill_account = engine.bill_account
    account_info = engine.AccountInfo
    no_meters: list[engine.MeterInfo] = []
    accounts, residents, meters, states = data.accounts, data.residents, data.meters, data.states
    readings, posted, previous, opening_from_ledger = (
        data.readings,
        data.posted,
        data.previous,
        data.opening_from_ledger,
    )
    zero2 = Decimal("0.00")
    zero = Decimal(0)
    recalculation, payment = engine.KIND_RECALCULATION, "payment"
    statement_kind = engine.statement_kind
    correction, service = "correction", "service"
    details = _DetailCache()
    add_line, add_state = ledger_rows.append, state_rows.append
    for acc_id, category, rooms, count, required, opened in accounts:
        history = residents.get(acc_id)
        info = account_info(
            acc_id,
            category,
            rooms,
            tuple(history) if history else ((as_date(opened), count),),
            bool(required),
        )
        triples = []
        for m in meters.get(acc_id, no_meters):
            mid = m.meter_id
            triples.append((m, states.get(mid), readings.get(mid)))
        bill = bill_account(info, triples, period, pricing, profile)
        charges = recalcs = zero2
        for line in bill.lines:
            kind = statement_kind(line.basis, line.reason)
            if kind == recalculation:
                recalcs += line.amount
            else:
                charges += line.amount
            add_line(
                (
                    acc_id,
                    period,
                    end,
                    kind,
                    line.basis,
                    line.meter_id,
                    line.zone,
                    line.band,
                    line.volume,
                    line.price,
                    line.amount,
                    line.reason,
                    details.json(line.detail),
                    run_id,
                    moment,
                )
            )
        for meter_id, state in bill.states.items():
            add_state((meter_id, acc_id, period, state_dumps(state)))
        extra = posted.get(acc_id)
        if extra:
            recalcs += extra.get(correction, zero) + extra.get(recalculation, zero)
            charges += extra.get(service, zero)  # paid services done in the month (``orders``)
            payments = extra.get(payment, zero2)
        else:
            recalcs += zero + zero  # the same arithmetic (and scale) as with posted entries
            payments = zero2
        prior = previous.get(acc_id)
        if prior is not None:
            opening, billed_prev = prior
        else:
            opening, billed_prev = opening_from_ledger.get(acc_id, zero2), zero
        if opening - billed_prev > 0:
            penalty_candidates.append(acc_id)
        results.append((acc_id, bill.basis, opening, charges, recalcs, payments))
    return ledger_rows, state_rows, results, penalty_candidates


def _statements(
    results: list[_Result],
    penalties: Mapping[int, tuple[Decimal, list[Any]]],
    settlements: Mapping[int, PenaltyEntries],
    ledger_rows: list[tuple[Any, ...]],
    period: date,
    profile: RulesProfile,
    run_id: int | None,
    moment: datetime,
) -> list[tuple[Any, ...]]:
    """Each account's penalty lines (added to ``ledger_rows``) and its statement row."""
    end = engine.period_end(period)
    due = due_date(period, profile)
    zero2 = Decimal("0.00")
    add_line = ledger_rows.append
    close_rows: list[tuple[Any, ...]] = []
    no_penalty = (zero2, ())
    no_settlement: PenaltyEntries = []
    for acc_id, basis, opening, charges, recalcs, payments in results:
        penalty, parts = penalties.get(acc_id, no_penalty)
        # The month's accrual, then each debt paid off: its penalty settled at the rate of the day
        # of payment (the difference).
        entries = [(penalty, R_LATE_PAYMENT, {"parts": parts})] if penalty else []
        entries += settlements.get(acc_id, no_settlement)
        for amount, reason, detail in entries:
            add_line(
                (
                    acc_id,
                    period,
                    end,
                    "penalty",
                    "",
                    None,
                    0,
                    1,
                    None,
                    None,
                    amount,
                    reason,
                    detail_json(detail),
                    run_id,
                    moment,
                )
            )
        penalty += sum((amount for amount, _, _ in settlements.get(acc_id, no_settlement)), zero2)
        closing = opening + charges + recalcs + penalty + payments
        close_rows.append(
            (
                acc_id,
                period,
                run_id,
                basis,
                opening,
                charges,
                recalcs,
                payments,
                penalty,
                closing,
                due,
                moment,
            )
        )
    return close_rows


def _write(
    ledger_rows: list[tuple[Any, ...]], state_rows: list[tuple[Any, ...]], close_rows: list[tuple[Any, ...]]
) -> None:
    """The chunk's ledger lines, meter states and statements, each table in one bulk write."""
    t_close, t_ledger = AccountClose._meta.db_table, LedgerEntry._meta.db_table
    t_state = MeterBillingState._meta.db_table
    bulk_insert(
        t_ledger,
        [
            "account_id",
            "period",
            "posted_on",
            "kind",
            "basis",
            "meter_id",
            "zone",
            "band",
            "volume",
            "price",
            "amount",
            "reason",
            "detail",
            "run_id",
            "created_at",
        ],
        ledger_rows,
    )
    bulk_insert(t_state, ["meter_id", "account_id", "period", "data"], state_rows)
    bulk_insert(
        t_close,
        [
            "account_id",
            "period",
            "run_id",
            "basis",
            "opening_balance",
            "charges",
            "recalculations",
            "payments",
            "penalty",
            "closing_balance",
            "due_date",
            "closed_at",
        ],
        close_rows,
    )


class _DetailCache:
    """The JSON text of a charge line's detail: a few distinct small dicts repeat across a chunk."""

    def __init__(self) -> None:
        self._texts: dict[tuple[tuple[str, Any], ...], str] = {}

    def json(self, detail: Mapping[str, Any]) -> str:
        try:
            key = tuple(detail.items())
            text = self._texts.get(key)
        except TypeError:  # an unhashable value: no caching
            return detail_json(detail)
        if text is None:
            text = self._texts[key] = detail_json(detail)
        return text
