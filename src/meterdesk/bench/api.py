"""`meterdesk bench api`: accepted readings per second through the production server, and two floors.

1. A dedicated PostgreSQL database (its name contains ``bench_api``) is dropped and created again,
   migrated, and filled by ``bench.synth`` with N accounts, their meters and two years of history
   up to last month; then, in SQL, one login per account (linked to it, with an e-mail, so every
   accepted reading sends its confirmation as in production) and one device token per login (its
   SHA-256 as ``api.auth`` stores it), and the table ``bench_write`` of the one-write floor.
2. The production server, ``meterdesk serve`` (gunicorn gthread, and the mail sender it starts
   beside it, which sends the confirmation e-mails from the outbox), runs as a child process on that database
   with the reading window open (``METERDESK_READING_WINDOW=1-31``), the rate limits off and the
   benchmark's endpoints mounted (its settings, bench/settings.py, load bench/urls.py).
3. A separate load process (``python -m meterdesk.bench.api PLAN``: threads, one keep-alive
   ``http.client`` connection per simulated client) drives four phases, each after a short
   warm-up: the trivial endpoint, the one-write endpoint, the mix: submissions of readings
   (random tokens, an ``Idempotency-Key`` each, values above the meter's last reading) with some
   dashboard reads (``GET /api/v1/accounts/{number}``), then the one-write endpoint again. The
   one-write floor is the rate of both of its phases together: they bracket the mix in time, so a
   machine that drifts during the run moves the floor as it moves the mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from meterdesk.bench.billing import (
    SETTINGS,
    BenchError,
    _children,
    _Conn,
    _proc_cpu,
    bench_django,
    machine_probe,
)
from meterdesk.cliutil import migrate
from meterdesk.devtools import LOCALHOST as HOST
from meterdesk.devtools import free_port
from meterdesk.domain.periods import add_months

#: The database `bench api` measures on, on the product's PostgreSQL server unless given.
DATABASE_NAME = "meterdesk_bench_api"
#: Share of the mixed phase's requests that read the dashboard (the rest submit readings).
DASHBOARD_SHARE = 0.1
#: Seconds of traffic before each phase's measurement starts (connections opened, caches warm).
WARMUP = 1.0


# --- setup -----------------------------------------------------------------------------------


def _recreate(conn: _Conn) -> None:
    if "bench_api" not in conn.name:
        raise BenchError(f"refusing to drop the database {conn.name!r}: its name must contain 'bench_api'")
    with conn.connect("postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{conn.name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{conn.name}"')


def _logins_and_tokens(db: Any, n: int) -> list[str]:
    """One login per account (linked to it) and one token per login; returns the tokens by id-1."""
    from meterdesk.api.auth import TOKEN_PREFIX, token_hash

    db.execute(
        "INSERT INTO customers_user (id, password, last_login, is_superuser, email, full_name, "
        "language, is_staff, is_active, date_joined) "
        "SELECT i, '!bench', NULL, false, 'bench' || i || '@example.com', 'Абонент ' || i, 'ru', "
        "false, true, now() FROM generate_series(1, %s) i",
        [n],
    )
    db.execute("SELECT setval(pg_get_serial_sequence('customers_user', 'id'), %s)", [n])
    db.execute(
        "INSERT INTO customers_accountlink (user_id, account_id, linked_at) "
        "SELECT i, i, now() FROM generate_series(1, %s) i",
        [n],
    )
    tokens = [f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}" for _ in range(n)]
    with (
        db.cursor() as cur,
        cur.copy("COPY api_apitoken (user_id, name, prefix, key_hash, created_at) FROM STDIN") as copy,
    ):
        for i, raw in enumerate(tokens, start=1):
            copy.write_row((i, "bench", raw[:12], token_hash(raw), "now"))
    db.execute("CREATE TABLE bench_write (id bigserial PRIMARY KEY, t timestamptz NOT NULL)")
    db.execute("VACUUM (ANALYZE)")
    return tokens


def _plan(db: Any, tokens: list[str], period: Any) -> list[dict[str, Any]]:
    """What the load process needs per login: token, account number, and the meter to submit for
    with its last accepted values (a submission above them, within the meter's capacity, is
    accepted; "high_consumption" is confirmed in advance, for the values sent)."""
    rows = db.execute(
        "SELECT a.id, a.number, m.id, m.zones, (10 ^ m.digits)::bigint, r.t1, r.t2, r.t3 "
        "FROM customers_account a "
        "LEFT JOIN metering_meter m ON m.account_id = a.id AND m.status = 'active' "
        "LEFT JOIN LATERAL (SELECT t1, t2, t3 FROM metering_reading q WHERE q.meter_id = m.id "
        "  AND q.period < %s AND q.status = 'accepted' ORDER BY q.period DESC LIMIT 1) r ON true "
        "ORDER BY a.id",
        [period],
    ).fetchall()
    plan = []
    for account_id, number, meter_id, zones, cap, *last in rows:
        entry: dict[str, Any] = {"token": tokens[account_id - 1], "number": number, "meter": None}
        if meter_id is not None and last[0] is not None:
            values = [int(v) for v in last[:zones]]
            if all(v + 20_000 < cap for v in values):  # never a rollover within a run
                entry.update(meter=meter_id, last=values)
        plan.append(entry)
    return plan


#: The longest the benchmark waits for the mail sender to empty the outbox after the load.
DRAIN_LIMIT = 300.0


def _drain(conn: _Conn, limit: float = DRAIN_LIMIT) -> dict[str, Any]:
    """Wait until the outbox has no mail left to send (or ``limit`` seconds): the backlog when the
    load stopped, what is left, and the wall-clock span."""
    query = "SELECT COUNT(*) FROM metering_confirmationmail WHERE sent_at IS NULL AND failed_at IS NULL"
    with conn.connect() as db:
        started = time.time()
        backlog = left = int(db.execute(query).fetchone()[0])
        while left and time.time() - started < limit:
            time.sleep(0.1)
            left = int(db.execute(query).fetchone()[0])
        return {"backlog": backlog, "left": left, "wall_from": started, "wall_until": time.time()}


#: Why --ceiling refuses to run: checked before the build (accounts) and after it (their meters).
CEILING_NEEDS_TWO = (
    "--ceiling needs at least two accounts with a meter (it tries one customer's token on another's meter)"
)


def _ceiling_check(port: int, plan: list[dict[str, Any]], conn: _Conn) -> None:
    """Before the load: the ceiling endpoint does what ceiling.sql says, or the benchmark stops
    (a ceiling that stored less, or answered anyone, would not be one)."""
    submitting = [p for p in plan if p["meter"] is not None]
    if len(submitting) < 2:
        raise BenchError(CEILING_NEEDS_TWO)
    first, other = submitting[:2]
    client = _Client(port)

    def post(who: dict[str, Any], meter: int, values: list[int], key: str) -> tuple[int, bytes]:
        body = json.dumps({"values": [str(v) for v in values], "confirm": []}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {who['token']}"}
        return client.request(
            "POST", f"/api/v1/bench/ceiling/{meter}", body, {**headers, "Idempotency-Key": key}
        )

    key = str(uuid.uuid4())
    answers = [post(first, first["meter"], first["last"], key) for _ in range(2)]
    problems = []
    if answers[0][0] != 201 or answers[1] != answers[0]:
        problems.append(
            f"a submission and its retry answered {answers[0][0]} and {answers[1][0]}, not the same 201"
        )
    if (status := post(first, other["meter"], other["last"], str(uuid.uuid4()))[0]) != 404:
        problems.append(f"another customer's meter answered {status}, not 404")
    if (status := post(first, first["meter"], [v - 1 for v in first["last"]], str(uuid.uuid4()))[0]) != 400:
        problems.append(f"a value below the previous one answered {status}, not 400")
    if (
        status := post({"token": "mdk_not-a-token"}, first["meter"], first["last"], str(uuid.uuid4()))[0]
    ) != 401:
        problems.append(f"an unknown token answered {status}, not 401")
    if answers[0][0] == 201:
        reading = json.loads(answers[0][1])["id"]
        with conn.connect() as db:
            stored = db.execute(
                "SELECT (SELECT COUNT(*) FROM metering_reading WHERE id = %s AND meter_id = %s AND status = 'accepted'), "
                "(SELECT COUNT(*) FROM metering_confirmationmail WHERE reading_id = %s), "
                "(SELECT COUNT(*) FROM api_idempotencyrecord WHERE key = %s)",
                [reading, first["meter"], reading, key],
            ).fetchone()
        if tuple(stored) != (1, 1, 1):
            problems.append(
                f"the reading, its e-mail and the key's answer were stored {tuple(stored)} times, not once each"
            )
    if problems:
        raise BenchError("the ceiling endpoint: " + "; ".join(problems))


def _wait_up(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server stopped (exit {proc.returncode}); see {log}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/health", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"the server did not answer within {timeout:.0f} s; see {log}")


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


@dataclass
class _CpuTimeline:
    """CPU seconds used so far by the server's web workers, its mail sender(s) and the PostgreSQL
    backends of the bench database (a local server: their /proc entries), sampled with the wall
    time until stopped: the CPU of each phase is the difference between two instants."""

    root: int
    conn: _Conn
    interval: float = 0.25
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with contextlib.suppress(Exception), self.conn.connect() as db:
            seen: dict[int, tuple[str, float]] = {}  # a process's last CPU stays counted after it exits
            while True:
                stopping = self._stop.is_set()  # one more sample after the stop: the last phase's end
                backends = [
                    pid
                    for (pid,) in db.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        [self.conn.name],
                    ).fetchall()
                ]
                todo, tree = [self.root], []
                while todo:
                    pid = todo.pop()
                    tree.append(pid)
                    todo += _children(pid)
                for pid in tree:
                    kind = "mail" if "send-confirmations" in _cmdline(pid) else "server"
                    seen[pid] = (kind, max(_proc_cpu(pid), seen.get(pid, ("", 0.0))[1]))
                for pid in backends:
                    seen[-pid] = ("postgres", max(_proc_cpu(pid), seen.get(-pid, ("", 0.0))[1]))
                totals = {"server": 0.0, "mail": 0.0, "postgres": 0.0}
                for kind, cpu in seen.values():
                    totals[kind] += cpu
                self.samples.append((time.time(), totals["server"], totals["mail"], totals["postgres"]))
                if stopping:
                    break
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()

    def at(self, moment: float) -> tuple[float, float, float]:
        """The CPU totals at ``moment``, interpolated between the samples around it."""
        before = [x for x in self.samples if x[0] <= moment]
        after = [x for x in self.samples if x[0] >= moment]
        if not before or not after:
            raise BenchError("the CPU samples do not cover the phase")
        a, b = before[-1], after[0]
        share = 0.0 if b[0] == a[0] else (moment - a[0]) / (b[0] - a[0])
        return (
            a[1] + (b[1] - a[1]) * share,
            a[2] + (b[2] - a[2]) * share,
            a[3] + (b[3] - a[3]) * share,
        )

    def per_request(self, phase: dict[str, Any], requests: int) -> dict[str, float | None]:
        """Milliseconds of CPU per request of a phase, by process kind (and the load generator's)."""
        if not requests:
            return {"server": None, "mail_sender": None, "postgres": None, "load": None, "total": None}
        start, end = self.at(phase["wall_from"]), self.at(phase["wall_until"])
        server, mail, postgres = ((e - s) * 1000 / requests for s, e in zip(start, end, strict=True))
        load = phase["load_cpu_seconds"] * 1000 / requests
        return {
            "server": round(server, 3),
            "mail_sender": round(mail, 3),
            "postgres": round(postgres, 3),
            "load": round(load, 3),
            "total": round(server + mail + postgres + load, 3),
        }


def bench_api(
    *,
    accounts: int,
    duration: float,
    clients: int,
    workers: int,
    threads: int,
    ceiling: bool = False,
    database_url: str | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    if ceiling and accounts < 2:
        raise BenchError(CEILING_NEEDS_TWO)
    conn = bench_django(database_url, DATABASE_NAME)
    _recreate(conn)
    from meterdesk.bench.synth import synth_build
    from meterdesk.seed import reference_load
    from meterdesk.utility.selectors import utility_now

    started = time.perf_counter()
    migrate()
    reference_load()
    connections.close_all()
    month = utility_now().date().replace(day=1)
    say(
        f"Building {accounts} accounts with two years of history up to {add_months(month, -1):%Y-%m} in {conn.name} …"
    )
    with conn.connect() as db:
        synth_build(db.cursor(), accounts, add_months(month, -1))
        tokens = _logins_and_tokens(db, accounts)
        plan = _plan(db, tokens, month)
        if ceiling:
            from meterdesk.bench.api_floor import CEILING_SQL

            db.execute(CEILING_SQL.read_text(encoding="utf-8"))
    setup_seconds = time.perf_counter() - started
    machine = machine_probe()  # before the server starts: the machine to itself

    data = Path(settings.DATA_DIR)
    (data / "logs").mkdir(parents=True, exist_ok=True)
    log = data / "logs" / "bench-api-server.log"
    plan_file = data / "bench-api-plan.json"
    port = free_port()
    plan_file.write_text(
        json.dumps(
            {"port": port, "duration": duration, "clients": clients, "ceiling": ceiling, "plan": plan}
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,  # the benchmark's endpoints beside the product's
        "DATABASE_URL": conn.url,
        "METERDESK_READING_WINDOW": "1-31",
        "METERDESK_API_RATE_TOKEN": "off",
        "METERDESK_API_RATE_ADDRESS": "off",
        "METERDESK_ALLOWED_HOSTS": f"{HOST},localhost",
        "METERDESK_DEBUG": "",
    }
    command = [sys.executable, "-m", "meterdesk.cli", "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), "--threads", str(threads)]
    say(f"Serving on {HOST}:{port}: gunicorn gthread, {workers} workers × {threads} threads (log {log})")
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    timeline = _CpuTimeline(server.pid, conn)
    sampler = threading.Thread(target=timeline.run, daemon=True)
    try:
        _wait_up(port, server, log)
        if ceiling:
            _ceiling_check(port, plan, conn)
        sampler.start()
        say(f"Load: {clients} clients, {duration:g} s per phase (after {WARMUP:g} s of warm-up each) …")
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "meterdesk.bench.api", str(plan_file)],
            capture_output=True,
            text=True,
            check=False,
            timeout=(5 if ceiling else 4) * (duration + WARMUP) + 120,
        )
        if done.returncode != 0:
            raise BenchError(f"the load process failed (exit {done.returncode}): {done.stderr[-2000:]}")
        load = json.loads(done.stdout)
        say("Waiting for the mail sender to send the confirmations left …")
        drain = _drain(conn)
    finally:
        timeline.stop()
        if sampler.is_alive():
            sampler.join(timeout=10)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    with conn.connect() as db:
        stored = db.execute(
            "SELECT COUNT(*) FROM metering_reading WHERE channel = 'api' AND period = %s", [month]
        ).fetchone()[0]
        sent, waiting, failed = db.execute(
            "SELECT COUNT(*) FILTER (WHERE sent_at IS NOT NULL), "
            "COUNT(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL), "
            "COUNT(*) FILTER (WHERE failed_at IS NOT NULL) FROM metering_confirmationmail"
        ).fetchone()
    mixed, trivial, write, after = load["mixed"], load["trivial"], load["write"], load["write_after"]
    cpu = {
        "trivial": timeline.per_request(trivial, trivial["requests"]),
        "one_write": timeline.per_request(write, write["requests"]),
        "one_write_after_mix": timeline.per_request(after, after["requests"]),
        "mixed": timeline.per_request(mixed, mixed["submissions"] + mixed["dashboards"]),
        "per_accepted_reading": timeline.per_request(mixed, mixed["accepted"]),
    }
    write_ps = (write["ok"] + after["ok"]) / (write["seconds"] + after["seconds"])
    ceiling_figures: dict[str, Any] | None = None
    if ceiling:
        top = load["ceiling"]
        ceiling_figures = {
            **_mix_rate(top, write_ps),
            "statuses": top["statuses"],
            "dashboards_per_second": round(top["dashboards_ok"] / top["seconds"], 1),
            "cpu_ms_per_request": timeline.per_request(top, top["submissions"] + top["dashboards"]),
            "cpu_ms_per_accepted_reading": timeline.per_request(top, top["accepted"]),
        }
    drained = drain["backlog"] - drain["left"]
    cpu["per_confirmation_draining"] = timeline.per_request({**drain, "load_cpu_seconds": 0.0}, drained)
    return {
        **_mix_rate(mixed, write_ps),
        "trivial_per_second": round(trivial["ok"] / trivial["seconds"], 1),
        "one_write_per_second": round(write_ps, 1),
        "one_write_per_second_before_mix": round(write["ok"] / write["seconds"], 1),
        "one_write_per_second_after_mix": round(after["ok"] / after["seconds"], 1),
        "accepted": mixed["accepted"],
        "submissions": mixed["submissions"],
        "submission_statuses": mixed["statuses"],
        "dashboards": mixed["dashboards"],
        "dashboards_per_second": round(mixed["dashboards_ok"] / mixed["seconds"], 1),
        "dashboard_p50_ms": mixed["dashboard_p50_ms"],
        "dashboard_p99_ms": mixed["dashboard_p99_ms"],
        "trivial_p50_ms": trivial["p50_ms"],
        "trivial_p99_ms": trivial["p99_ms"],
        "one_write_p50_ms": write["p50_ms"],
        "one_write_p99_ms": write["p99_ms"],
        # CPU per request of each phase's measured seconds, by process: the web workers, the mail
        # sender, PostgreSQL's backends (sampled from /proc) and the load generator (its own).
        "cpu_ms_per_request": cpu,
        # With --ceiling: the same mix with the submissions made in one call (bench/ceiling.sql).
        **({"ceiling": ceiling_figures} if ceiling_figures is not None else {}),
        "errors": load["errors"],
        "readings_stored": stored,
        # The confirmation e-mails (core.confirmations): the backlog the mail sender (at a lower CPU
        # priority than the web workers) had left when the load stopped, how long it took to send
        # it with the machine to itself, and what was sent, waiting or given up in the end.
        "confirmations_backlog_after_load": drain["backlog"],
        "confirmations_drain_seconds": round(drain["wall_until"] - drain["wall_from"], 2),
        "confirmations_per_second_draining": (
            round(drained / (drain["wall_until"] - drain["wall_from"]), 1)
            if drained and drain["wall_until"] > drain["wall_from"]
            else None
        ),
        "confirmations_sent": sent,
        "confirmations_waiting": waiting,
        "confirmations_failed": failed,
        "accounts": accounts,
        "meters_submitting": sum(1 for p in plan if p["meter"] is not None),
        "clients": clients,
        "duration": duration,
        "server": f"gunicorn gthread, {workers} workers x {threads} threads, 1 mail sender",
        "workers": workers,
        "threads": threads,
        "database": conn.name,
        "setup_seconds": round(setup_seconds, 1),
        "cpu_count": os.cpu_count(),
        "machine": machine,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _mix_rate(mix: dict[str, Any], write_ps: float) -> dict[str, Any]:
    """A mix phase's accepted readings per second, their ratio to the one-write floor, and the
    submissions' latency percentiles."""
    accepted_ps = mix["accepted"] / mix["seconds"]
    return {
        "accepted_per_second": round(accepted_ps, 1),
        "ratio_to_one_write": round(accepted_ps / write_ps, 3) if write_ps else None,
        "p50_ms": mix["p50_ms"],
        "p95_ms": mix["p95_ms"],
        "p99_ms": mix["p99_ms"],
    }


# --- the load process ------------------------------------------------------------------------


@dataclass
class _Phase:
    """Samples of one phase: (kind, status, seconds) of requests started after the warm-up."""

    measure_from: float
    until: float
    wall_from: float = 0.0
    wall_until: float = 0.0
    load_cpu_seconds: float = 0.0
    samples: list[tuple[str, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return round(ordered[index] * 1000, 2)


class _Client:
    """One simulated client: one keep-alive connection, reopened if the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self.conn or HTTPConnection(HOST, self.port, timeout=30)
            self.conn = conn
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if answer.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.conn = None
                return answer.status, data
            except OSError:
                conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _run_phase(
    port: int, clients: int, seconds: float, one: Callable[[_Client, random.Random], tuple[str, int]]
) -> _Phase:
    now, wall = time.perf_counter(), time.time()
    phase = _Phase(
        measure_from=now + WARMUP,
        until=now + WARMUP + seconds,
        wall_from=wall + WARMUP,
        wall_until=wall + WARMUP + seconds,
    )
    cpu_start = time.process_time()

    def work(n: int) -> None:
        client, rng = _Client(port), random.Random(n)  # noqa: S311 - load, not secrets
        local: list[tuple[str, int, float]] = []
        errors: list[str] = []
        while True:
            begin = time.perf_counter()
            if begin >= phase.until:
                break
            try:
                kind, status = one(client, rng)
            except Exception as error:
                kind, status = "error", 0
                errors.append(repr(error))
            if begin >= phase.measure_from:
                local.append((kind, status, time.perf_counter() - begin))
        with phase.lock:
            phase.samples += local
            phase.errors += errors[:5]

    workers = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # This process's CPU over the phase, the measured seconds' share of it.
    phase.load_cpu_seconds = (time.process_time() - cpu_start) * seconds / (seconds + WARMUP)
    return phase


def _summary(phase: _Phase, seconds: float, kind: str, ok: set[int]) -> dict[str, Any]:
    mine = [s for s in phase.samples if s[0] == kind]
    times = [s[2] for s in mine]
    return {
        "seconds": seconds,
        "wall_from": phase.wall_from,
        "wall_until": phase.wall_until,
        "load_cpu_seconds": phase.load_cpu_seconds,
        "requests": len(mine),
        "ok": sum(1 for s in mine if s[1] in ok),
        "p50_ms": _percentile(times, 0.50),
        "p95_ms": _percentile(times, 0.95),
        "p99_ms": _percentile(times, 0.99),
    }


def load_main(plan_file: str) -> dict[str, Any]:
    spec = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    port, seconds, clients = int(spec["port"]), float(spec["duration"]), int(spec["clients"])
    plan = spec["plan"]
    submitting = [p for p in plan if p["meter"] is not None]
    if not submitting:
        raise SystemExit("no meter to submit readings for")
    counters = {p["meter"]: 0 for p in submitting}
    counter_lock = threading.Lock()
    json_headers = {"Content-Type": "application/json"}

    def trivial(client: _Client, _rng: random.Random) -> tuple[str, int]:
        return "trivial", client.request("GET", "/api/v1/bench/trivial", None, {})[0]

    def write(client: _Client, _rng: random.Random) -> tuple[str, int]:
        return "write", client.request("POST", "/api/v1/bench/write", b"", json_headers)[0]

    def mix(path: str) -> Callable[[_Client, random.Random], tuple[str, int]]:
        def mixed(client: _Client, rng: random.Random) -> tuple[str, int]:
            if rng.random() < DASHBOARD_SHARE:
                who = rng.choice(plan)
                headers = {"Authorization": f"Bearer {who['token']}"}
                return "dashboard", client.request("GET", f"/api/v1/accounts/{who['number']}", None, headers)[
                    0
                ]
            who = rng.choice(submitting)
            with counter_lock:
                counters[who["meter"]] += 1
                step = counters[who["meter"]]
            values = [str(v + step) for v in who["last"]]
            confirm = [f"high_consumption:{zone}={value}" for zone, value in enumerate(values, 1)]
            body = json.dumps({"values": values, "confirm": confirm})
            headers = {
                **json_headers,
                "Authorization": f"Bearer {who['token']}",
                "Idempotency-Key": str(uuid.uuid4()),
            }
            status = client.request("POST", path.format(meter=who["meter"]), body.encode(), headers)[0]
            return "submit", status

        return mixed

    out: dict[str, Any] = {"errors": []}
    # The one-write floor before and after the mix: the floor is the two together (bench_api).
    # With --ceiling, the mix once more between them, its submissions made in one call to the
    # database (api_floor.bench_ceiling).
    phases = [("trivial", trivial), ("write", write), ("mixed", mix("/api/v1/meters/{meter}/readings"))]
    if spec.get("ceiling"):
        phases.append(("ceiling", mix("/api/v1/bench/ceiling/{meter}")))
    phases.append(("write_after", write))
    for name, one in phases:
        phase = _run_phase(port, clients, seconds, one)
        out["errors"] += phase.errors[:5]
        if name in ("mixed", "ceiling"):
            submit = _summary(phase, seconds, "submit", {200, 201})
            dash = _summary(phase, seconds, "dashboard", {200})
            statuses: dict[str, int] = {}
            for kind, status, _t in phase.samples:
                if kind == "submit":
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
            out[name] = {
                "seconds": seconds,
                "wall_from": phase.wall_from,
                "wall_until": phase.wall_until,
                "load_cpu_seconds": phase.load_cpu_seconds,
                "accepted": submit["ok"],
                "submissions": submit["requests"],
                "statuses": statuses,
                "p50_ms": submit["p50_ms"],
                "p95_ms": submit["p95_ms"],
                "p99_ms": submit["p99_ms"],
                "dashboards": dash["requests"],
                "dashboards_ok": dash["ok"],
                "dashboard_p50_ms": dash["p50_ms"],
                "dashboard_p99_ms": dash["p99_ms"],
            }
        else:
            out[name] = _summary(phase, seconds, "write" if name == "write_after" else name, {200})
    return out


if __name__ == "__main__":
    print(json.dumps(load_main(sys.argv[1])))
