"""`meterdesk bench billing`: time the monthly close of N accounts against the SQL floor.

1. A dedicated PostgreSQL database is dropped and created again (or, with ``keep``, reused when it
   already holds the same synthetic utility: the month is reopened), migrated, and filled by
   ``bench.synth`` with N accounts, two years of history and the state after month P-1.
2. The close of month P is timed as an operator runs it: ``meterdesk bill --period P --workers W``
   in a child process, which prepares the run, enqueues its chunks and starts W task workers
   (``meterdesk manage db_worker --queue-name billing --batch``). The wall time covers all of it.
   Peak RSS: ``VmHWM`` of the orchestrator and of every worker, sampled from /proc while they run,
   cross-checked with ``getrusage(RUSAGE_CHILDREN)`` (the largest of them).
3. The SQL floor, on the same data: one ``INSERT … SELECT`` that prices this month's readings
   against the previous actual reading of each meter and the tariff, one row per zone, into a
   scratch table. It does none of the rest (estimates, true-ups, norms, penalties, states,
   statements), so no engine can beat it. Timed three times (``FLOOR_RUNS``), each into a new
   table: the fastest run is the floor, and every run is printed (``sql_floor_runs``).
4. The close's writes alone, on the same data: the rows the close wrote (statements, states,
   ledger lines) written once more as next month's by plain ``INSERT … SELECT``, in as many
   parallel connections as the close had workers, then rolled back (``close_writes_seconds``):
   the part of the close that no computing can remove.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from meterdesk.bench.database import database_choose
from meterdesk.cliutil import SETTINGS_MODULE as PRODUCT_SETTINGS
from meterdesk.cliutil import django_setup, migrate
from meterdesk.devtools import database_url

#: The database `bench billing` measures on, on the product's PostgreSQL server unless given.
DATABASE_NAME = "meterdesk_bench"
#: The settings of the benchmark's processes (its database; bench/settings.py).
SETTINGS = "meterdesk.bench.settings"
DEFAULT_PERIOD = date(2026, 10, 1)


class BenchError(Exception):
    """The benchmark cannot run as asked."""


#: The server settings that matter for the close, printed with its figures.
SERVER_SETTINGS = (
    "server_version",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "synchronous_commit",
    "max_wal_size",
    "checkpoint_timeout",
    "wal_compression",
    "wal_buffers",
    "random_page_cost",
    "jit",
)


def server_settings(db: Any) -> dict[str, str]:
    """The values of ``SERVER_SETTINGS`` on the server of the connection ``db`` (as SHOW gives them)."""
    rows = db.execute(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", [list(SERVER_SETTINGS)]
    ).fetchall()
    found = dict(rows)
    return {name: found[name] for name in SERVER_SETTINGS if name in found}


#: The machine probe's pure-Python workload (steps of a list comprehension) and how often it runs.
PROBE_STEPS = 10_000_000
PROBE_RUNS = 3


def loop_seconds(steps: int = PROBE_STEPS, runs: int = PROBE_RUNS) -> float:
    """The fastest of ``runs`` timings of ``[0 for _ in range(steps)]``, in this process."""
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        [0 for _ in range(steps)]  # the workload itself
        times.append(time.perf_counter() - started)
    return min(times)


def machine_probe(steps: int = PROBE_STEPS, runs: int = PROBE_RUNS) -> dict[str, Any]:
    """What the figures of a run were measured on: the processor's model, the cores, and the seconds
    of a fixed pure-Python loop (``loop_seconds``).

    The targets are for "this 2-core machine", and machines of the same kind differed widely on this
    loop from session to session (docs/benchmarks.md): with the probe in the JSON, figures from two
    machines can be told apart, and compared for what is CPU-bound.

    The loop runs in a process of its own: its list (80 MB at 10 million steps) would otherwise
    raise this process's peak memory, which every child it starts afterwards (the close and its
    workers, started by fork and exec) reports as its own in ``getrusage``."""
    code = f"from meterdesk.bench.billing import loop_seconds; print(loop_seconds({int(steps)}, {int(runs)}))"
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise BenchError(f"the machine probe failed: {done.stderr[-1000:]}")
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "python_loop_steps": steps,
        "python_loop_seconds": round(float(done.stdout.strip()), 3),
    }


def bench_django(url: str | None, name: str) -> _Conn:
    """Set Django up on the benchmark's database: ``url`` if given, else the database ``name`` on
    the product's PostgreSQL server (never the product's own database: it is dropped), else on
    the local one. Nothing connects to it yet; returns how to reach it."""
    os.environ.pop("METERDESK_TASKS", None)  # the close as an operator runs it: tasks in the database
    database_choose(url=url, name=name)
    django_setup(SETTINGS)
    return _Conn.from_settings(settings.DATABASES["default"])


@dataclass
class _Conn:
    host: str
    port: int
    user: str
    password: str | None
    name: str

    @classmethod
    def parse(cls, url: str) -> _Conn:
        return cls.from_settings(dj_database_url.parse(url))

    @classmethod
    def from_settings(cls, c: Mapping[str, Any]) -> _Conn:
        """A database of Django's settings; refused unless it is PostgreSQL and named for a benchmark."""
        if "postgresql" not in str(c.get("ENGINE", "")):
            raise BenchError(f"a benchmark needs PostgreSQL, got the database {c.get('NAME')!r}")
        name = str(c["NAME"])
        if "bench" not in name:
            raise BenchError(
                f"refusing to drop and fill the database {name!r}: its name must contain 'bench'"
            )
        return cls(
            str(c.get("HOST") or "127.0.0.1"),
            int(c.get("PORT") or 5432),
            str(c.get("USER") or "postgres"),
            str(c["PASSWORD"]) if c.get("PASSWORD") else None,
            name,
        )

    @property
    def url(self) -> str:
        """The database as the DATABASE_URL of a child process."""
        return database_url(
            {
                "USER": self.user,
                "PASSWORD": self.password,
                "HOST": self.host,
                "PORT": self.port,
                "NAME": self.name,
            }
        )

    def connect(self, dbname: str | None = None) -> Any:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.name,
            autocommit=True,
        )


# --- peak RSS of a process tree ------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return out


def _hwm_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@dataclass
class _RssSampler:
    """Samples the peak RSS (VmHWM) of a process and its descendants until stopped."""

    root: int
    interval: float = 0.1
    peaks: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        todo = [self.root]
        while todo:
            pid = todo.pop()
            kb = _hwm_kb(pid)
            if kb:
                self.peaks[pid] = max(self.peaks.get(pid, 0), kb)
            todo += _children(pid)

    def stop(self) -> None:
        self._stop.set()


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass
class _BackendCpu:
    """Samples the CPU time of the PostgreSQL backends connected to one database (local server
    only: their /proc entries), until stopped. A backend's last ~0.5 s before it exits is missed."""

    conn: _Conn
    interval: float = 0.5
    seen: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with contextlib.suppress(Exception), self.conn.connect() as db:
            while not self._stop.is_set():
                rows = db.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.conn.name],
                ).fetchall()
                for (pid,) in rows:
                    cpu = _proc_cpu(pid)
                    if cpu:
                        self.seen[pid] = max(self.seen.get(pid, 0.0), cpu)
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


# --- the steps -------------------------------------------------------------------------------


def _database_ready(
    conn: _Conn, n: int, period: date, seed: int, keep: bool, say: Callable[[str], None]
) -> bool:
    """Create the database (dropping it first unless kept). True if it already holds the data."""
    with conn.connect("postgres") as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [conn.name]).fetchone()
        if exists and keep:
            with conn.connect() as db:
                # bench_info is written last: a build that stopped half way has none.
                info = db.execute("SELECT to_regclass('bench_info') IS NOT NULL").fetchone()
                found = (
                    info is not None
                    and info[0]
                    and db.execute(
                        "SELECT 1 FROM bench_info WHERE accounts = %s AND period = %s AND seed = %s",
                        [n, period, seed],
                    ).fetchone()
                )
            if found:
                say(f"Reusing the data in {conn.name}.")
                return True
        if exists:
            admin.execute(f'DROP DATABASE "{conn.name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{conn.name}"')
    return False


def _reopen_month(conn: _Conn, period: date) -> None:
    """Undo a previous close of ``period`` (kept data): its entries, states, statements and run."""
    with conn.connect() as db:
        run = db.execute("SELECT id FROM billing_billingrun WHERE period = %s", [period]).fetchone()
        db.execute("DROP TABLE IF EXISTS bench_floor")
        if run is not None:
            db.execute("DELETE FROM billing_ledgerentry WHERE run_id = %s", [run[0]])
            db.execute("DELETE FROM billing_meterbillingstate WHERE period = %s", [period])
            db.execute("DELETE FROM billing_accountclose WHERE period = %s", [period])
            db.execute("DELETE FROM billing_billingchunk WHERE run_id = %s", [run[0]])
            db.execute("DELETE FROM billing_billingrun WHERE id = %s", [run[0]])
        db.execute("DELETE FROM django_tasks_database_dbtaskresult")
        db.execute("VACUUM (ANALYZE)")
        db.execute("CHECKPOINT")


def _close(
    period: date, workers: int, chunk_size: int, env: dict[str, str], conn: _Conn | None = None
) -> dict[str, Any]:
    """Run `meterdesk bill` for the month in a child process; time it and sample its memory."""
    log = Path(settings.DATA_DIR) / "logs" / f"bench-bill-{period:%Y-%m}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "meterdesk.cli",
        "bill",
        "--period",
        f"{period:%Y-%m}",
        "--workers",
        str(workers),
        "--chunk-size",
        str(chunk_size),
        # The month is the synthetic data's, whatever today is: past the close's guard (its
        # window may not have ended yet); recorded on the run only if a check was overridden.
        "--force",
        "--reason",
        "meterdesk bench billing",
    ]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)  # noqa: S603
        sampler = _RssSampler(proc.pid)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        backends = _BackendCpu(conn) if conn is not None else None
        backend_thread = threading.Thread(target=backends.run, daemon=True) if backends else None
        if backend_thread is not None:
            backend_thread.start()
        code = proc.wait()
        seconds = time.perf_counter() - started
        sampler.stop()
        thread.join()
        if backends is not None and backend_thread is not None:
            backends.stop()
            backend_thread.join()
    if code != 0:
        raise BenchError(f"`meterdesk bill` failed (exit {code}); see {log}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_max = usage.ru_maxrss  # kB on Linux
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peaks = sampler.peaks
    orchestrator = peaks.get(proc.pid, 0)
    worker_peaks = [kb for pid, kb in peaks.items() if pid != proc.pid]
    # A child started by fork and exec reports its parent's peak as its own in ru_maxrss (Linux
    # keeps the old address space's high-water mark at exec), so a children's figure at or below
    # this process's own peak may be that: only one above it is the close's own (a peak between
    # two samples); otherwise the samples of /proc (VmHWM, per process) stand.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    largest = max([children_max if children_max > max(before, own) else 0, *peaks.values()])
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "postgres_cpu_seconds": sum(backends.seen.values()) if backends is not None else None,
        "peak_rss_mb": largest / 1024,
        "orchestrator_rss_mb": orchestrator / 1024,
        "worker_rss_mb": max(worker_peaks, default=0) / 1024,
        "total_rss_mb": (orchestrator + sum(worker_peaks)) / 1024,
        "processes_seen": len(peaks),
        "log": str(log),
    }


FLOOR_SQL = """
INSERT INTO bench_floor (account_id, meter_id, zone, volume, price, amount)
SELECT r.account_id, r.meter_id, tp.zone, v.volume, tp.price, round(v.volume * tp.price, 2)
FROM metering_reading r
JOIN metering_meter m ON m.id = r.meter_id
JOIN customers_account a ON a.id = r.account_id
JOIN (VALUES (1, 'single'), (2, 'two_zone'), (3, 'three_zone')) k (zones, kind) ON k.zones = m.zones
JOIN tariffs_tariff t ON t.region = %(region)s AND t.category = a.category AND t.kind = k.kind
    AND t.valid_from <= %(period)s AND (t.valid_to IS NULL OR t.valid_to >= %(period)s)
JOIN tariffs_tariffprice tp ON tp.tariff_id = t.id AND tp.band = 1
CROSS JOIN LATERAL (
    SELECT q.t1, q.t2, q.t3 FROM metering_reading q
    WHERE q.meter_id = r.meter_id AND q.period < r.period AND q.status = 'accepted'
    ORDER BY q.period DESC LIMIT 1
) prev
CROSS JOIN LATERAL (SELECT CASE tp.zone WHEN 1 THEN r.t1 - prev.t1 WHEN 2 THEN r.t2 - prev.t2
                                ELSE r.t3 - prev.t3 END AS used) u
CROSS JOIN LATERAL (SELECT CASE WHEN u.used < 0 THEN u.used + 10::numeric ^ m.digits ELSE u.used END
                    AS volume) v
WHERE r.period = %(period)s AND r.status = 'accepted' AND r.kind = 'customer'
"""


#: How many times the floor is timed: its figure is the fastest run. On a shared machine the same
#: statement varies from run to run, and every other cost only adds to a run, never takes away.
FLOOR_RUNS = 3


def _floor(conn: _Conn, period: date, region: str, runs: int = FLOOR_RUNS) -> tuple[list[float], int]:
    """Time the plainest set-based SQL for the actual-reading charges of the month, ``runs`` times
    (each into a new table). Returns every run's seconds and the rows of the last one."""
    times: list[float] = []
    rows = 0
    with conn.connect() as db:
        for _run in range(runs):
            db.execute("DROP TABLE IF EXISTS bench_floor")
            db.execute(
                "CREATE TABLE bench_floor (account_id bigint, meter_id bigint, zone smallint, "
                "volume numeric(14,3), price numeric(8,2), amount numeric(14,2))"
            )
            started = time.perf_counter()
            cur = db.execute(FLOOR_SQL, {"region": region, "period": period})
            times.append(time.perf_counter() - started)
            if rows and cur.rowcount != rows:  # pragma: no cover - the same statement on the same data
                raise BenchError(f"the SQL floor wrote {cur.rowcount} rows, then {rows}")
            rows = cur.rowcount
    return times, rows


def _copy_sql(model: Any, shifted: tuple[str, ...]) -> str:
    """INSERT … SELECT of ``model``'s rows of one month and account span, as rows of the next month
    (``shifted``: the date columns moved by a month; every other column as it is, but the id)."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = [f"({c} + interval '1 month')::date" if c in shifted else c for c in columns]
    table = model._meta.db_table
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {table} "  # noqa: S608 - names from the models
        "WHERE period = %(period)s AND account_id BETWEEN %(lo)s AND %(hi)s"
    )


def _close_writes(conn: _Conn, period: date, workers: int) -> tuple[float, int]:
    """Time writing, once more, exactly the rows the close of ``period`` wrote (its statements,
    its meters' states and its ledger lines, copied as the next month's), in ``workers`` parallel
    connections over equal spans of the accounts, as the close's workers write; then roll back.
    No computing at all: the cost of the close's writes alone (tables, indexes, checks, WAL), the
    part of the close that no engine of this data model can avoid. Returns the seconds and rows."""
    from meterdesk.billing.models import AccountClose, LedgerEntry, MeterBillingState

    statements = [
        _copy_sql(AccountClose, ("period", "due_date")),
        _copy_sql(MeterBillingState, ("period",)),
        _copy_sql(LedgerEntry, ("period", "posted_on")) + " AND run_id IS NOT NULL",
    ]
    with conn.connect() as db:
        lo, hi = db.execute("SELECT MIN(id), MAX(id) FROM customers_account").fetchone()
    step = (hi - lo) // workers + 1
    spans = [(lo + i * step, min(hi, lo + (i + 1) * step - 1)) for i in range(workers)]
    done = threading.Barrier(workers + 1)
    rows = [0] * workers
    failures: list[BaseException] = []

    def write(index: int, span: tuple[int, int]) -> None:
        try:
            with conn.connect() as db:
                db.execute("BEGIN")
                for sql in statements:
                    rows[index] += db.execute(sql, {"period": period, "lo": span[0], "hi": span[1]}).rowcount
                done.wait()  # every span written before any is rolled back
                db.execute("ROLLBACK")
        except BaseException as error:  # a lost connection rolls its copy back by itself
            failures.append(error)
            done.abort()  # nobody waits for a span that will never be written

    threads = [threading.Thread(target=write, args=(i, span)) for i, span in enumerate(spans)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        done.wait()
    seconds = time.perf_counter() - started
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(f"copying the close's rows failed: {failures[0]}")
    return seconds, sum(rows)


#: What a close writes, without ids (and, for the ledger, as a multiset: a duplicate shows).
_SNAPSHOT_SQL = (
    "SELECT account_id, period, posted_on, kind, basis, meter_id, zone, band, volume, price, amount, "
    "reason, detail::text, run_id, created_at, corrects_id, external_id FROM billing_ledgerentry "
    "WHERE account_id BETWEEN %s AND %s AND period = %s",
    "SELECT meter_id, account_id, period, data::text FROM billing_meterbillingstate "
    "WHERE account_id BETWEEN %s AND %s AND period = %s",
    "SELECT account_id, period, run_id, basis, opening_balance, charges, recalculations, payments, "
    "penalty, closing_balance, due_date, closed_at FROM billing_accountclose "
    "WHERE account_id BETWEEN %s AND %s AND period = %s",
)


def fast_path_check(period: date, chunk_size: int = 2000, every: int = 1) -> dict[str, Any]:
    """Close every ``every``-th chunk of ``period`` twice, with and without the SQL fast path (each
    in a transaction rolled back), and compare every ledger line, meter state and statement they
    write. Needs Django set up on a database where the month is open."""
    from meterdesk.billing import close_engine, fast_path
    from meterdesk.billing.pricing import DbPricing
    from meterdesk.domain.profiles import profile_load
    from meterdesk.utility.selectors import utility_get

    utility = utility_get()
    profile = profile_load(utility.rules_profile)
    pricing = DbPricing(utility.tariff_region)
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT MIN(id), MAX(id) FROM (SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS grp "
            "FROM customers_account) t GROUP BY grp ORDER BY grp",
            [chunk_size],
        )
        chunks = cur.fetchall()[::every]
    fast_closed = 0
    real_fast = fast_path.fast_close

    def counting_fast(*args: Any, **kwargs: Any) -> int:
        nonlocal fast_closed
        n = real_fast(*args, **kwargs)
        fast_closed += n
        return n

    class _Undo(Exception):
        pass

    def closed(lo: int, hi: int, fast: bool) -> tuple[int, list[Counter[tuple[Any, ...]]]]:
        result: tuple[int, list[Counter[tuple[Any, ...]]]] = (0, [])
        try:
            with transaction.atomic():
                n = close_engine.close_accounts(
                    run=None,
                    first_id=lo,
                    last_id=hi,
                    period=period,
                    profile=profile,
                    pricing=pricing,
                    now=now,
                    fast=fast,
                )
                with connection.cursor() as cur:
                    rows = []
                    for sql in _SNAPSHOT_SQL:
                        cur.execute(sql, [lo, hi, period])
                        rows.append(Counter(cur.fetchall()))
                result = (n, rows)
                raise _Undo
        except _Undo:
            pass
        return result

    accounts = rows_compared = 0
    differences: list[str] = []
    fast_path.fast_close = counting_fast  # type: ignore[assignment]
    try:
        for lo, hi in chunks:
            n_slow, slow = closed(lo, hi, False)
            n_fast, fast = closed(lo, hi, True)
            accounts += n_slow
            rows_compared += sum(sum(c.values()) for c in slow)
            if n_slow != n_fast:
                differences.append(
                    f"accounts {lo}-{hi}: {n_slow} closed without the fast path, {n_fast} with it"
                )
            for name, a, b in zip(("ledger", "states", "statements"), slow, fast, strict=True):
                if a != b:
                    differences.append(
                        f"accounts {lo}-{hi}, {name}: only without {list((a - b).elements())[:2]}, "
                        f"only with {list((b - a).elements())[:2]}"
                    )
    finally:
        fast_path.fast_close = real_fast  # type: ignore[assignment]
    return {
        "chunks": len(chunks),
        "accounts": accounts,
        "accounts_by_fast_path": fast_closed,
        "rows_compared": rows_compared,
        "equal": not differences,
        "differences": differences[:20],
    }


def bench_billing(
    *,
    accounts: int,
    workers: int,
    chunk_size: int = 2000,
    keep: bool = False,
    build_only: bool = False,
    check_fast_path: int = 0,
    period: date = DEFAULT_PERIOD,
    seed: int = 1,
    database_url: str | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Build (or reuse) the synthetic utility, time the close of ``period`` and the SQL floor."""
    conn = bench_django(database_url, DATABASE_NAME)
    ready = _database_ready(conn, accounts, period, seed, keep, say)
    from meterdesk.bench.synth import synth_build
    from meterdesk.seed import reference_load

    setup: dict[str, float] = {}
    started = time.perf_counter()
    if ready:
        # Kept data: bring its schema up to date (e.g. an index dropped since it was built).
        migrate()
        connections.close_all()
        if not build_only:
            _reopen_month(conn, period)
        setup["reopen"] = time.perf_counter() - started
    else:
        migrate()
        utility = reference_load()
        connections.close_all()
        say(f"Building {accounts} accounts with two years of history in {conn.name} …")
        with conn.connect() as db:
            setup = synth_build(
                db.cursor(), accounts, period, seed=seed, progress=lambda n, s: say(f"  {n:<11} {s:7.1f} s")
            )
            db.execute("CREATE TABLE bench_info (accounts int, period date, seed int)")
            db.execute("INSERT INTO bench_info VALUES (%s, %s, %s)", [accounts, period, seed])
        del utility
    setup_seconds = time.perf_counter() - started
    from meterdesk.utility.selectors import utility_get

    region = utility_get().tariff_region
    check: dict[str, Any] | None = None
    if check_fast_path:
        say(f"Checking the fast path against the engine on every {check_fast_path}. chunk …")
        check = fast_path_check(period, chunk_size, every=check_fast_path)
        if not check["equal"]:
            raise BenchError("the fast path differs from the engine: " + "; ".join(check["differences"]))
    connections.close_all()
    if build_only:
        return {
            "accounts": accounts,
            "period": f"{period:%Y-%m}",
            "setup_seconds": round(setup_seconds, 1),
            "setup_steps": {k: round(v, 1) for k, v in setup.items()},
            "database": conn.name,
            **({"fast_path_check": check} if check is not None else {}),
        }

    machine = machine_probe()
    # The close as an operator runs it: the product's settings, on the benchmark's database.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": PRODUCT_SETTINGS, "DATABASE_URL": conn.url}
    say(f"Closing {period:%Y-%m} with {workers} worker(s), {chunk_size} accounts a chunk …")
    load_before = os.getloadavg()
    close = _close(period, workers, chunk_size, env, conn)
    with conn.connect() as db:
        closed = db.execute(
            "SELECT COUNT(*) FROM billing_accountclose WHERE period = %s", [period]
        ).fetchone()[0]
        by_basis = dict(
            db.execute(
                "SELECT basis, COUNT(*) FROM billing_accountclose WHERE period = %s GROUP BY basis",
                [period],
            ).fetchall()
        )
        lines = db.execute(
            "SELECT COUNT(*) FROM billing_ledgerentry WHERE period = %s AND run_id IS NOT NULL", [period]
        ).fetchone()[0]
        server = server_settings(db)
    if closed != accounts:
        raise BenchError(f"the close produced {closed} statements for {accounts} accounts")
    say(f"Timing the SQL floor ({FLOOR_RUNS} runs, the fastest counts) …")
    floor_runs, floor_rows = _floor(conn, period, region)
    floor_seconds = min(floor_runs)
    say(f"Timing the close's writes alone (its rows copied, {workers} connection(s), rolled back) …")
    writes_seconds, writes_rows = _close_writes(conn, period, workers)
    seconds = close["seconds"]
    return {
        "accounts": accounts,
        "seconds": round(seconds, 3),
        "accounts_per_second": round(accounts / seconds, 1),
        "sql_floor_seconds": round(floor_seconds, 3),
        "sql_floor_runs": [round(t, 3) for t in floor_runs],
        "ratio_to_floor": round(seconds / floor_seconds, 2) if floor_seconds > 0 else None,
        # The close's own rows written once more with no computing (_close_writes): what any
        # close of this data model pays before it computes anything.
        "close_writes_seconds": round(writes_seconds, 3),
        "close_writes_ratio_to_floor": round(writes_seconds / floor_seconds, 2)
        if floor_seconds > 0
        else None,
        "close_writes_rows": writes_rows,
        "python_cpu_seconds": round(close["cpu_seconds"], 1),
        # The close's PostgreSQL backends, sampled from /proc (a local server; ~0 otherwise).
        "postgres_cpu_seconds": round(close["postgres_cpu_seconds"] or 0, 1),
        "peak_rss_mb": round(close["peak_rss_mb"], 1),
        "peak_rss_total_mb": round(close["total_rss_mb"], 1),
        "orchestrator_rss_mb": round(close["orchestrator_rss_mb"], 1),
        "worker_rss_mb": round(close["worker_rss_mb"], 1),
        "workers": workers,
        "chunk_size": chunk_size,
        "period": f"{period:%Y-%m}",
        "statements": closed,
        "ledger_lines": lines,
        "floor_rows": floor_rows,
        "by_basis": by_basis,
        "setup_seconds": round(setup_seconds, 1),
        "setup_steps": {k: round(v, 1) for k, v in setup.items()},
        "database": conn.name,
        "cpu_count": os.cpu_count(),
        # What the figures were measured on (probed just before the close).
        "machine": machine,
        # What the server ran with: every figure says which settings it was measured with.
        "server_settings": server,
        # Other work on the machine while the close ran shows here (beside the close's own workers
        # and backends).
        "load_average_before_close": [round(x, 2) for x in load_before],
        "load_average_after_close": [round(x, 2) for x in os.getloadavg()],
        **({"fast_path_check": check} if check is not None else {}),
    }
