"""`meterdesk bench stats`: the supervisors' dashboard (``stats.figures_of``) for one month of a
large utility, against the floor: the plain ``COUNT(*)`` of that month's readings on the same
database (docs/statistics.md).

It measures on a copy of the billing bench's database (``meterdesk_bench``, 1,000,000 accounts),
never on that database itself: the copy, ``meterdesk_bench_stats``, is made once with
``CREATE DATABASE … TEMPLATE meterdesk_bench`` and migrated (which builds the statistics'
indexes); later runs reuse it. With ``--database-url`` it measures on the database given
(migrated first), e.g. a small one in the tests. It only reads: the timings are of queries alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from meterdesk.bench.billing import BenchError, _Conn, bench_django
from meterdesk.cliutil import migrate

#: The copy measured on, and the billing bench's database it is made from.
DATABASE_NAME = "meterdesk_bench_stats"
SOURCE_NAME = "meterdesk_bench"
#: The bench's last month with readings.
DEFAULT_MONTH = date(2026, 9, 1)
RUNS = 3


def _copy_made(conn: _Conn, say: Callable[[str], None]) -> None:
    """Make the copy of the billing bench's database unless the database exists."""
    with conn.connect("postgres") as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [conn.name]).fetchone():
            return
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SOURCE_NAME]).fetchone():
            raise BenchError(
                f"no {SOURCE_NAME} to copy: build it first with "
                "`meterdesk bench billing --accounts 1000000 --build-only`"
            )
        say(f"Copying {SOURCE_NAME} to {conn.name} (once; a few minutes) …")
        try:
            admin.execute(f'CREATE DATABASE "{conn.name}" TEMPLATE "{SOURCE_NAME}"')
        except Exception as error:  # the source in use: the template copy needs it idle
            raise BenchError(f"could not copy {SOURCE_NAME} (in use? try again): {error}") from error


def _best(runs: int, work: Callable[[], Any]) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(round(time.perf_counter() - started, 4))
    return times, result


def _parts(first: date, last: date) -> dict[str, float]:
    """Each table's own time, once (where the dashboard's time goes)."""
    from django.utils import timezone

    from meterdesk.stats import figures as f

    begin, stop = f._span(first, last)
    figures = f.Figures(first, last)
    steps: dict[str, Callable[[], None]] = {
        "readings": lambda: f._readings(figures, begin, stop),
        "ledger": lambda: f._ledger(figures, first, last),
        "support": lambda: f._support(figures, begin, stop, timezone.now()),
        "phone": lambda: f._phone(figures, begin, stop),
        "letters": lambda: f._letters(figures, begin, stop),
        "terminal": lambda: f._terminal(figures, begin, stop),
    }
    parts = {}
    for name, step in steps.items():
        started = time.perf_counter()
        step()
        parts[name] = round(time.perf_counter() - started, 4)
    return parts


def _plan(first: date, last: date, begin: datetime, stop: datetime) -> str:
    """The readings query's plan, in a line: which index it reads, and whether the index alone."""
    from meterdesk.stats.figures import grouped_readings

    lines = grouped_readings(first, last, begin, stop).explain().splitlines()
    return "; ".join(line.strip().lstrip("-> ").split("  (")[0] for line in lines if "Scan" in line)


def bench_stats(
    *, month: date, runs: int = RUNS, database_url: str | None = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    conn = bench_django(database_url, DATABASE_NAME)
    if conn.name == SOURCE_NAME:
        raise BenchError(f"{SOURCE_NAME} is only read: measure on a copy (the default, {DATABASE_NAME})")
    if database_url is None:
        _copy_made(conn, say)
    say(f"Migrating {conn.name} (builds the statistics' indexes the first time) …")
    migrate()

    from django.db import connection

    from meterdesk.domain.periods import add_months
    from meterdesk.stats.figures import _span, figures_of

    first, last = month, add_months(month, 1) - timedelta(days=1)
    begin, stop = _span(first, last)

    def floor() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM metering_reading WHERE submitted_at >= %s AND submitted_at < %s",
                [begin, stop],
            )
            return int(cursor.fetchone()[0])

    say(f"Timing {first:%Y-%m}: the floor, then the dashboard's figures, {runs} times each …")
    floor(), figures_of(first, last)  # warm: the first touch reads the pages from disc
    floor_runs, floor_readings = _best(runs, floor)
    runs_, figures = _best(runs, lambda: figures_of(first, last))
    seconds, floor_seconds = min(runs_), min(floor_runs)
    return {
        "month": f"{first:%Y-%m}",
        "database": conn.name,
        "runs": runs,
        "seconds": seconds,
        "seconds_runs": runs_,
        "floor_seconds": floor_seconds,
        "floor_runs": floor_runs,
        "ratio": round(seconds / floor_seconds, 2) if floor_seconds else None,
        "readings": sum(figures.readings_by_channel.values()),
        "floor_readings": floor_readings,
        "readings_by_channel": {c: n for c, n in figures.readings_by_channel.items() if n},
        "accounts_billed": sum(sum(row.values()) for row in figures.billed_by_basis.values()),
        "payments": sum(way["count"] for way in figures.payments_by_way.values()),
        "parts_seconds": _parts(first, last),
        "readings_plan": _plan(first, last, begin, stop),
        "server_version": connection.cursor().connection.info.server_version,
    }
