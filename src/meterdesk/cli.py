"""The ``meterdesk`` command: demo, serve, seed, migrate, bill, manage, and the subcommands of the
apps (each app's cli.py), registered at the end. Every subcommand sets Django up itself
(meterdesk.cliutil), so that ``meterdesk --help`` starts fast."""

from __future__ import annotations

import contextlib
import errno
import getpass
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from typing import Any

import click
from django.conf import settings
from django.core.management import execute_from_command_line
from django.db import connection, transaction

from meterdesk.api.cli import api_purge
from meterdesk.bench.cli import bench_group
from meterdesk.billing.cli import rebill_command
from meterdesk.cliutil import (
    accounts_progress,
    database_current,
    django_setup,
    migrate,
    money,
    period_option,
)
from meterdesk.core.cli import send_confirmations
from meterdesk.customers.cli import issue_registration_codes
from meterdesk.dataio.cli import export_group, import_command
from meterdesk.documents.cli import documents_group
from meterdesk.inspections.cli import inspections_group
from meterdesk.mail.cli import mail_group
from meterdesk.notify.cli import notify_group

# These add their subcommands to `payments` (reconcile; import-registry, unmatched, resolve …).
from meterdesk.payments import commands as _payments_commands  # noqa: F401
from meterdesk.payments.cli import payments_group
from meterdesk.phone.cli import ivr_group
from meterdesk.programme.cli import programme_group
from meterdesk.registries import cli as _registries_cli  # noqa: F401
from meterdesk.schedule.cli import schedule_command
from meterdesk.stats.cli import stats_command
from meterdesk.support.cli import support_group

#: The commands that were Django management commands (`meterdesk manage NAME`): still run by that
#: name, with a note.
FORMER_MANAGEMENT_COMMANDS = {
    "send_confirmations": "send-confirmations",
    "issue_registration_codes": "issue-registration-codes",
    "api_purge": "api-purge",
}


def _serve(
    host: str, port: int, workers: int | None, threads: int, mail_senders: int = 1, scheduler: bool = True
) -> None:
    """Run gunicorn (the production WSGI server) in this process, and beside it ``mail_senders``
    senders of the readings' confirmation e-mails (``meterdesk send-confirmations``) and, with
    ``scheduler``, the scheduled jobs (``meterdesk schedule``)."""
    from gunicorn.app.base import BaseApplication

    from meterdesk.wsgi import application

    children: list[subprocess.Popen[bytes]] = []

    # --parent: a sender stops by itself when this process dies, even by kill -9 (no on_exit then).
    command = [
        *(sys.executable, "-m", "meterdesk.cli", "send-confirmations"),
        *("--parent", str(os.getpid())),
    ]
    stopping = threading.Event()

    idle = _sender_idle_class()

    def start_one() -> subprocess.Popen[bytes]:
        """A mail sender at a lower CPU priority than the web workers (nice +10, and on PostgreSQL
        Linux's idle scheduling class: see ``_sender_idle_class``). The customer waiting for a page
        goes first; in a burst the confirmation e-mails queue in the outbox and go out as soon as
        the burst eases."""
        child = subprocess.Popen(command)  # noqa: S603
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, child.pid, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        if idle:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(child.pid, os.SCHED_IDLE, os.sched_param(0))
        return child

    scheduler_argv = [sys.executable, "-m", "meterdesk.cli", "schedule", "--parent", str(os.getpid())]
    scheduled: list[subprocess.Popen[bytes]] = []

    def supervise() -> None:
        """Start a sender (or the scheduler) again when one dies (its mails wait in the outbox)."""
        while not stopping.wait(5):
            for n, child in enumerate(children):
                if child.poll() is not None and not stopping.is_set():
                    click.echo(
                        f"mail sender {child.pid} exited ({child.returncode}); starting another", err=True
                    )
                    children[n] = start_one()
            for n, child in enumerate(scheduled):
                if child.poll() is not None and not stopping.is_set():
                    click.echo(
                        f"scheduler {child.pid} exited ({child.returncode}); starting it again", err=True
                    )
                    scheduled[n] = subprocess.Popen(scheduler_argv)  # noqa: S603

    def start_senders(_arbiter: Any) -> None:  # gunicorn's when_ready: in the master, once
        children.extend(start_one() for _ in range(mail_senders))
        if scheduler:
            scheduled.append(subprocess.Popen(scheduler_argv))  # noqa: S603
        if children or scheduled:
            threading.Thread(target=supervise, name="mail-sender-supervisor", daemon=True).start()

    def stop_senders(_arbiter: Any) -> None:  # gunicorn's on_exit: in the master
        stopping.set()
        for child in [*children, *scheduled]:
            child.terminate()
        for child in [*children, *scheduled]:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            config = {
                "bind": f"{host}:{port}",
                "workers": workers or _default_workers(),
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": "-",
                "timeout": 60,
                "graceful_timeout": 20,
                "forwarded_allow_ips": settings.METERDESK_FORWARDED_ALLOW_IPS,
                "when_ready": start_senders,
                "on_exit": stop_senders,
            }
            for key, value in config.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Each worker imports the URLconf (the API, its schemas) as it boots, not while its
            # first requests wait (Django loads it lazily, on the first request).
            from django.urls import get_resolver

            get_resolver().url_patterns  # noqa: B018 - the import is the point
            return application

    Server().run()


@click.group(help="meterdesk: meter readings, billing and the personal account.")
def main() -> None:
    pass


@main.command(help="Create the database, load demo data and serve it at http://HOST:PORT.")
@click.option("--no-serve", is_flag=True, help="Only prepare the database and demo data.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Server worker processes (default 2 × cores).")
def demo(no_serve: bool, host: str, port: int, workers: int | None) -> None:
    if not no_serve:  # before the passwords change: a second demo on a busy port changes nothing
        _port_check(host, port, "bash scripts/demo.sh --port")
    django_setup()
    from meterdesk import seed

    click.echo(f"Database: {settings.DATABASES['default']['NAME']}")
    migrate()
    demo_password = settings.METERDESK_DEMO_PASSWORD or secrets.token_urlsafe(9)
    admin_password = settings.METERDESK_ADMIN_PASSWORD or secrets.token_urlsafe(12)
    seed.demo_load(demo_password, admin_password, open_window=not settings.METERDESK_READING_WINDOW)
    closed = seed.demo_bill_history()
    if closed:
        click.echo(f"Closed {closed} months of demo history.")
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo("meterdesk demo is ready.")
    click.echo(f"  Personal account: {url}")
    click.echo(f"    log in as {seed.DEMO_EMAIL} with password {demo_password}")
    click.echo(
        f"    or register: account {seed.DEMO_UNREGISTERED[0]}, meter serial {seed.DEMO_UNREGISTERED[1]}"
    )
    click.echo(f"  Admin: {url}admin/  as {seed.ADMIN_EMAIL} with password {admin_password}")
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        click.echo(f"  Outgoing e-mail is written to {settings.EMAIL_FILE_PATH}")
    click.echo("")
    if not no_serve:
        _serve(host, port, workers, threads=4)


@main.command(help="Run the production server (gunicorn).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Worker processes (default 2 × cores).")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@click.option(
    "--mail-senders",
    "--task-workers",
    "mail_senders",
    default=1,
    show_default=True,
    type=click.IntRange(0, 64),
    help="Senders of the readings' confirmation e-mails started beside the server; 0 if they run "
    "elsewhere (`meterdesk send-confirmations`). --task-workers is the former name.",
)
@click.option(
    "--schedule/--no-schedule",
    "scheduler",
    default=True,
    show_default=True,
    help="Run the scheduled jobs beside the server (`meterdesk schedule`); --no-schedule where a "
    "scheduler runs elsewhere (several are safe: each slot runs once).",
)
def serve(
    host: str, port: int, workers: int | None, threads: int, mail_senders: int, scheduler: bool
) -> None:
    _port_check(host, port, "meterdesk serve --port")
    django_setup()
    if not database_current():
        click.echo("The database is not up to date: run `meterdesk migrate` first.", err=True)
        sys.exit(2)
    connection.close()  # the workers open their own; none is shared across the fork
    from meterdesk.api.ratelimit import serving_warning

    workers = workers or _default_workers()
    warning = serving_warning(workers)
    if warning is not None:
        click.echo(f"warning: {warning}", err=True)
    _serve(host, port, workers, threads, mail_senders, scheduler)


def _port_check(host: str, port: int, another: str) -> None:
    """Stop with a clear message, before anything else is done, if the server could not listen on
    HOST:PORT (another server has it, or it needs privileges); ``another`` is the command line
    that chooses another port, suggested with the next one."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        raise click.BadParameter(
            f"no address to listen on for {host!r}: {error}", param_hint="--host"
        ) from error
    with socket.socket(family, kind, proto) as probe:
        # As gunicorn binds: a port that a stopped server left in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                why = f"port {port} on {host} is already in use (is meterdesk already running there?)"
            else:
                why = f"cannot listen on port {port} on {host}: {error.strerror or error}"
            suggestion = port + 1 if port < 65535 else 8001
            raise click.ClickException(
                f"{why}. Nothing was changed. Choose another port: {another} {suggestion}"
            ) from error


def _sender_idle_class() -> bool:
    """Whether the mail senders run in Linux's idle scheduling class: they then run only when the
    web workers leave a core free, and yield it the moment one wakes up, so a burst of readings is
    answered first and its confirmations are sent right after it (docs/benchmarks.md). Only on
    PostgreSQL, where a sender's transaction locks only the outbox rows it claimed.
    On SQLite it would hold the database's one write lock while it waits for a core, and every web
    request that writes would wait behind it: there nice +10 alone."""
    return hasattr(os, "SCHED_IDLE") and connection.vendor == "postgresql"


def _default_workers() -> int:
    return max(2, (os.cpu_count() or 1) * 2)


@main.command(name="migrate", help="Apply database migrations.")
def migrate_command() -> None:
    django_setup()
    migrate(verbosity=1)


@main.command(help="Create N realistic synthetic accounts with two years of readings.")
@click.option("--accounts", "count", required=True, type=click.IntRange(1, 10_000_000))
@click.option("--seed", "rng_seed", default=1, show_default=True, help="Random seed (same seed, same data).")
@click.option("--months", default=24, show_default=True, type=click.IntRange(1, 120))
def seed(count: int, rng_seed: int, months: int) -> None:
    django_setup()
    migrate()
    from meterdesk.seed import seed_accounts

    with accounts_progress("Creating accounts", count) as advance:
        accounts, readings = seed_accounts(count, seed=rng_seed, months=months, progress=advance)
    click.echo(f"Created {accounts} accounts with {readings} readings.")


@main.command(help="Close a month: bill every account for it (idempotent and resumable).")
@click.option("--period", "month", required=True, callback=period_option, help="The month to close, YYYY-MM.")
@click.option(
    "--workers",
    default=None,
    type=int,
    help="Task worker processes to start (default: cores). 0: in this process.",
)
@click.option("--chunk-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--force",
    is_flag=True,
    help="Close even if a check refuses it: the month's reading window has not ended, a future "
    "month, the previous month not closed, a month before the last closed one. Needs --reason; "
    "recorded on the run with who and when.",
)
@click.option("--reason", default="", help="Why the close is forced (with --force; recorded on the run).")
def bill(month: date, workers: int | None, chunk_size: int, force: bool, reason: str) -> None:
    reason = reason.strip()
    if force and not reason:
        raise click.UsageError(
            "--force needs --reason TEXT: why the checks are overridden (recorded on the run)"
        )
    if reason and not force:
        raise click.UsageError("--reason goes with --force")
    django_setup()
    from meterdesk.billing.close import CloseError

    forcing = (reason, _operator()) if force else None
    try:
        summary = _bill(month, workers if workers is not None else (os.cpu_count() or 1), chunk_size, forcing)
    except CloseError as error:
        raise click.ClickException(str(error)) from error
    if summary.already_closed:
        click.echo(f"{month:%Y-%m} is already closed; nothing was changed.")
    click.echo(f"Month {month:%Y-%m}: {summary.accounts} accounts closed ({summary.closed_now} now).")
    if summary.forced_checks:
        from meterdesk.utility.selectors import utility_now

        at = utility_now(None, summary.forced_at)
        click.echo(
            f"  forced by {summary.forced_by or '?'} on {at:%Y-%m-%d %H:%M} ({at.tzinfo}), overriding "
            f"{', '.join(summary.forced_checks)}: {summary.forced_reason}"
        )
    for basis, count in sorted(summary.by_basis.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {basis:<16} {count:>10}")
    click.echo(f"  charges         {money(summary.charges):>16}")
    click.echo(f"  recalculations  {money(summary.recalculations):>16}")
    click.echo(f"  penalties       {money(summary.penalty):>16}")
    click.echo(f"  payments        {money(summary.payments):>16}")
    # Autopayment: the month's bills of the accounts with autopayment on wait for their due date
    # (`meterdesk payments autopay`, daily, e-mails the notices and pays them).
    from meterdesk.payments.autopay import autopay_schedule

    scheduled = autopay_schedule(period=month)
    if scheduled:
        click.echo(
            f"Autopayment: {scheduled} bills scheduled for their due date (`meterdesk payments autopay`)."
        )
    # The households are told that the bill is ready (`meterdesk notify send` sends the notices).
    from meterdesk.notify.prepare import bill_events, notices_store

    told = notices_store("bill_ready", bill_events(month))
    if told.created:
        click.echo(f"Bill-ready notices: {told.created} stored (`meterdesk notify send` sends them).")


def _operator() -> str:
    """Who runs the command (the operating system's user), for the record of a forced close."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return f"uid {os.getuid()}"


def _bill(month: Any, workers: int, chunk_size: int, forcing: tuple[str, str] | None) -> Any:
    """Prepare the run, let task workers close its chunks, show progress, summarise.
    ``forcing``: (reason, operator) to close past the guard (``--force``)."""
    from meterdesk.billing.close import billing_close, chunk_close, run_finish, run_prepare, run_summary
    from meterdesk.billing.models import BillingChunk
    from meterdesk.billing.tasks import close_chunk_task

    reason, operator = forcing or ("", "")
    run = run_prepare(
        month, chunk_size=chunk_size, force=forcing is not None, reason=reason, forced_by=operator
    )
    pending = list(run.chunks.filter(status="pending").values_list("id", flat=True))
    if not pending:
        run_finish(run)
        return run_summary(run.period, already_closed=True)
    sizes = _chunk_accounts(run)
    total = sum(sizes.values())
    done_before = total - sum(sizes[chunk_id] for chunk_id in pending)
    label = f"Closing {month:%Y-%m}"
    if workers <= 0:
        with accounts_progress(label, total, done=done_before) as advance:

            def close_one(chunk_id: int) -> int:
                closed = chunk_close(chunk_id)
                advance(sizes.get(chunk_id, 0))
                return closed

            return billing_close(month, chunk_size=chunk_size, run_chunk=close_one)
    with transaction.atomic():  # one commit for all the chunks' tasks, not one each
        for chunk_id in pending:
            close_chunk_task.enqueue(chunk_id)
    command = [
        sys.executable,
        "-m",
        "meterdesk.cli",
        "manage",
        "db_worker",
        "--queue-name",
        "billing",
        "--batch",
        "--no-startup-delay",
        "--interval",
        "0.2",
    ]
    logs = settings.DATA_DIR / "logs"
    logs.mkdir(exist_ok=True)
    procs = []
    for n in range(workers):
        with open(logs / f"bill-{month:%Y-%m}-worker{n + 1}.log", "ab") as log:
            procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))  # noqa: S603
    try:
        with accounts_progress(label, total, done=done_before) as advance:
            seen = set(sizes).difference(pending)
            while True:
                done = set(BillingChunk.objects.filter(run=run, status="done").values_list("id", flat=True))
                advance(sum(sizes.get(chunk_id, 0) for chunk_id in done - seen))
                seen |= done
                if len(done) == len(sizes) or all(p.poll() is not None for p in procs):
                    break
                time.sleep(0.3)
    finally:
        for p in procs:
            p.wait()
    if BillingChunk.objects.filter(run=run).exclude(status="done").exists():
        raise click.ClickException(
            "some chunks were not closed (see the worker output); run the command again"
        )
    run_finish(run)
    return run_summary(
        run.period,
        closed_now=sum(BillingChunk.objects.filter(pk__in=pending).values_list("accounts_closed", flat=True)),
    )


def _chunk_accounts(run: Any) -> dict[int, int]:
    """How many accounts each chunk of the run covers (the accounts in its range of ids), so that
    the progress bar counts accounts, whatever the chunk size. That count reads the accounts' key
    through, so it is made only when the bar is drawn (standard error is a terminal); else (a log
    file, a benchmark's run) each chunk counts as a full one."""
    from django.db.models import F, Func, OuterRef, Subquery

    from meterdesk.customers.models import Account

    if not _terminal():
        return dict.fromkeys(run.chunks.values_list("id", flat=True), run.chunk_size)
    in_chunk = (
        Account.objects.filter(pk__gte=OuterRef("first_account_id"), pk__lte=OuterRef("last_account_id"))
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return dict(run.chunks.annotate(n=Subquery(in_chunk)).values_list("id", "n"))


def _terminal() -> bool:
    """Whether the progress bars are drawn: click draws them only to a terminal."""
    return sys.stderr.isatty()


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    help="Run a Django management command, e.g. `meterdesk manage createsuperuser`.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    if args and args[0] in FORMER_MANAGEMENT_COMMANDS:
        name = FORMER_MANAGEMENT_COMMANDS[args[0]]
        click.echo(f"note: `meterdesk manage {args[0]}` is now `meterdesk {name}`", err=True)
        command = main.commands[name]
        command.main(list(args[1:]), prog_name=f"meterdesk {name}")
        return
    django_setup()
    execute_from_command_line(["meterdesk manage", *args])


for _command in (
    import_command,
    export_group,
    bench_group,
    rebill_command,
    payments_group,
    documents_group,
    mail_group,
    ivr_group,
    programme_group,
    notify_group,
    support_group,
    inspections_group,
    stats_command,
    schedule_command,
    send_confirmations,
    issue_registration_codes,
    api_purge,
):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
