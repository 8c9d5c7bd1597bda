"""`meterdesk bench mail`: readings by e-mail end to end, against its floor.

In a data dir of its own (SQLite, or the PostgreSQL database given), with N accounts of one meter
each: ``meterdesk mail serve`` and its task workers, the answers going to a local aiosmtpd sink.
N letters (one per account, from CLIENTS concurrent SMTP clients) are timed from the first byte of
each one's SMTP session to its answer arriving at the sink (the reading stored and the answer
handed to the outgoing server: the answer is written in the reading's transaction, then sent).
The floor: the same letters, the same clients, accepted by an aiosmtpd that does nothing, in the
same run. Reports letters/s of both, their ratio, the p99, letters lost (250 but no answer) or
answered twice, and the peak memory of the server with its workers; and from the database, the
letters stored and processed (a letter processed twice, or a 250 without a stored letter, is
counted).

With ``--kill-every S`` the server and its workers are killed with SIGKILL at random moments (about
every S seconds: the whole server, or one worker) and started again, while the clients send again
what got no 250, as mail servers do; the rates then mean little, the counts everything."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from meterdesk.devtools import free_port

ADDRESS = "readings@meterdesk.localhost"
CLIENTS = 8
#: Letters one client sends over one SMTP session before it opens another.
PER_SESSION = 10

_SEED = """
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
import django
django.setup()
from meterdesk.customers.models import Account
from meterdesk.metering.models import Meter, Reading
from meterdesk.testing import make_tariff
make_tariff(prices=("7.16",))
n = int(sys.argv[1])
Account.objects.bulk_create(
    Account(number=f"{8_000_000_000 + i:010d}", holder_name="Bench", address=f"Bench {i}",
            category="gas_stove", opened_on=date(2024, 1, 1)) for i in range(n)
)
accounts = dict(Account.objects.filter(number__startswith="8").values_list("number", "id"))
Meter.objects.bulk_create(
    Meter(account_id=accounts[f"{8_000_000_000 + i:010d}"], serial=f"{40_000_000 + i}", zones=1, digits=6,
          installed_on=date(2024, 1, 10), verification_due=date(2040, 1, 1), initial_t1=Decimal(1000))
    for i in range(n)
)
"""


def _env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    # The whole environment handed to the server, less meterdesk's own settings: the run sets them.
    inherited = {**os.environ}
    environment = {
        k: v for k, v in inherited.items() if not k.startswith("METERDESK_") and k != "DATABASE_URL"
    }
    environment.update(
        METERDESK_DATA_DIR=str(data_dir),
        METERDESK_READING_WINDOW="1-31",
        METERDESK_LOG_LEVEL="WARNING",
        METERDESK_MAIL_ANSWERS_PER_HOUR="1000000",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="meterdesk.settings",
    )
    if database_url:
        environment["DATABASE_URL"] = database_url
    environment.update(extra)
    return environment


def _letters(count: int) -> list[tuple[str, bytes]]:
    letters = []
    for i in range(count):
        message = EmailMessage()
        message["From"], message["To"] = f"bench{i}@example.com", ADDRESS
        message["Subject"] = "Показания"
        message["Message-ID"] = f"<bench-{i}@example.com>"
        message.set_content(
            f"Добрый день!\nЛицевой счёт {8_000_000_000 + i:010d}, счётчик № {40_000_000 + i}\nпоказания {1100 + i % 500}\n"
        )
        letters.append((message["Message-ID"], bytes(message)))
    return letters


_COUNT = """
import json
import django
django.setup()
from django.db.models import Count
from meterdesk.mail.models import Letter
from meterdesk.metering.models import Reading
stored = Letter.objects.values_list("message_id").annotate(n=Count("id"))
processed = (
    Letter.objects.filter(status="done").exclude(outcome="duplicate")
    .values_list("message_id").annotate(n=Count("id"))
)
twice = Reading.objects.filter(channel="email").values("meter_id").annotate(n=Count("id")).filter(n__gt=1)
print(json.dumps({
    "stored": [m for m, _n in stored],
    "processed": dict(processed),
    "readings": Reading.objects.filter(channel="email").count(),
    "meters_read_twice": twice.count(),
}))
"""


def _send(
    port: int,
    letters: list[tuple[str, bytes]],
    started: dict[str, float],
    accepted: set[str],
    again: bool = False,
    deadline: float = float("inf"),
    stop: threading.Event | None = None,
) -> None:
    """Send ``letters`` from CLIENTS threads, PER_SESSION letters a session; note when each one's
    session began and which got 250. ``again``: a letter that got no 250 (the server died) is sent
    again after a pause, as a mail server would, until ``deadline`` or ``stop``."""
    lock = threading.Lock()
    queue = [letters[i : i + PER_SESSION] for i in range(0, len(letters), PER_SESSION)]
    queue.reverse()

    def client() -> None:
        while True:
            with lock:
                batch = queue.pop() if queue else None
            if batch is None:
                return
            moment = time.monotonic()
            done = 0
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                    for message_id, raw in batch:
                        started.setdefault(message_id, moment)
                        smtp.sendmail("bench@example.com", [ADDRESS], raw)
                        done += 1
                        moment = time.monotonic()
                        with lock:
                            accepted.add(message_id)
            except (OSError, smtplib.SMTPException):
                if again and time.monotonic() < deadline and not (stop and stop.is_set()):
                    time.sleep(0.2)
                    with lock:
                        queue.append(batch[done:])

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class _Floor:
    """aiosmtpd that accepts every letter and does nothing with it."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class _Sink:
    """The outgoing SMTP server: notes when each answer (by its In-Reply-To) arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.twice = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        moment = time.monotonic()
        head = bytes(envelope.original_content or b"").split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"in-reply-to:"):
                key = line.split(b":", 1)[1].strip().decode("ascii", "replace")
                with self.lock:
                    if key in self.arrived:
                        self.twice += 1
                    else:
                        self.arrived[key] = moment
        return "250 OK"


def _rss_mb(root: int) -> float:
    """The resident memory of process ``root`` and its children, in MB."""
    total = 0
    pids = [root]
    for child in _children(root):
        pids += [child, *_children(child)]
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def _controller(handler: Any, port: int) -> Iterator[None]:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


class _Killer:
    """Kill -9, about every ``every`` seconds, the whole server (it is started again) or one of
    its workers (the server starts another)."""

    def __init__(self, every: float, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        self.every, self.start = every, start
        self.server = start()
        self.servers, self.workers = 0, 0
        self.failed = ""
        self.ended = threading.Event()  # set when it could not start the server again
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="killer", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(random.uniform(0.5, 1.5) * self.every):  # noqa: S311 - not crypto
            children = _children(self.server.pid)
            if children and random.random() < 0.5:  # noqa: S311
                with contextlib.suppress(OSError):
                    os.kill(random.choice(children), signal.SIGKILL)  # noqa: S311
                self.workers += 1
                continue
            with contextlib.suppress(OSError):
                os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
            self.servers += 1
            try:
                self.server = self.start()
            except RuntimeError as error:  # it would not start again: the run ends, and says why
                self.failed = str(error)
                self.ended.set()
                return


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def bench_mail(
    *,
    letters: int,
    workers: int,
    database_url: str | None,
    say: Callable[[str], None],
    timeout: float | None = None,
    kill_every: float | None = None,
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="meterdesk-bench-mail-"))
    command = [sys.executable, "-m", "meterdesk.cli"]
    try:
        say(f"Preparing {letters} accounts in {folder}")
        subprocess.run([*command, "migrate"], env=_env(folder, database_url), check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603 - our own script
            [sys.executable, "-c", _SEED, str(letters)],
            env=_env(folder, database_url),
            check=True,
            capture_output=True,
        )
        mail = _letters(letters)

        say("The floor: a do-nothing aiosmtpd")
        floor_port = free_port()
        floor_started: dict[str, float] = {}
        floor_accepted: set[str] = set()
        with _controller(_Floor(), floor_port):
            began = time.monotonic()
            _send(floor_port, mail, floor_started, floor_accepted)
            floor_seconds = time.monotonic() - began

        say(f"meterdesk mail serve with {workers} workers, answers to a sink")
        sink, sink_port, port = _Sink(), free_port(), free_port()
        env = _env(folder, database_url, METERDESK_SMTP_HOST="127.0.0.1", METERDESK_SMTP_PORT=str(sink_port))
        serve = [*command, "mail", "serve", "--port", str(port), "--workers", str(workers)]
        if kill_every:
            # Short leases: what a killed worker held is due again soon.
            serve += ["--lease", "2"]
            env["METERDESK_MAIL_ANSWER_LEASE"] = "2"
        log = open(folder / "server.log", "ab")  # noqa: SIM115 - closed below

        def start() -> subprocess.Popen[bytes]:
            server = subprocess.Popen(  # noqa: S603 - our own command
                serve, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                _wait_up(port, server)
            except RuntimeError:
                with contextlib.suppress(OSError):
                    os.killpg(server.pid, signal.SIGKILL)
                raise
            return server

        with _controller(sink, sink_port):
            killer = _Killer(kill_every or 1.0, start)
            try:
                peak = _rss_mb(killer.server.pid)
                started: dict[str, float] = {}
                accepted: set[str] = set()
                began = time.monotonic()
                # What is not answered by then is counted lost: ten minutes, and 0.1 s a letter.
                deadline = began + (timeout or 600 + letters / 10)
                intake: list[float] = []

                def send() -> None:
                    _send(port, mail, started, accepted, bool(kill_every), deadline, killer.ended)
                    intake.append(time.monotonic() - began)

                sender = threading.Thread(target=send)
                sender.start()
                if kill_every:
                    killer.thread.start()
                # The kills go on until every letter that got 250 is answered.
                while time.monotonic() < deadline:
                    peak = max(peak, _rss_mb(killer.server.pid))
                    if killer.failed or (not sender.is_alive() and accepted <= sink.arrived.keys()):
                        break
                    time.sleep(0.2)
                killer.stop.set()
                sender.join()
                if killer.thread.is_alive():
                    killer.thread.join()
            finally:
                with contextlib.suppress(OSError):
                    os.killpg(killer.server.pid, signal.SIGTERM)
                killer.server.wait(timeout=30)
                log.close()
        counted = json.loads(
            subprocess.run(  # noqa: S603 - our own script
                [sys.executable, "-c", _COUNT],
                env=_env(folder, database_url),
                check=True,
                capture_output=True,
            ).stdout
        )
        done = [sink.arrived[m] for m in accepted if m in sink.arrived]
        seconds = (max(done) - began) if done else float("nan")
        latencies = [(sink.arrived[m] - started[m]) * 1000 for m in accepted if m in sink.arrived]
        rate = len(done) / seconds if done else 0.0
        floor_rate = len(floor_accepted) / floor_seconds
        processed: dict[str, int] = counted["processed"]
        figures = {
            "letters": letters,
            "workers": workers,
            "clients": CLIENTS,
            "database": "postgresql" if database_url else "sqlite",
            "accepted_250": len(accepted),
            "answered": len(done),
            "seconds": round(seconds, 3),
            "letters_per_second": round(rate, 2),
            "floor_letters_per_second": round(floor_rate, 2),
            # The same letters taken by meterdesk's server (each stored before its 250).
            "intake_letters_per_second": round(len(accepted) / intake[0], 2) if intake else None,
            "ratio_to_floor": round(rate / floor_rate, 4) if floor_rate else None,
            "p50_ms": round(_percentile(latencies, 0.5) or 0, 1),
            "p99_ms": round(_percentile(latencies, 0.99) or 0, 1),
            "lost": len(accepted) - len(done),
            "duplicated": sink.twice,
            "peak_rss_mb": round(peak, 1),
            # From the database: a 250 whose letter is not stored, a letter processed twice.
            "letters_stored": len(counted["stored"]),
            "lost_after_250": len(accepted - set(counted["stored"])),
            "processed": len(processed),
            "processed_twice": sum(1 for n in processed.values() if n > 1) + counted["meters_read_twice"],
            "readings_stored": counted["readings"],
        }
        if kill_every:
            figures["kill_every_s"] = kill_every
            figures["killed_servers"], figures["killed_workers"] = killer.servers, killer.workers
            if killer.failed:
                figures["failed"] = killer.failed
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_up(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"meterdesk mail serve exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("meterdesk mail serve did not start")
