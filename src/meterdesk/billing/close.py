"""The monthly close: bill every account for a month, in chunks, exactly once.

``billing_close`` creates (or resumes) the run of a month and its chunks (ranges of account ids);
each chunk is closed by ``chunk_close`` in one transaction, as a task on the task workers. An
account is closed at most once per month (``AccountClose`` is unique per account and month and is
written in the same transaction as its ledger entries and meter states), so a crash or a kill at any
moment loses nothing and bills nothing twice: run it again and it finishes the rest.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from meterdesk.billing.bulk import bulk_insert
from meterdesk.billing.codec import state_dumps, state_loads
from meterdesk.billing.models import (
    AccountClose,
    BillingChunk,
    BillingRun,
    LedgerEntry,
    MeterBillingState,
    RunStatus,
)
from meterdesk.billing.pricing import DbPricing
from meterdesk.customers.models import Account, ResidentsChange
from meterdesk.domain import billing as engine
from meterdesk.domain.bootstrap import state_from_history
from meterdesk.domain.periods import add_months, month_start
from meterdesk.domain.profiles import RulesProfile, profile_load
from meterdesk.metering.models import Meter, MeterStatus, Reading
from meterdesk.utility.selectors import utility_get

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 2000
RECALC_BASES = {engine.RECALCULATION, engine.CONTROL}
READING_PRIORITY = {"control": 3, "final": 2, "customer": 1}
TWO = Decimal("0.01")


class CloseError(Exception):
    """The month cannot be closed as asked."""


def due_date(period: date, profile: RulesProfile) -> date:
    return add_months(period, 1).replace(day=profile.due_day)


def _meter_info(row: tuple[Any, ...]) -> engine.MeterInfo:
    (mid, _acc, zones, digits, installed, removed, failed_on, verification_due, status, i1, i2, i3) = row
    initial = tuple(_decimal(v or 0) for v in (i1, i2, i3))[:zones]
    return engine.MeterInfo(
        meter_id=mid,
        zones=zones,
        digits=digits,
        installed_on=installed,
        initial=initial,
        removed_on=removed,
        failed_from=engine.failed_from(
            verification_due=verification_due,
            failed_on=failed_on,
            marked_failed=status in (MeterStatus.FAILED, MeterStatus.LOST),
            installed_on=installed,
        ),
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


_PRICING: dict[tuple[int, str], DbPricing] = {}


def _pricing(run: BillingRun, region: str) -> DbPricing:
    key = (run.pk, region)
    if key not in _PRICING:
        _PRICING.clear()
        _PRICING[key] = DbPricing(region)
    return _PRICING[key]


def chunk_close(chunk_id: int) -> int:
    """Close every not-yet-closed account of one chunk, in one transaction. Returns how many."""
    with transaction.atomic():
        chunk = BillingChunk.objects.select_for_update().select_related("run").get(pk=chunk_id)
        if chunk.status == "done":
            return 0
        run = chunk.run
        utility = utility_get()
        closed = close_accounts(
            run=run,
            first_id=chunk.first_account_id,
            last_id=chunk.last_account_id,
            profile=profile_load(run.rules_profile),
            pricing=_pricing(run, utility.tariff_region),
        )
        BillingChunk.objects.filter(pk=chunk.pk).update(
            status="done", accounts_closed=closed, finished_at=timezone.now()
        )
    return closed


def close_accounts(
    *,
    run: BillingRun | None,
    first_id: int,
    last_id: int,
    profile: RulesProfile,
    pricing: engine.Pricing,
    period: date | None = None,
    now: datetime | None = None,
) -> int:
    """Bill the accounts with ids in [first_id, last_id] not yet closed for the month."""
    period = run.period if run is not None else period
    if period is None:
        raise ValueError("a run or a period is needed")
    end = engine.period_end(period)
    prev = add_months(period, -1)
    moment = now or timezone.now()
    t_acc, t_meter = Account._meta.db_table, Meter._meta.db_table
    t_read, t_state = Reading._meta.db_table, MeterBillingState._meta.db_table
    t_close, t_ledger = AccountClose._meta.db_table, LedgerEntry._meta.db_table
    t_res = ResidentsChange._meta.db_table
    span = [first_id, last_id]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT a.id, a.category, a.rooms, a.residents, a.meter_required, a.opened_on FROM {t_acc} a "  # noqa: S608
            f"WHERE a.id BETWEEN %s AND %s AND a.opened_on <= %s AND (a.closed_on IS NULL OR a.closed_on >= %s) "
            # Not closed for this month, nor for a later one (a rerun of a month must not post
            # lines behind a later statement).
            f"AND NOT EXISTS (SELECT 1 FROM {t_close} c WHERE c.account_id = a.id "
            f"AND c.account_id BETWEEN %s AND %s AND {_by_account('c.period')} >= %s) ORDER BY a.id",
            [*span, end, period, *span, period],
        )
        accounts = cur.fetchall()
        if not accounts:
            return 0
        cur.execute(
            f"SELECT id, account_id, zones, digits, installed_on, removed_on, failed_on, verification_due, "  # noqa: S608
            f"status, initial_t1, initial_t2, initial_t3 FROM {t_meter} "
            f"WHERE account_id BETWEEN %s AND %s AND installed_on <= %s ORDER BY account_id, installed_on, id",
            [*span, end],
        )
        meters: dict[int, list[engine.MeterInfo]] = defaultdict(list)
        for row in cur.fetchall():
            meters[row[1]].append(_meter_info(row))
        cur.execute(
            f"SELECT meter_id, data FROM {t_state} WHERE account_id BETWEEN %s AND %s AND period = %s",  # noqa: S608
            [*span, prev],
        )
        states: dict[int, engine.MeterState] = {mid: state_loads(data) for mid, data in cur.fetchall()}
        all_meters = [m for ms in meters.values() for m in ms]
        if any(m.meter_id not in states for m in all_meters):
            states.update(_older_states(cur, span, period, {m.meter_id for m in all_meters} - set(states)))
            missing = [m for m in all_meters if m.meter_id not in states]
            if missing:
                states.update(_bootstrap(cur, missing, period, profile))
        cur.execute(
            f"SELECT meter_id, kind, t1, t2, t3 FROM {t_read} WHERE account_id BETWEEN %s AND %s "  # noqa: S608
            f"AND period = %s AND status = 'accepted' AND kind IN ('customer', 'control', 'final')",
            [*span, period],
        )
        readings: dict[int, tuple[int, engine.MonthReading]] = {}
        for mid, kind, t1, t2, t3 in cur.fetchall():
            rank = READING_PRIORITY[kind]
            if mid not in readings or readings[mid][0] < rank:
                values = tuple(_decimal(v) for v in (t1, t2, t3) if v is not None)
                readings[mid] = (rank, engine.MonthReading(values, kind))
        cur.execute(
            f"SELECT account_id, effective_from, residents FROM {t_res} WHERE account_id BETWEEN %s AND %s "  # noqa: S608
            f"ORDER BY account_id, effective_from",
            span,
        )
        residents: dict[int, list[tuple[date, int]]] = defaultdict(list)
        for acc, effective, count in cur.fetchall():
            residents[acc].append((_as_date(effective), count))
        cur.execute(
            f"SELECT account_id, closing_balance, charges + recalculations FROM {t_close} "  # noqa: S608
            f"WHERE account_id BETWEEN %s AND %s AND period = %s",
            [*span, prev],
        )
        previous = {acc: (_money(bal), _money(billed)) for acc, bal, billed in cur.fetchall()}
        cur.execute(
            f"SELECT account_id, kind, SUM(amount) FROM {t_ledger} WHERE account_id BETWEEN %s AND %s "  # noqa: S608
            f"AND period = %s GROUP BY account_id, kind",
            [*span, period],
        )
        posted: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for acc, kind, amount in cur.fetchall():
            posted[acc][kind] = _money(amount)
        without_close = [a[0] for a in accounts if a[0] not in previous]
        opening_from_ledger: dict[int, Decimal] = {}
        if without_close:
            cur.execute(
                f"SELECT account_id, SUM(amount) FROM {t_ledger} WHERE account_id BETWEEN %s AND %s "  # noqa: S608
                f"AND period < %s GROUP BY account_id",
                [*span, period],
            )
            opening_from_ledger = {acc: _money(total) for acc, total in cur.fetchall()}

    ledger_rows: list[tuple[Any, ...]] = []
    state_rows: list[tuple[Any, ...]] = []
    close_rows: list[tuple[Any, ...]] = []
    penalty_candidates: list[int] = []
    run_id = run.pk if run is not None else None
    due = due_date(period, profile)
    results: list[tuple[int, str, Decimal, Decimal, Decimal, Decimal]] = []
    bill_account = engine.bill_account
    account_info = engine.AccountInfo
    no_meters: list[engine.MeterInfo] = []
    zero2 = Decimal("0.00")
    zero = Decimal(0)
    charge, recalculation, payment = "charge", "recalculation", "payment"
    correction = "correction"
    details = _DetailCache()
    add_line, add_state = ledger_rows.append, state_rows.append
    for acc_id, category, rooms, count, required, opened in accounts:
        history = residents.get(acc_id)
        info = account_info(
            acc_id,
            category,
            rooms,
            tuple(history) if history else ((_as_date(opened), count),),
            bool(required),
        )
        triples = []
        for m in meters.get(acc_id, no_meters):
            mid = m.meter_id
            reading = readings.get(mid)
            triples.append((m, states.get(mid), reading[1] if reading is not None else None))
        bill = bill_account(info, triples, period, pricing, profile)
        charges = recalcs = zero2
        for line in bill.lines:
            if line.basis in RECALC_BASES:
                kind = recalculation
                recalcs += line.amount
            else:
                kind = charge
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

    penalties = _penalties(penalty_candidates, period, profile) if penalty_candidates else {}
    no_penalty = (zero2, ())
    for acc_id, basis, opening, charges, recalcs, payments in results:
        penalty, parts = penalties.get(acc_id, no_penalty)
        if penalty:
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
                    penalty,
                    "late_payment",
                    _json({"parts": parts}),
                    run_id,
                    moment,
                )
            )
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
    return len(close_rows)


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


class _DetailCache:
    """The JSON text of a charge line's detail: a few distinct small dicts repeat across a chunk."""

    def __init__(self) -> None:
        self._texts: dict[tuple[tuple[str, Any], ...], str] = {}

    def json(self, detail: Mapping[str, Any]) -> str:
        try:
            key = tuple(detail.items())
            text = self._texts.get(key)
        except TypeError:  # an unhashable value: no caching
            return _json(detail)
        if text is None:
            text = self._texts[key] = _json(detail)
        return text


def _by_account(column: str) -> str:
    """A period column compared so that PostgreSQL finds the rows by account, not by period.

    Planned with the statistics of before the close, the month being closed has no statements:
    ``period = <month>`` looked selective, the plan was driven by the (period, basis) index, and
    each chunk read every statement closed so far (the close was quadratic in the accounts).
    ``period + 0`` cannot use that index; the caller bounds the account ids."""
    return f"({column} + 0)" if connection.vendor == "postgresql" else column


def _decimal(value: Any) -> Decimal:
    """A decimal from the database (SQLite gives decimal columns back as floats: via str, 1100.6
    stays 1100.6 rather than 1100.5999999999999…)."""
    return value if type(value) is Decimal else Decimal(str(value))


def _money(value: Any) -> Decimal:
    """A sum from the database in kopecks (SQLite sums decimals as floats)."""
    return (value if type(value) is Decimal else Decimal(str(value))).quantize(TWO)


def _older_states(cur: Any, span: list[int], period: date, wanted: set[int]) -> dict[int, engine.MeterState]:
    t_state = MeterBillingState._meta.db_table
    cur.execute(
        f"SELECT s.meter_id, s.data FROM {t_state} s JOIN (SELECT meter_id, MAX(period) AS p FROM {t_state} "  # noqa: S608
        f"WHERE account_id BETWEEN %s AND %s AND period < %s GROUP BY meter_id) t "
        f"ON s.meter_id = t.meter_id AND s.period = t.p",
        [*span, period],
    )
    return {mid: state_loads(data) for mid, data in cur.fetchall() if mid in wanted}


def _bootstrap(
    cur: Any, meters: list[engine.MeterInfo], period: date, profile: RulesProfile
) -> dict[int, engine.MeterState]:
    """States of meters never billed here, from their accepted actual readings before ``period``."""
    t_read = Reading._meta.db_table
    by_id = {m.meter_id: m for m in meters}
    points: dict[int, dict[date, tuple[int, tuple[Decimal, ...]]]] = defaultdict(dict)
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(part))
        cur.execute(
            f"SELECT meter_id, period, kind, t1, t2, t3 FROM {t_read} WHERE meter_id IN ({marks}) "  # noqa: S608
            f"AND period < %s AND status = 'accepted' AND kind IN ('customer', 'control', 'initial')",
            [*part, period],
        )
        for mid, p, kind, t1, t2, t3 in cur.fetchall():
            rank = {"control": 3, "customer": 2, "initial": 1}[kind]
            p = _as_date(p)
            if p not in points[mid] or points[mid][p][0] < rank:
                points[mid][p] = (rank, tuple(_decimal(v) for v in (t1, t2, t3) if v is not None))
    return {
        mid: state_from_history(meter, [(p, v) for p, (_, v) in sorted(points[mid].items())], profile)
        for mid, meter in by_id.items()
    }


def _penalties(
    account_ids: list[int], period: date, profile: RulesProfile
) -> dict[int, tuple[Decimal, list[Any]]]:
    """Penalty accrued in ``period`` for accounts that may hold overdue debt."""
    from meterdesk.domain.penalties import Debt, Payment, key_rates_load, penalty_for_month

    rates = key_rates_load()
    t_ledger = LedgerEntry._meta.db_table
    debts: dict[int, list[Debt]] = defaultdict(list)
    payments: dict[int, list[Payment]] = defaultdict(list)
    dues: dict[date, date] = {}
    with connection.cursor() as cur:
        for start in range(0, len(account_ids), 500):
            part = account_ids[start : start + 500]
            marks = ", ".join(["%s"] * len(part))
            cur.execute(
                f"SELECT account_id, period, SUM(amount) FROM {t_ledger} WHERE account_id IN ({marks}) "  # noqa: S608
                f"AND period < %s AND kind IN ('charge', 'recalculation', 'correction') "
                f"GROUP BY account_id, period ORDER BY account_id, period",
                [*part, period],
            )
            for acc, p, amount in cur.fetchall():
                p = _as_date(p)
                due = dues.get(p)
                if due is None:
                    due = dues[p] = due_date(p, profile)
                debts[acc].append(Debt(p, due, _money(amount)))
            cur.execute(
                f"SELECT account_id, posted_on, amount FROM {t_ledger} WHERE account_id IN ({marks}) "  # noqa: S608
                f"AND period <= %s AND kind = 'payment' ORDER BY account_id, posted_on",
                [*part, period],
            )
            for acc, posted_on, amount in cur.fetchall():
                payments[acc].append(Payment(_as_date(posted_on), -_money(amount)))
    out: dict[int, tuple[Decimal, list[Any]]] = {}
    for acc in account_ids:
        result = penalty_for_month(debts.get(acc, []), payments.get(acc, []), period, rates, profile.penalty)
        if result.amount:
            out[acc] = (
                result.amount,
                [
                    {
                        "period": f"{p.period:%Y-%m}",
                        "days": p.days,
                        "overdue": str(p.overdue),
                        "rate": str(p.rate_percent),
                        "divisor": p.divisor,
                    }
                    for p in result.parts
                ],
            )
    return out


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseSummary:
    period: date
    accounts: int
    by_basis: dict[str, int]
    charges: Decimal
    recalculations: Decimal
    penalty: Decimal
    payments: Decimal
    closed_now: int
    already_closed: bool


def run_prepare(period: date, *, chunk_size: int = DEFAULT_CHUNK, force: bool = False) -> BillingRun:
    """Create the run of a month and its chunks, or return the existing run (to resume it)."""
    period = month_start(period)
    utility = utility_get()
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(period=period).first()
        if run is not None:
            # Accounts opened since the run started (or finished) — but never behind a later
            # month: such an account's first statement is in that later month.
            if not BillingRun.objects.filter(period__gt=period).exists():
                _add_missing_chunks(run)
            return run
        latest = BillingRun.objects.filter(status=RunStatus.DONE).aggregate(p=Max("period"))["p"]
        if latest is not None and latest < add_months(period, -1) and not force:
            raise CloseError(
                f"close {add_months(latest, 1):%Y-%m} first (the last closed month is {latest:%Y-%m})"
            )
        if latest is not None and latest > period and not force:
            raise CloseError(f"{period:%Y-%m} is before the last closed month {latest:%Y-%m}")
        run = BillingRun.objects.create(
            period=period,
            rules_profile=utility.rules_profile,
            started_at=timezone.now(),
            chunk_size=chunk_size,
        )
        _add_missing_chunks(run)
    return run


def _add_missing_chunks(run: BillingRun) -> int:
    """Chunks covering every account id (new accounts after a close get a new chunk).

    The bounds of the chunks are computed by the database (every ``chunk_size``-th id), so that
    preparing a run of millions of accounts holds only the chunks in memory, not the ids."""
    covered = run.chunks.aggregate(hi=Max("last_account_id"))["hi"]
    start = (covered + 1) if covered is not None else None
    t_acc = Account._meta.db_table
    where, params = ("WHERE id >= %s", [start]) if start is not None else ("", [])
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT MIN(id), MAX(id) FROM (SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS grp "  # noqa: S608
            f"FROM {t_acc} {where}) t GROUP BY grp ORDER BY grp",
            [run.chunk_size, *params],
        )
        bounds = cur.fetchall()
    chunks = [BillingChunk(run=run, first_account_id=lo, last_account_id=hi) for lo, hi in bounds]
    BillingChunk.objects.bulk_create(chunks, batch_size=1000)
    if chunks and run.status == RunStatus.DONE:
        BillingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None)
        run.status = RunStatus.RUNNING
    return len(chunks)


def run_finish(run: BillingRun) -> None:
    if not run.chunks.exclude(status="done").exists():
        BillingRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, finished_at=timezone.now())


def run_summary(period: date, closed_now: int = 0, already_closed: bool = False) -> CloseSummary:
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT basis, COUNT(*), SUM(charges), SUM(recalculations), SUM(penalty), SUM(payments) "  # noqa: S608
            f"FROM {AccountClose._meta.db_table} WHERE period = %s GROUP BY basis",
            [period],
        )
        rows = cur.fetchall()

    def total(index: int) -> Decimal:
        # SQLite sums decimals as floats: back to kopecks.
        return sum((Decimal(str(r[index] or 0)) for r in rows), Decimal(0)).quantize(TWO)

    return CloseSummary(
        period=period,
        accounts=sum(r[1] for r in rows),
        by_basis={r[0]: r[1] for r in rows},
        charges=total(2),
        recalculations=total(3),
        penalty=total(4),
        payments=total(5),
        closed_now=closed_now,
        already_closed=already_closed,
    )


def billing_close(
    period: date,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    run_chunk: Callable[[int], int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> CloseSummary:
    """Close a month in this process, chunk by chunk (the CLI runs chunks on task workers)."""
    run = run_prepare(period, chunk_size=chunk_size, force=force)
    pending = list(
        run.chunks.filter(status="pending").order_by("first_account_id").values_list("id", flat=True)
    )
    if not pending:
        return run_summary(run.period, already_closed=True)
    closed = 0
    for chunk_id in pending:
        n = (run_chunk or chunk_close)(chunk_id)
        closed += n
        if progress:
            progress(1, n)
    run_finish(run)
    return run_summary(run.period, closed_now=closed)
