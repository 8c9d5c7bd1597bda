"""`meterdesk bench notify`: the readings window's opening reminder to N households, against the
SMTP sink's own floor (docs/notifications.md, figures in docs/benchmarks.md).

1. The database: a copy of the billing bench's (``meterdesk_bench``, 1M accounts, no logins) made
   once as ``meterdesk_bench_notify`` (``CREATE DATABASE … TEMPLATE``; the source is never
   written), or with ``--database-url`` a database of its own built by ``bench.synth``. One step of
   plain SQL gives the first N open accounts a login each with a verified e-mail (every tenth in
   English) and its link; the month to remind is the one after the data's last (nobody has given
   its readings).
2. A local SMTP sink (aiosmtpd in a process of its own) counts the messages and, by their
   ``X-Meterdesk-Notice`` header (the notice's key), those received twice.
3. Timed as an operator runs it: ``meterdesk notify window-open --date …`` in a child process,
   which prepares the notices (``reminders_prepare``) and sends them by the batch sender
   (``notices_send``) through one SMTP connection a batch. First for N/10 logins, then for N (the
   notices of the first run removed): the peak RSS of the child at both shows whether memory grows.
4. The floor: the same sink fed by a minimal ``smtplib`` client sending pre-built messages of the
   same size over one connection, in the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

#: The copy this benchmark makes of the billing bench's database (which it never writes).
DATABASE_NAME = "meterdesk_bench_notify"
TEMPLATE = "meterdesk_bench"
EMAIL_DOMAIN = "bench-notify.example"
FLOOR_MAX = 100_000  # messages the floor sends at most
HEADER = b"\r\nX-Meterdesk-Notice: "


# --- the sink: `python -m meterdesk.bench.notify sink PORT` ---------------------------------------


class _Counting:
    def __init__(self) -> None:
        self.received = 0
        self.duplicates = 0
        self.keys: set[bytes] = set()
        self.first = self.last = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        if not self.received:
            self.first = now
        self.last = now
        self.received += 1
        content = bytes(envelope.original_content or envelope.content or b"")
        at = content.find(HEADER)
        if at >= 0:
            start = at + len(HEADER)
            key = content[start : content.find(b"\r\n", start)]
            if key in self.keys:
                self.duplicates += 1
            else:
                self.keys.add(key)
        return "250 OK"


def sink_main(port: int) -> None:
    """Serve on ``port``; on stdin ``stats`` prints the counts as JSON, ``reset`` clears them."""
    from aiosmtpd.controller import Controller

    handler = _Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=1_000_000)
    controller.start()
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "reset":
                handler.__init__()  # type: ignore[misc]
                print("{}", flush=True)
            elif line.strip() == "stats":
                figures = {
                    "received": handler.received,
                    "duplicates": handler.duplicates,
                    "distinct": len(handler.keys),
                    "first": handler.first,
                    "last": handler.last,
                }
                print(json.dumps(figures), flush=True)
    finally:
        controller.stop()


class _Sink:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "meterdesk.bench.notify", "sink", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None  # noqa: S101
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdout is not None and self.process.stdin is not None  # noqa: S101
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def _sink() -> Iterator[_Sink]:
    from meterdesk.devtools import free_port

    sink = _Sink(free_port())
    try:
        yield sink
    finally:
        sink.stop()


# --- the database ------------------------------------------------------------------------------


def _copy(conn: Any, template: str, accounts: int, say: Callable[[str], None]) -> None:
    """Make ``conn``'s database a copy of ``template`` unless it is one already."""
    import psycopg

    with conn.connect("postgres") as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [conn.name]).fetchone():
            say(f"Reusing {conn.name}.")
            return
        say(f"Copying {template} to {conn.name} (its source is not written) …")
        for attempt in range(20):
            try:
                admin.execute(f'CREATE DATABASE "{conn.name}" TEMPLATE "{template}"')
                break
            except psycopg.errors.ObjectInUse:  # someone is connected to the source: wait
                if attempt == 19:
                    raise
                time.sleep(15)


def _synth(conn: Any, accounts: int, say: Callable[[str], None]) -> None:
    """Build ``accounts`` accounts in ``conn``'s database (kept if it holds them already)."""
    from meterdesk.bench.billing import DEFAULT_PERIOD, _database_ready
    from meterdesk.bench.synth import synth_build
    from meterdesk.cliutil import migrate
    from meterdesk.seed import reference_load

    if _database_ready(conn, accounts, DEFAULT_PERIOD, 1, True, say):
        return
    from django.db import connections

    migrate()
    reference_load()
    connections.close_all()
    say(f"Building {accounts} accounts in {conn.name} …")
    with conn.connect() as db:
        synth_build(db.cursor(), accounts, DEFAULT_PERIOD, seed=1)
        db.execute("CREATE TABLE bench_info (accounts int, period date, seed int)")
        db.execute("INSERT INTO bench_info VALUES (%s, %s, %s)", [accounts, DEFAULT_PERIOD, 1])


def _logins(db: Any, n: int) -> float:
    """Give the first ``n`` open accounts a login with a verified e-mail and its link (those that
    have one keep it; those of later accounts are made inactive). Plain SQL. Returns the seconds."""
    started = time.perf_counter()
    accounts = "SELECT id FROM customers_account WHERE closed_on IS NULL ORDER BY id LIMIT %s"
    db.execute(
        "INSERT INTO customers_user (password, is_superuser, email, full_name, language, is_staff, "  # noqa: S608
        "is_active, "
        "date_joined, email_verified_at) "
        f"SELECT '!', false, 'h' || a.id || '@{EMAIL_DOMAIN}', '', "
        "CASE WHEN a.id %% 10 = 0 THEN 'en' ELSE 'ru' END, false, true, now(), now() "
        f"FROM ({accounts}) a ON CONFLICT (email) DO NOTHING",
        [n],
    )
    db.execute(
        "INSERT INTO customers_accountlink (linked_at, account_id, user_id) "  # noqa: S608 - constants
        f"SELECT now(), a.id, u.id FROM ({accounts}) a "
        f"JOIN customers_user u ON u.email = 'h' || a.id || '@{EMAIL_DOMAIN}' "
        "ON CONFLICT (user_id, account_id) DO NOTHING",
        [n],
    )
    # Only the first n count: the bench's logins of later accounts (an earlier, larger run) rest.
    db.execute(
        "UPDATE customers_user u SET is_active = (l.account_id <= c.last) "  # noqa: S608 - constants
        f"FROM customers_accountlink l, (SELECT max(id) AS last FROM ({accounts}) a) c "
        f"WHERE l.user_id = u.id AND u.email LIKE '%%@{EMAIL_DOMAIN}' "
        "AND u.is_active <> (l.account_id <= c.last)",
        [n],
    )
    db.execute("ANALYZE customers_user")
    db.execute("ANALYZE customers_accountlink")
    return time.perf_counter() - started


# --- the runs ----------------------------------------------------------------------------------


def _run(conn: Any, sink: _Sink, day: date, data_dir: Path, logins: int, say: Callable[[str], None]) -> dict:
    with conn.connect() as db:
        db.execute("TRUNCATE notify_notice")
        setup = _logins(db, logins)
    say(f"  {logins} logins ready ({setup:.1f} s); `meterdesk notify window-open --date {day}` …")
    sink.ask("reset")
    env = {
        **os.environ,
        "DATABASE_URL": conn.url,
        "METERDESK_DATA_DIR": str(data_dir),
        "METERDESK_SMTP_HOST": "127.0.0.1",
        "METERDESK_SMTP_PORT": str(sink.port),
        "METERDESK_SMTP_USER": "",
        "METERDESK_SMTP_PASSWORD": "",
        "METERDESK_SMTP_TLS": "",
    }
    for name in ("METERDESK_TASKS", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    log = data_dir / f"notify-{logins}.log"
    # The code may have new migrations since the bench started (a shared checkout):
    migrated = subprocess.run(
        [sys.executable, "-m", "meterdesk.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"`meterdesk migrate` failed: {migrated.stderr[-3000:]}")
    with log.open("wb") as out:
        started_wall, started = time.time(), time.perf_counter()
        child = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "meterdesk.cli", "notify", "window-open", "--date", day.isoformat()],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"`meterdesk notify window-open` failed: {log.read_text()[-3000:]}")
    got = sink.ask("stats")
    with conn.connect() as db:
        stored, unsent = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL) FROM notify_notice WHERE channel = 'email'"
        ).fetchone()
        body = db.execute(
            "SELECT subject, body FROM notify_notice WHERE channel = 'email' LIMIT 1"
        ).fetchone()
    first = got["first"] or started_wall
    say(f"  {log.read_text().strip()}")
    return {
        "messages": got["received"],
        "seconds": seconds,
        "prepare_seconds": max(0.0, first - started_wall),
        "send_seconds": max(0.0, got["last"] - first),
        "duplicates": got["duplicates"],
        "email_notices": stored,
        "unsent": unsent,
        "missing": stored - got["distinct"],
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "sample": body,
    }


def _floor(port: int, count: int, sample: tuple[str, str] | None) -> float:
    """Messages a second the sink takes from a minimal client: ``count`` pre-built messages like
    the reminders, over one connection."""
    from email.message import EmailMessage

    subject, body = sample or ("Показания за декабрь 2026: принимаются до 25 декабря", "Показания " * 30)
    messages = []
    for i in range(count):
        message = EmailMessage()
        message["From"] = "meterdesk <no-reply@meterdesk.localhost>"
        message["To"] = f"h{i}@{EMAIL_DOMAIN}"
        message["Subject"] = subject
        message["X-Meterdesk-Notice"] = f"floor:{i}"
        message.set_content(body + "\n", cte="base64")
        messages.append((message["To"], message.as_bytes(policy=message.policy.clone(linesep="\r\n"))))
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for to, raw in messages:
        client.sendmail("no-reply@meterdesk.localhost", [to], raw)
    seconds = time.perf_counter() - started
    client.quit()
    return count / seconds


def bench_notify(
    *,
    accounts: int,
    database_url: str | None = None,
    template: str = TEMPLATE,
    keep: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    from meterdesk.bench.billing import BenchError, bench_django
    from meterdesk.cliutil import migrate
    from meterdesk.domain.periods import add_months

    conn = bench_django(database_url, DATABASE_NAME)
    if database_url:
        _synth(conn, accounts, say)
    else:
        _copy(conn, template, accounts, say)
    from django.db import connections

    migrate()
    connections.close_all()
    with conn.connect() as db:
        info = db.execute("SELECT accounts, period FROM bench_info").fetchone()
    if info is None or info[0] < accounts:
        raise BenchError(f"{conn.name} holds {info[0] if info else 0} accounts, fewer than {accounts}")
    day = add_months(info[1], 1).replace(day=15)  # the month after the data's last: nobody has read it
    tenth = max(1, accounts // 10)
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as folder, _sink() as sink:
        data_dir = Path(folder)
        say(f"N/10 = {tenth} households:")
        small = _run(conn, sink, day, data_dir, tenth, say)
        say(f"N = {accounts} households:")
        big = _run(conn, sink, day, data_dir, accounts, say)
        floor_count = max(1, min(big["messages"], FLOOR_MAX))
        say(f"The floor: {floor_count} pre-built messages by smtplib over one connection …")
        sink.ask("reset")
        floor = _floor(sink.port, floor_count, big["sample"])
    if not keep and not database_url:
        with conn.connect("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{conn.name}" WITH (FORCE)')
    rate = big["messages"] / big["seconds"]
    send_rate = big["messages"] / big["send_seconds"] if big["send_seconds"] else 0.0
    return {
        "accounts": accounts,
        "messages": big["messages"],
        "email_notices": big["email_notices"],
        "unsent": big["unsent"],
        "missing": big["missing"],
        "duplicates": big["duplicates"],
        "seconds": round(big["seconds"], 1),
        "prepare_seconds": round(big["prepare_seconds"], 1),
        "send_seconds": round(big["send_seconds"], 1),
        "messages_per_second": round(rate, 1),
        "send_messages_per_second": round(send_rate, 1),
        "floor_messages": floor_count,
        "floor_per_second": round(floor, 1),
        "ratio_to_floor": round(rate / floor, 3),
        "send_ratio_to_floor": round(send_rate / floor, 3),
        "peak_rss_mb": round(big["peak_rss_mb"], 1),
        "tenth_messages": small["messages"],
        "tenth_duplicates": small["duplicates"],
        "tenth_seconds": round(small["seconds"], 1),
        "tenth_peak_rss_mb": round(small["peak_rss_mb"], 1),
        "database": conn.name,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["sink"]:
    sink_main(int(sys.argv[2]))
