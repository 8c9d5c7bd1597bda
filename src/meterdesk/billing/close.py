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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from meterdesk.billing.bulk import bulk_insert
from meterdesk.billing.codec import EXTRA_FIELDS as _CODEC_EXTRA_FIELDS
from meterdesk.billing.codec import db_money as _money
from meterdesk.billing.codec import state_dumps, state_loads
from meterdesk.billing.messages import R_LATE_PAYMENT, R_PENALTY_SETTLED
from meterdesk.billing.models import (
    AccountClose,
    BillingChunk,
    BillingRun,
    LedgerEntry,
    MeterBillingState,
    RunStatus,
)
from meterdesk.billing.pricing import DbPricing
from meterdesk.customers.models import Account, PremisesCategory, ResidentsChange
from meterdesk.domain import billing as engine
from meterdesk.domain.bootstrap import state_from_history
from meterdesk.domain.month_reading import given_at, month_reading
from meterdesk.domain.periods import add_months, month_parse, month_start
from meterdesk.domain.profiles import RulesProfile, profile_load
from meterdesk.domain.tariffs import TariffSpec
from meterdesk.domain.window import ReadingWindow
from meterdesk.metering.models import Meter, MeterStatus, Reading
from meterdesk.utility.selectors import (
    reading_window_get,
    reference_peek,
    utility_get,
    utility_now,
    utility_zone,
)

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 2000
TWO = Decimal("0.01")
#: The kinds of reading a month is billed from (``month_readings`` says which one counts).
MONTH_KINDS = ("customer", "control", "final")


class CloseError(Exception):
    """The month cannot be closed as asked. ``code`` names the check that refused it (the codes
    that ``force`` overrides are recorded on the run)."""

    def __init__(self, message: str, code: str = "close_refused") -> None:
        super().__init__(message)
        self.code = code


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


def month_readings(rows: Iterable[tuple[Any, ...]]) -> dict[int, engine.MonthReading]:
    """The reading that counts for each meter, from rows of (meter id, kind, t1, t2, t3,
    submitted_at) of a month's accepted readings (the close's and the rebill's)."""
    by_meter: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_meter[row[0]].append(row)
    out: dict[int, engine.MonthReading] = {}
    for mid, found in by_meter.items():
        row = _counted(found, 1, 5)
        out[mid] = engine.MonthReading(tuple(_decimal(v) for v in row[2:5] if v is not None), row[1])
    return out


def _counted(rows: list[tuple[Any, ...]], kind: int, moment: int) -> tuple[Any, ...]:
    """Of a meter's accepted readings of one month (rows with the kind and the moment it was given
    at these positions), the one that counts (``domain.month_reading``)."""
    if len(rows) == 1:
        return rows[0]
    # The day a reading was given is the utility's (its time zone does not change in practice).
    zone = utility_zone(reference_peek().utility)
    counted = month_reading(given_at(r[kind], r[moment], zone, source=r) for r in rows)
    return rows[-1] if counted is None or counted.source is None else counted.source


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
        if connection.vendor == "postgresql":
            # The chunk's commit does not wait for its WAL to reach the disk. Safe for exactly
            # once: a crash can only lose whole recent transactions (never a part of one), so a
            # lost chunk is lost with its "done" mark and closed again on resume; and whatever
            # commits durably after it (the task's result, the next chunk) flushes its WAL too.
            # And a chunk's queries are small: parallel workers cost more than they save, and so
            # does JIT compilation (the fast path's statement is costed near jit_above_cost, and
            # compiling it took a large share of running it: docs/benchmarks.md). Neither changes
            # a result. The connection prepares statements
            # it runs often (settings: METERDESK_DB_PREPARED), but a chunk's statements are planned
            # for their own parameters every time (the chunk's accounts), never with a generic
            # plan cached for any chunk: the plans at scale depend on them (docs/billing.md).
            with connection.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit = off")
                cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                cur.execute("SET LOCAL jit = off")
                cur.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        # Lock the chunk only (``of``): with select_related, FOR UPDATE would also lock the run's
        # row, and every chunk transaction would wait for the one before — the workers took turns.
        chunk = BillingChunk.objects.select_for_update(of=("self",)).select_related("run").get(pk=chunk_id)
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
    fast: bool | None = None,
) -> int:
    """Bill the accounts with ids in [first_id, last_id] not yet closed for the month.

    With the fast path (``fast``: None for the default, see ``fast_path_available``) the common-case
    accounts are billed first by set-based SQL (``_fast_close``), the others by the engine below,
    in the same transaction; the result is the same."""
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
    run_id = run.pk if run is not None else None
    fast_closed = 0
    # Penalties asked before anything is written (they read only earlier months and payments).
    known_penalties: dict[int, tuple[Decimal, list[Any]]] = {}
    known_settled: dict[int, PenaltyEntries] = {}
    asked: set[int] = set()
    if fast_path_available(fast):
        with connection.cursor() as cur:
            candidates = _fast_penalty_candidates(cur, span, period, end)
        if candidates:
            known_penalties = _penalties(candidates, period, profile)
            known_settled = _settlements(candidates, period, profile, known_penalties)
            asked = set(candidates)
        # A cursor with server-side binding: the fast path's arrays go as parameters, not as
        # literals quoted in Python (Django's cursors bind on the client).
        with psycopg.Cursor(connection.connection) as cur:
            fast_closed = _fast_close(
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
            return fast_closed
        # After the fast path, read only what the remaining accounts need: their rows, and the
        # states and readings of their meters (found, as always, by the row's account in the span).
        only, ids = ("", []) if not fast_closed else (" AND account_id = ANY(%s)", [[a[0] for a in accounts]])
        cur.execute(
            f"SELECT id, account_id, zones, digits, installed_on, removed_on, failed_on, verification_due, "  # noqa: S608
            f"status, initial_t1, initial_t2, initial_t3 FROM {t_meter} "
            f"WHERE account_id BETWEEN %s AND %s{only} AND installed_on <= %s ORDER BY account_id, installed_on, id",
            [*span, *ids, end],
        )
        meters: dict[int, list[engine.MeterInfo]] = defaultdict(list)
        for row in cur.fetchall():
            meters[row[1]].append(_meter_info(row))
        by_meter, meter_ids = (
            ("", [])
            if not fast_closed
            else (" AND meter_id = ANY(%s)", [[m.meter_id for ms in meters.values() for m in ms]])
        )
        cur.execute(
            f"SELECT meter_id, data FROM {t_state} WHERE account_id BETWEEN %s AND %s{by_meter} AND period = %s",  # noqa: S608
            [*span, *meter_ids, prev],
        )
        states: dict[int, engine.MeterState] = {mid: state_loads(data) for mid, data in cur.fetchall()}
        all_meters = [m for ms in meters.values() for m in ms]
        if any(m.meter_id not in states for m in all_meters):
            states.update(_older_states(cur, span, period, {m.meter_id for m in all_meters} - set(states)))
            missing = [m for m in all_meters if m.meter_id not in states]
            if missing:
                states.update(_bootstrap(cur, missing, period, profile))
        cur.execute(
            f"SELECT meter_id, kind, t1, t2, t3, submitted_at FROM {t_read} "  # noqa: S608
            f"WHERE account_id BETWEEN %s AND %s{by_meter} "
            f"AND period = %s AND status = 'accepted' AND kind IN ('customer', 'control', 'final')",
            [*span, *meter_ids, period],
        )
        readings = month_readings(cur.fetchall())
        cur.execute(
            f"SELECT account_id, effective_from, residents FROM {t_res} WHERE account_id BETWEEN %s AND %s{only} "  # noqa: S608
            f"ORDER BY account_id, effective_from",
            [*span, *ids],
        )
        residents: dict[int, list[tuple[date, int]]] = defaultdict(list)
        for acc, effective, count in cur.fetchall():
            residents[acc].append((_as_date(effective), count))
        cur.execute(
            f"SELECT account_id, closing_balance, charges + recalculations FROM {t_close} "  # noqa: S608
            f"WHERE account_id BETWEEN %s AND %s{only} AND period = %s",
            [*span, *ids, prev],
        )
        previous = {acc: (_money(bal), _money(billed)) for acc, bal, billed in cur.fetchall()}
        cur.execute(
            f"SELECT account_id, kind, SUM(amount) FROM {t_ledger} WHERE account_id BETWEEN %s AND %s{only} "  # noqa: S608
            f"AND period = %s GROUP BY account_id, kind",
            [*span, *ids, period],
        )
        posted: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for acc, kind, amount in cur.fetchall():
            posted[acc][kind] = _money(amount)
        without_close = [a[0] for a in accounts if a[0] not in previous]
        opening_from_ledger: dict[int, Decimal] = {}
        if without_close:
            cur.execute(
                f"SELECT account_id, SUM(amount) FROM {t_ledger} WHERE account_id BETWEEN %s AND %s{only} "  # noqa: S608
                f"AND period < %s GROUP BY account_id",
                [*span, *ids, period],
            )
            opening_from_ledger = {acc: _money(total) for acc, total in cur.fetchall()}

    ledger_rows: list[tuple[Any, ...]] = []
    state_rows: list[tuple[Any, ...]] = []
    close_rows: list[tuple[Any, ...]] = []
    penalty_candidates: list[int] = []
    due = due_date(period, profile)
    results: list[tuple[int, str, Decimal, Decimal, Decimal, Decimal]] = []
    bill_account = engine.bill_account
    account_info = engine.AccountInfo
    no_meters: list[engine.MeterInfo] = []
    zero2 = Decimal("0.00")
    zero = Decimal(0)
    recalculation, payment = engine.KIND_RECALCULATION, "payment"
    statement_kind = engine.statement_kind
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

    penalties, settlements = known_penalties, known_settled
    unasked = [a for a in penalty_candidates if a not in asked]
    if unasked:
        more = _penalties(unasked, period, profile)
        penalties = {**known_penalties, **more}
        settlements = {**known_settled, **_settlements(unasked, period, profile, more)}
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
                    _json(detail),
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
    return fast_closed + len(close_rows)


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
    # Each month's accepted actual readings of each meter; the one that counts is its point.
    found: dict[int, dict[date, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(part))
        cur.execute(
            f"SELECT meter_id, period, kind, t1, t2, t3, submitted_at FROM {t_read} "  # noqa: S608
            f"WHERE meter_id IN ({marks}) "
            f"AND period < %s AND status = 'accepted' AND kind IN ('customer', 'control', 'initial')",
            [*part, period],
        )
        for row in cur.fetchall():
            found[row[0]][_as_date(row[1])].append(row)
    points: dict[int, list[tuple[date, tuple[Decimal, ...]]]] = defaultdict(list)
    for mid, months in found.items():
        for p in sorted(months):
            row = _counted(months[p], 2, 6)
            points[mid].append((p, tuple(_decimal(v) for v in row[3:6] if v is not None)))
    return {mid: state_from_history(meter, points[mid], profile) for mid, meter in by_id.items()}


def _penalties(
    account_ids: list[int], period: date, profile: RulesProfile
) -> dict[int, tuple[Decimal, list[Any]]]:
    """Penalty accrued in ``period`` for accounts that may hold overdue debt."""
    from meterdesk.domain.penalties import Payment, debts_for_month, key_rates_load, penalty_for_month

    rates = key_rates_load()
    t_ledger = LedgerEntry._meta.db_table
    end = engine.period_end(period)
    day_before, day_after = date.fromordinal(period.toordinal() - 1), date.fromordinal(end.toordinal() + 1)
    # (period, due date, amount) of each month's charges: debts_for_month makes the Debts, those
    # paid off before the month summed into one.
    debts: dict[int, list[tuple[date, date, Decimal]]] = defaultdict(list)
    payments: dict[int, list[Payment]] = defaultdict(list)
    dues: dict[date, date] = {}
    # The accounts as one parameter: the statements' text is the same for any number of them, so
    # psycopg keeps it parsed and PostgreSQL prepared (psycopg parses a text with a list of
    # placeholders anew on every call: about a tenth of the penalties' Python in a profile).
    as_param: Callable[[list[int]], Any]
    if connection.vendor == "postgresql":
        in_part, as_param = "account_id = ANY(%s)", list
    else:
        in_part, as_param = "account_id IN (SELECT value FROM json_each(%s))", json.dumps
    paid_for = _paid_for_sql()
    with connection.cursor() as cur:
        for start in range(0, len(account_ids), 500):
            part = as_param(account_ids[start : start + 500])
            _debt_rows(cur, in_part, part, period, profile, dues, debts)
            # The payments made before the month for no stated month count only as their sum
            # (what each debt was paid before the month does not depend on the order of the
            # payments: domain.penalties._allocate), and those after it not at all: each such run
            # is one summed row, dated the day before the month (after it: the day after), instead
            # of a row per payment (~20 per account in arrears). A payment for a month keeps its
            # day and month (it pays that month first). Rows of either sign are summed apart, so
            # that a payment entry with a positive amount is still refused by Payment.
            cur.execute(
                f"SELECT account_id, CASE WHEN posted_on > %s THEN %s WHEN posted_on < %s AND {paid_for} = '' "  # noqa: S608
                f"THEN %s ELSE posted_on END AS day, CASE WHEN posted_on > %s THEN '' ELSE {paid_for} END "
                f"AS paid_for, SUM(amount) FROM {t_ledger} WHERE {in_part} AND period <= %s "
                f"AND kind = 'payment' GROUP BY account_id, day, paid_for, amount > 0 "
                f"ORDER BY account_id, day, paid_for",
                [end, day_after, period, day_before, end, part, period],
            )
            for acc, posted_on, month, amount in cur.fetchall():
                payments[acc].append(
                    Payment(_as_date(posted_on), -_money(amount), paid_for=_month_or_none(month))
                )
    out: dict[int, tuple[Decimal, list[Any]]] = {}
    for acc in account_ids:
        paid = payments.get(acc, [])
        owed = debts_for_month(debts.get(acc, ()), paid, period)
        result = penalty_for_month(owed, paid, period, rates, profile.penalty)
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
    its charges, recalculations and corrections summed."""
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
        p = _as_date(p) if rebill is None else debt_month(rebill, _as_date(p))
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


def _settlements(
    account_ids: list[int],
    period: date,
    profile: RulesProfile,
    accrued_now: Mapping[int, tuple[Decimal, list[Any]]],
) -> dict[int, PenaltyEntries]:
    """The penalties settled at the close of ``period`` (``domain.penalties.penalty_settlements``)
    for accounts that may hold overdue debt: one entry per debt this close is the first to see paid
    off, when the settlement differs from what was accrued on it. ``accrued_now``: the month's
    penalties (``_penalties``), whose parts count as accrued too.

    Only an account with a payment the close before did not see (posted to this month, or made in
    it) or a credit issued on this month's first day can have a debt paid off now: the others
    are not read further."""
    from meterdesk.billing.rebill import PENALTY, R_REBILL
    from meterdesk.domain.money import round_money
    from meterdesk.domain.penalties import (
        Debt,
        Payment,
        key_rates_load,
        penalty_part_amount,
        penalty_settlements,
    )

    t_ledger = LedgerEntry._meta.db_table
    prev = add_months(period, -1)
    as_param: Callable[[list[int]], Any]
    if connection.vendor == "postgresql":
        in_part, as_param = "account_id = ANY(%s)", list
    else:
        in_part, as_param = "account_id IN (SELECT value FROM json_each(%s))", json.dumps
    dues: dict[date, date] = {}
    debts: dict[int, list[tuple[date, date, Decimal]]] = defaultdict(list)
    payments: dict[int, list[Payment]] = defaultdict(list)
    entries: dict[int, list[tuple[date, str, str, Any]]] = defaultdict(list)
    first_closed: dict[int, date] = {}
    paid_for = _paid_for_sql()
    with connection.cursor() as cur:
        for start in range(0, len(account_ids), 500):
            ids = as_param(account_ids[start : start + 500])
            cur.execute(
                f"SELECT DISTINCT account_id FROM {t_ledger} WHERE {in_part} AND kind = 'payment' "  # noqa: S608
                f"AND period <= %s AND (period = %s OR posted_on >= %s) "
                f"UNION SELECT account_id FROM {t_ledger} WHERE {in_part} AND period = %s "
                f"AND kind IN ('charge', 'recalculation', 'correction') GROUP BY account_id HAVING SUM(amount) < 0",
                [ids, period, period, period, ids, prev],
            )
            paying = sorted(row[0] for row in cur.fetchall())
            if not paying:
                continue
            part = as_param(paying)
            _debt_rows(cur, in_part, part, period, profile, dues, debts)
            cur.execute(
                f"SELECT account_id, posted_on, period, {paid_for} AS paid_for, SUM(amount) "  # noqa: S608
                f"FROM {t_ledger} WHERE {in_part} AND kind = 'payment' AND period <= %s "
                f"GROUP BY account_id, posted_on, period, paid_for, amount > 0 "
                f"ORDER BY account_id, posted_on, period, paid_for",
                [part, period],
            )
            for acc, posted_on, posted, month, amount in cur.fetchall():
                payments[acc].append(
                    Payment(_as_date(posted_on), -_money(amount), _as_date(posted), _month_or_none(month))
                )
            # What was accrued: each month's penalty, as its rebills recomputed it (the latest
            # correction of a month's penalty holds its parts), and the debts settled already.
            cur.execute(
                f"SELECT account_id, period, kind, reason, detail FROM {t_ledger} WHERE {in_part} "  # noqa: S608
                f"AND ((kind = 'penalty' AND period < %s) OR (kind = 'correction' AND reason = %s)) "
                f"ORDER BY account_id, id",
                [part, period, R_REBILL],
            )
            for acc, p, kind, reason, detail in cur.fetchall():
                entries[acc].append((_as_date(p), kind, reason, detail))
            # The first month closed here: the penalty of the days before it (an imported history)
            # was charged elsewhere, and is not settled again.
            cur.execute(
                f"SELECT account_id, MIN(period) FROM {AccountClose._meta.db_table} WHERE {in_part} "  # noqa: S608
                f"GROUP BY account_id",
                [part],
            )
            first_closed.update((acc, _as_date(p)) for acc, p in cur.fetchall())
    rates = key_rates_load()
    out: dict[int, PenaltyEntries] = {}
    for acc in sorted(payments.keys() | debts.keys()):
        month_parts: dict[str, list[Any]] = {}
        settled: set[date] = set()
        for p, kind, reason, detail in entries.get(acc, ()):
            data = json.loads(detail) if isinstance(detail, str) else detail
            if not isinstance(data, dict):
                continue
            if kind == "penalty" and reason == R_PENALTY_SETTLED:
                settled.add(_as_date(f"{data.get('debt')}-01"))
            elif kind == "penalty":
                month_parts.setdefault(f"{p:%Y-%m}", []).extend(data.get("parts") or [])
            elif data.get("basis") == PENALTY and data.get("period"):
                month_parts[str(data["period"])] = list(data.get("parts") or [])
        now = accrued_now.get(acc)
        accrued: dict[date, Decimal] = {}
        for part_row in [*(x for parts in month_parts.values() for x in parts), *(now[1] if now else ())]:
            debt_period = _as_date(f"{part_row['period']}-01")
            accrued[debt_period] = accrued.get(debt_period, Decimal(0)) + penalty_part_amount(
                Decimal(str(part_row["overdue"])),
                Decimal(str(part_row["rate"])),
                int(part_row["divisor"]),
                int(part_row["days"]),
            )
        owed = [Debt(*row) for row in debts.get(acc, ())]
        found = penalty_settlements(
            owed,
            payments.get(acc, []),
            period,
            rates,
            profile.penalty,
            accrued,
            settled,
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
# account outside that case goes through the engine, in the same transaction.


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


_FAST_SQL = """
WITH acc AS MATERIALIZED (
    SELECT a.id, a.category FROM {t_acc} a
    WHERE a.id BETWEEN %(lo)s AND %(hi)s AND a.opened_on <= %(end)s
      AND (a.closed_on IS NULL OR a.closed_on >= %(period)s)
      AND NOT EXISTS (SELECT 1 FROM {t_close} c WHERE c.account_id = a.id
                      AND c.account_id BETWEEN %(lo)s AND %(hi)s AND (c.period + 0) >= %(period)s)
),
-- the prices per zone of the tariffs the fast path may use (by category and zones), and the
-- single-rate price of the category (for reversing norm estimates)
tp AS MATERIALIZED (
    SELECT * FROM unnest(%(p_cat)s::text[], %(p_zones)s::int[], %(p_1)s::numeric[], %(p_2)s::numeric[],
                         %(p_3)s::numeric[]) AS t (category, zones, p1, p2, p3)
),
single AS MATERIALIZED (
    SELECT * FROM unnest(%(s_cat)s::text[], %(s_price)s::numeric[]) AS t (category, price)
),
-- The meters of the chunk's accounts, looked up account by account: joined directly, the planner
-- estimates the join by the table's ids (a chunk's 2 000 accounts × 2 000 meters / N distinct
-- account ids: 4 rows at N = 1 000 000), every estimate after it falls to 1 row, and the CTEs are
-- then joined by nested loops, quadratic in the chunk (docs/billing.md, "The statement's plan at
-- scale"). OFFSET 0 keeps the lookup a subquery, estimated at one meter an account.
mm AS MATERIALIZED (
    SELECT m.*, acc.category, tp.p1, tp.p2, tp.p3, single.price AS sp
    FROM acc CROSS JOIN LATERAL (SELECT * FROM {t_meter} m0 WHERE m0.account_id = acc.id OFFSET 0) m
    LEFT JOIN tp ON tp.category = acc.category AND tp.zones = m.zones
    LEFT JOIN single ON single.category = acc.category
    WHERE m.account_id BETWEEN %(lo)s AND %(hi)s AND m.installed_on <= %(end)s
),
mt AS MATERIALIZED (
    SELECT m.id AS meter_id, m.account_id, m.zones, m.category, m.p1, m.p2, m.p3, m.sp,
           s.data, r.t1, r.t2, r.t3,
           -- what the engine needs of every meter it bills by reading or by average
           COALESCE(
               m.installed_on < %(period)s AND m.removed_on IS NULL AND m.zones BETWEEN 1 AND 3
               AND m.verification_due >= %(end)s
               AND CASE WHEN m.failed_on IS NOT NULL THEN m.failed_on > %(end)s
                        ELSE m.status NOT IN ('failed', 'lost') END
               AND jsonb_typeof(s.data -> 'raw') = 'array' AND jsonb_array_length(s.data -> 'raw') = m.zones
               AND jsonb_typeof(s.data -> 'last') = 'array'
               AND jsonb_typeof(s.data -> 'last' -> 1) = 'array'
               AND jsonb_array_length(s.data -> 'last' -> 1) = m.zones
               AND jsonb_typeof(COALESCE(s.data -> 'anchors', '[]')) = 'array'
               AND jsonb_typeof(COALESCE(s.data -> 'est_periods', '[]')) IN ('array', 'null')
               AND (COALESCE(s.data -> 'est', '[]') IN ('[]'::jsonb, 'null'::jsonb)
                    OR (jsonb_typeof(s.data -> 'est') = 'array' AND jsonb_array_length(s.data -> 'est') = m.zones))
               AND (COALESCE(s.data -> 'est_norm', '""') IN ('""'::jsonb, 'null'::jsonb)
                    OR jsonb_typeof(s.data -> 'est_norm') = 'string')
               AND m.p1 IS NOT NULL,
               false) AS base,
           -- one customer's reading, one value per zone; estimates to true up: per zone (none, or
           -- values ≥ 0) and by norm (none, or ≥ 0 at a single-rate tariff without bands)
           COALESCE(
               r.n = 1 AND r.customer
               AND r.t1 IS NOT NULL AND (r.t2 IS NOT NULL) = (m.zones >= 2)
               AND (r.t3 IS NOT NULL) = (m.zones >= 3)
               AND COALESCE((s.data -> 'est' ->> 0)::numeric, 0) >= 0
               AND COALESCE((s.data -> 'est' ->> 1)::numeric, 0) >= 0
               AND COALESCE((s.data -> 'est' ->> 2)::numeric, 0) >= 0
               AND (COALESCE((NULLIF(s.data ->> 'est_norm', ''))::numeric, 0) = 0
                    OR ((s.data ->> 'est_norm')::numeric > 0 AND m.sp IS NOT NULL)),
               false) AS by_reading,
           r.n = 0 AS no_reading
    FROM mm m
    LEFT JOIN {t_state} s ON s.meter_id = m.id AND s.period = %(prev)s
        AND s.account_id BETWEEN %(lo)s AND %(hi)s
    -- the month's accepted readings of the meter (read, as the engine's caller reads them, with
    -- the reading's account in the span); one row per meter, whatever the estimates say
    CROSS JOIN LATERAL (
        SELECT COUNT(*) AS n, bool_and(q.kind = 'customer') AS customer,
               MAX(q.t1) AS t1, MAX(q.t2) AS t2, MAX(q.t3) AS t3
        FROM {t_read} q
        WHERE q.meter_id = m.id AND q.period = %(period)s AND q.account_id BETWEEN %(lo)s AND %(hi)s
          AND q.status = 'accepted' AND q.kind IN ('customer', 'control', 'final')) r
),
used AS MATERIALIZED (
    SELECT mt.*, (mt.data -> 'last') AS last,
           mt.t1 - (mt.data -> 'raw' ->> 0)::numeric AS c1,
           mt.t2 - (mt.data -> 'raw' ->> 1)::numeric AS c2,
           mt.t3 - (mt.data -> 'raw' ->> 2)::numeric AS c3
    FROM mt WHERE mt.base AND mt.by_reading
),
-- no reading in the month (p.59): the average over the anchors (domain.billing.average_of), for
-- at most missing_average_periods in a row
av0 AS MATERIALIZED (
    SELECT mt.*, l.li,
           COALESCE(
               jsonb_path_query_array(COALESCE(mt.data -> 'anchors', '[]'), 'strict $[*] ? (@[0] <= $cut)',
                                      jsonb_build_object('cut', {cut_label})) -> -1,
               CASE WHEN mt.data -> 'anchors' -> 0 ->> 2 = '1'
                     AND l.li - {first_index} >= %(young_months)s
                    THEN mt.data -> 'anchors' -> 0 END) AS span_pt
    FROM mt
    CROSS JOIN LATERAL (SELECT {data_last_index} AS li) l
    WHERE mt.base AND mt.no_reading AND COALESCE((mt.data ->> 'missing_run')::int, 0) < %(missing_limit)s
),
av AS MATERIALIZED (
    SELECT av0.*, x.span,
           round(GREATEST((av0.data -> 'last' -> 1 ->> 0)::numeric - (av0.span_pt -> 1 ->> 0)::numeric, 0)
                 / x.span, 3) AS a1,
           round(GREATEST((av0.data -> 'last' -> 1 ->> 1)::numeric - (av0.span_pt -> 1 ->> 1)::numeric, 0)
                 / x.span, 3) AS a2,
           round(GREATEST((av0.data -> 'last' -> 1 ->> 2)::numeric - (av0.span_pt -> 1 ->> 2)::numeric, 0)
                 / x.span, 3) AS a3
    FROM av0
    CROSS JOIN LATERAL (SELECT av0.li - {span_index} AS span) x
    WHERE av0.span_pt IS NOT NULL AND jsonb_typeof(av0.span_pt -> 1) = 'array'
      AND jsonb_array_length(av0.span_pt -> 1) = av0.zones
),
-- every meter of the account in the common case, none rolled over (a customer's value below
-- the previous one)
fit AS MATERIALIZED (
    SELECT mt.account_id, CASE WHEN bool_or(u.meter_id IS NOT NULL) THEN 'actual' ELSE 'average' END AS basis
    FROM mt
    LEFT JOIN used u ON u.meter_id = mt.meter_id
    LEFT JOIN av ON av.meter_id = mt.meter_id
    GROUP BY mt.account_id
    HAVING bool_and(COALESCE(u.c1 >= 0 AND COALESCE(u.c2, 0) >= 0 AND COALESCE(u.c3, 0) >= 0, false)
                    OR av.meter_id IS NOT NULL)
),
-- the accounts closed here: those that fit (all of them in acc: their meters come from mm) and
-- have the statement of the month before (at most one: unique per account and month), looked up
-- account by account for the same reason as mm (the estimate stays that of fit, not 1 row)
fa AS MATERIALIZED (
    SELECT fit.account_id, pc.opening, fit.basis
    FROM fit CROSS JOIN LATERAL (
        SELECT pc.closing_balance AS opening FROM {t_close} pc
        WHERE pc.account_id = fit.account_id AND pc.period = %(prev)s
          AND pc.account_id BETWEEN %(lo)s AND %(hi)s OFFSET 0) pc
),
ml AS MATERIALIZED (
    SELECT u.*, u.last ->> 0 AS since,
           GREATEST(1, %(p_index)s - {last_index}) AS months,
           -- domain.billing._keep_anchors over the points (the anchors, then the last reading):
           -- the latest point at least average_min_months before this month (its label at most
           -- the cut's), then every later one, in their order. Every point has a label and the
           -- points are in month order (labels are the codec's 'YYYY-MM'; every state the engine
           -- and this statement write keeps them so), and the window moves a month a month:
           -- nearly always only the first point, or the first two, are that far back, and the
           -- anchors are then the points, or all but the first -- without filtering every point
           -- twice by label (the general form, below, for any other case).
           CASE WHEN COALESCE(pt.points -> 1 ->> 0 > %(cut_text)s COLLATE "C", true) THEN pt.points
                WHEN COALESCE(pt.points -> 2 ->> 0 > %(cut_text)s COLLATE "C", true) THEN pt.points - 0
                ELSE (SELECT CASE WHEN jsonb_array_length(g.far) = 0 THEN g.kept
                                  ELSE jsonb_build_array(g.far -> -1) || g.kept END
                      FROM (SELECT jsonb_path_query_array(pt.points, 'strict $[*] ? (@[0] <= $cut)',
                                                          %(cut)s::jsonb) AS far,
                                   jsonb_path_query_array(pt.points, 'strict $[*] ? (@[0] > $cut)',
                                                          %(cut)s::jsonb) AS kept) g)
           END AS anchors
    FROM used u JOIN fa ON fa.account_id = u.account_id
    -- OFFSET 0: the points are built once a row. A plain subquery is pulled up into the CASE
    -- above, and the concatenation was then computed again at each of its references (up to four).
    CROSS JOIN LATERAL (SELECT COALESCE(u.data -> 'anchors', '[]') || jsonb_build_array(u.last) AS points
                        OFFSET 0) pt
),
-- what the month trues up: the estimates billed since the last actual reading
est AS MATERIALIZED (
    SELECT u.meter_id, u.account_id, u.zones, u.p1, u.p2, u.p3, u.sp,
           COALESCE((u.data -> 'est' ->> 0)::numeric, 0) AS e1,
           COALESCE((u.data -> 'est' ->> 1)::numeric, 0) AS e2,
           COALESCE((u.data -> 'est' ->> 2)::numeric, 0) AS e3,
           COALESCE((NULLIF(u.data ->> 'est_norm', ''))::numeric, 0) AS en,
           jsonb_build_object('from', u.data -> 'est_periods' ->> 0, 'to', u.data -> 'est_periods' ->> -1,
                              'months', jsonb_array_length(u.data -> 'est_periods')::text) AS detail
    FROM ml u
    WHERE jsonb_typeof(u.data -> 'est_periods') = 'array' AND jsonb_array_length(u.data -> 'est_periods') > 0
),
am AS MATERIALIZED (
    SELECT av.* FROM av JOIN fa ON fa.account_id = av.account_id
),
lines AS MATERIALIZED (
    SELECT ml.account_id, ml.meter_id, 'charge' AS kind, 'actual' AS basis, z.zone, round(z.v, 3) AS volume,
           z.price, round(z.v * z.price, 2) AS amount, 'readings' AS reason,
           jsonb_build_object('since', ml.since, 'months', ml.months::text) AS detail
    FROM ml
    CROSS JOIN LATERAL (VALUES (1, ml.c1, ml.p1), (2, ml.c2, ml.p2), (3, ml.c3, ml.p3)) AS z (zone, v, price)
    -- the engine writes no line for a meter that consumed nothing in every zone
    WHERE z.zone <= ml.zones AND ml.c1 + COALESCE(ml.c2, 0) + COALESCE(ml.c3, 0) > 0
    UNION ALL
    -- the estimates by average reversed, zone by zone, at this month's prices
    SELECT e.account_id, e.meter_id, 'recalculation', 'recalculation', z.zone, -round(z.v, 3), z.price,
           -round(z.v * z.price, 2), 'estimates_reversed', e.detail
    FROM est e
    CROSS JOIN LATERAL (VALUES (1, e.e1, e.p1), (2, e.e2, e.p2), (3, e.e3, e.p3)) AS z (zone, v, price)
    WHERE z.zone <= e.zones AND e.e1 + e.e2 + e.e3 > 0
    UNION ALL
    -- the estimates by norm reversed, single-rate
    SELECT e.account_id, e.meter_id, 'recalculation', 'recalculation', 0, -round(e.en, 3), e.sp,
           -round(e.en * e.sp, 2), 'estimates_reversed', e.detail || '{{"norm": "1"}}'::jsonb
    FROM est e
    WHERE e.en > 0
    UNION ALL
    -- by average
    SELECT am.account_id, am.meter_id, 'charge', 'average', z.zone, z.v, z.price, round(z.v * z.price, 2),
           'readings_missing',
           jsonb_build_object('average_from', am.data -> 'last' ->> 0,
                              'run', (COALESCE((am.data ->> 'missing_run')::int, 0) + 1)::text,
                              'limit', %(missing_limit)s::text)
    FROM am
    CROSS JOIN LATERAL (VALUES (1, am.a1, am.p1), (2, am.a2, am.p2), (3, am.a3, am.p3)) AS z (zone, v, price)
    WHERE z.zone <= am.zones AND am.a1 + COALESCE(am.a2, 0) + COALESCE(am.a3, 0) > 0
),
-- the penalties computed in Python, as one JSON array of [account, "amount", detail, reason]
-- (``_penalty_rows``: the month's penalty, then any settlements; one text parameter: a text[] of
-- the details cost psycopg a regex escape of every quote in them)
pen AS MATERIALIZED (
    SELECT (p.e ->> 0)::bigint AS account_id, (p.e ->> 1)::numeric AS amount, p.e -> 2 AS detail,
           p.e ->> 3 AS reason, p.n
    FROM jsonb_array_elements(%(pen)s::jsonb) WITH ORDINALITY AS p (e, n)
),
ins_lines AS (
    INSERT INTO {t_ledger} (account_id, period, posted_on, kind, basis, meter_id, zone, band, volume,
                            price, amount, reason, detail, run_id, created_at)
    SELECT account_id, %(period)s, %(end)s, kind, basis, meter_id, zone, 1, volume, price, amount,
           reason, detail, %(run)s, %(moment)s
    FROM lines ORDER BY account_id, meter_id, kind, zone
    RETURNING 1
),
ins_pen AS (
    INSERT INTO {t_ledger} (account_id, period, posted_on, kind, basis, meter_id, zone, band, volume,
                            price, amount, reason, detail, run_id, created_at)
    SELECT pen.account_id, %(period)s, %(end)s, 'penalty', '', NULL, 0, 1, NULL, NULL, pen.amount,
           pen.reason, pen.detail, %(run)s, %(moment)s
    FROM pen JOIN fa ON fa.account_id = pen.account_id
    ORDER BY pen.n
    RETURNING 1
),
ins_states AS (
    INSERT INTO {t_state} (meter_id, account_id, period, data)
    SELECT ml.meter_id, ml.account_id, %(period)s, jsonb_build_object(
        'raw', CASE ml.zones WHEN 1 THEN jsonb_build_array(ml.t1::text)
                             WHEN 2 THEN jsonb_build_array(ml.t1::text, ml.t2::text)
                             ELSE jsonb_build_array(ml.t1::text, ml.t2::text, ml.t3::text) END,
        'last', jsonb_build_array(%(p_label)s::text, CASE ml.zones
            WHEN 1 THEN jsonb_build_array(((ml.last -> 1 ->> 0)::numeric + ml.c1)::text)
            WHEN 2 THEN jsonb_build_array(((ml.last -> 1 ->> 0)::numeric + ml.c1)::text,
                                          ((ml.last -> 1 ->> 1)::numeric + ml.c2)::text)
            ELSE jsonb_build_array(((ml.last -> 1 ->> 0)::numeric + ml.c1)::text,
                                   ((ml.last -> 1 ->> 1)::numeric + ml.c2)::text,
                                   ((ml.last -> 1 ->> 2)::numeric + ml.c3)::text) END, 0),
        'anchors', ml.anchors)
    FROM ml
    UNION ALL
    -- a month by average: the state as it was, plus the estimate (domain.billing.bill_meter)
    SELECT am.meter_id, am.account_id, %(period)s,
           jsonb_build_object(
               'raw', am.data -> 'raw', 'last', am.data -> 'last',
               'est_periods', CASE WHEN jsonb_typeof(am.data -> 'est_periods') = 'array'
                                   THEN am.data -> 'est_periods' ELSE '[]' END || jsonb_build_array(%(p_label)s::text),
               'missing_run', COALESCE((am.data ->> 'missing_run')::int, 0) + 1)
           || CASE WHEN jsonb_array_length(COALESCE(am.data -> 'anchors', '[]')) > 0
                   THEN jsonb_build_object('anchors', am.data -> 'anchors') ELSE '{{}}' END
           || CASE WHEN COALESCE((NULLIF(am.data ->> 'est_norm', ''))::numeric, 0) <> 0
                   THEN jsonb_build_object('est_norm', am.data -> 'est_norm') ELSE '{{}}' END
           || CASE WHEN e.e1 <> 0 OR e.e2 <> 0 OR e.e3 <> 0
                   THEN jsonb_build_object('est', CASE am.zones
                       WHEN 1 THEN jsonb_build_array(e.e1::text)
                       WHEN 2 THEN jsonb_build_array(e.e1::text, e.e2::text)
                       ELSE jsonb_build_array(e.e1::text, e.e2::text, e.e3::text) END)
                   ELSE '{{}}' END
    FROM am
    CROSS JOIN LATERAL (SELECT COALESCE((am.data -> 'est' ->> 0)::numeric, 0) + am.a1 AS e1,
                               COALESCE((am.data -> 'est' ->> 1)::numeric, 0) + COALESCE(am.a2, 0) AS e2,
                               COALESCE((am.data -> 'est' ->> 2)::numeric, 0) + COALESCE(am.a3, 0) AS e3) e
    ORDER BY 1
    RETURNING 1
)
INSERT INTO {t_close} (account_id, period, run_id, basis, opening_balance, charges, recalculations,
                       payments, penalty, closing_balance, due_date, closed_at)
SELECT fa.account_id, %(period)s, %(run)s, fa.basis, fa.opening, rc.charges, rc.recalcs, rc.payments,
       COALESCE(pen.amount, 0), fa.opening + rc.charges + rc.recalcs + COALESCE(pen.amount, 0) + rc.payments,
       %(due)s, %(moment)s
FROM fa
LEFT JOIN (SELECT l.account_id, SUM(l.amount) FILTER (WHERE l.kind = 'charge') AS charges,
                  SUM(l.amount) FILTER (WHERE l.kind = 'recalculation') AS recalcs
           FROM lines l GROUP BY l.account_id) lc
    ON lc.account_id = fa.account_id
LEFT JOIN (
    SELECT e.account_id,
           SUM(e.amount) FILTER (WHERE e.kind IN ('correction', 'recalculation')) AS recalcs,
           SUM(e.amount) FILTER (WHERE e.kind = 'payment') AS payments
    FROM {t_ledger} e WHERE e.account_id BETWEEN %(lo)s AND %(hi)s AND e.period = %(period)s
    GROUP BY e.account_id) pe ON pe.account_id = fa.account_id
CROSS JOIN LATERAL (SELECT COALESCE(lc.charges, 0) AS charges,
                           COALESCE(lc.recalcs, 0) + COALESCE(pe.recalcs, 0) AS recalcs,
                           COALESCE(pe.payments, 0) AS payments) rc
-- the month's penalty and the settlements of debts paid off, as one sum
LEFT JOIN (SELECT pen.account_id, SUM(pen.amount) AS amount FROM pen GROUP BY pen.account_id) pen
    ON pen.account_id = fa.account_id
ORDER BY fa.account_id
"""


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


def _fast_penalty_candidates(cur: Any, span: list[int], period: date, end: date) -> list[int]:
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


def _fast_close(
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
            "pen": _json(_penalty_rows(penalties, settlements or {})),
        },
    )
    return int(cur.rowcount)


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
    # How the run was forced past its guard, if it was (``BillingRun.forced_*``).
    forced_checks: tuple[str, ...] = ()
    forced_reason: str = ""
    forced_by: str = ""
    forced_at: datetime | None = None


def close_refusals(
    period: date, today: date, window: ReadingWindow, latest: date | None, zone: str = ""
) -> list[CloseError]:
    """Why ``period`` may not be closed on ``today`` (in the utility's time zone ``zone``), given
    the reading window and the last closed month: every check that fails, each with its code.

    A month is closed only after its reading window has ended (the window the submissions use),
    so that no household is billed by estimate while it may still give its reading."""
    refusals = []
    last_day = window.bounds(period.year, period.month)[1]
    if period > today.replace(day=1):
        refusals.append(
            CloseError(
                f"{period:%Y-%m} is a future month (today is {today:%Y-%m-%d}, {zone}); "
                "it cannot be closed before its reading window ends",
                "future_month",
            )
        )
    elif today <= last_day:
        refusals.append(
            CloseError(
                f"{period:%Y-%m} cannot be closed yet: its reading window ends on {last_day:%Y-%m-%d} and "
                f"today is {today:%Y-%m-%d} ({zone}); close it from {last_day + timedelta(days=1):%Y-%m-%d}, "
                "or give --force with --reason",
                "window_open",
            )
        )
    if latest is not None and latest < add_months(period, -1):
        refusals.append(
            CloseError(
                f"close {add_months(latest, 1):%Y-%m} first (the last closed month is {latest:%Y-%m})",
                "previous_month_open",
            )
        )
    if latest is not None and latest > period:
        refusals.append(
            CloseError(f"{period:%Y-%m} is before the last closed month {latest:%Y-%m}", "before_last_closed")
        )
    return refusals


def run_prepare(
    period: date,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    force: bool = False,
    reason: str = "",
    forced_by: str = "",
    now: datetime | None = None,
) -> BillingRun:
    """Create the run of a month and its chunks, or return the existing run (to resume it).

    A new run is refused (CloseError, nothing written) by ``close_refusals``, unless ``force``:
    then the checks it overrode are recorded on the run with ``reason``, ``forced_by`` and the
    moment. ``now``: the moment to judge "today" by (default: now)."""
    period = month_start(period)
    utility = utility_get()
    moment = now or timezone.now()
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(period=period).first()
        if run is not None:
            # Accounts opened since the run started (or finished) — but never behind a later
            # month: such an account's first statement is in that later month.
            if not BillingRun.objects.filter(period__gt=period).exists():
                _add_missing_chunks(run)
            return run
        latest = BillingRun.objects.filter(status=RunStatus.DONE).aggregate(p=Max("period"))["p"]
        today = utility_now(utility, moment).date()
        refusals = close_refusals(period, today, reading_window_get(utility), latest, utility.time_zone)
        if refusals and not force:
            raise refusals[0]
        forced = [r.code for r in refusals]
        run = BillingRun.objects.create(
            period=period,
            rules_profile=utility.rules_profile,
            started_at=timezone.now(),
            chunk_size=chunk_size,
            forced_checks=forced,
            forced_reason=reason if forced else "",
            forced_by=forced_by if forced else "",
            forced_at=moment if forced else None,
        )
        if forced:
            log.warning("closing %s forced by %r past %s: %s", f"{period:%Y-%m}", forced_by, forced, reason)
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
    run = BillingRun.objects.filter(period=period).first()
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
        forced_checks=tuple(run.forced_checks) if run is not None else (),
        forced_reason=run.forced_reason if run is not None else "",
        forced_by=run.forced_by if run is not None else "",
        forced_at=run.forced_at if run is not None else None,
    )


def billing_close(
    period: date,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    run_chunk: Callable[[int], int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    reason: str = "",
    forced_by: str = "",
    now: datetime | None = None,
) -> CloseSummary:
    """Close a month in this process, chunk by chunk (the CLI runs chunks on task workers).
    ``force``, ``reason``, ``forced_by``, ``now``: as for ``run_prepare``."""
    run = run_prepare(period, chunk_size=chunk_size, force=force, reason=reason, forced_by=forced_by, now=now)
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
