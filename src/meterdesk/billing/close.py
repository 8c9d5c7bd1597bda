"""The monthly close: bill every account for a month, in chunks, exactly once.

``billing_close`` creates (or resumes) the run of a month and its chunks (ranges of account ids);
each chunk is closed by ``chunk_close`` in one transaction, as a task on the task workers. An
account is closed at most once per month (``AccountClose`` is unique per account and month and is
written in the same transaction as its ledger entries and meter states), so a crash or a kill at any
moment loses nothing and bills nothing twice: run it again and it finishes the rest.

A chunk's accounts are billed by ``close_engine.close_accounts`` (read, compute, write), the common
case by the SQL fast path (``fast_path``); the penalties are ``close_penalties``'.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from meterdesk.billing.close_engine import close_accounts
from meterdesk.billing.models import AccountClose, BillingChunk, BillingRun, RunStatus
from meterdesk.billing.pricing import DbPricing
from meterdesk.customers.models import Account
from meterdesk.domain.periods import add_months, month_start
from meterdesk.domain.profiles import profile_load
from meterdesk.domain.window import ReadingWindow
from meterdesk.utility.selectors import reading_window_get, rules_profile_get, utility_get, utility_now

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 2000
TWO = Decimal("0.01")


class CloseError(Exception):
    """The month cannot be closed as asked. ``code`` names the check that refused it (the codes
    that ``force`` overrides are recorded on the run)."""

    def __init__(self, message: str, code: str = "close_refused") -> None:
        super().__init__(message)
        self.code = code


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
        refusals = close_refusals(
            period, today, reading_window_get(utility, period), latest, utility.time_zone
        )
        if refusals and not force:
            raise refusals[0]
        forced = [r.code for r in refusals]
        run = BillingRun.objects.create(
            period=period,
            rules_profile=rules_profile_get(utility, period),
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
