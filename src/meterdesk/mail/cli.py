"""`meterdesk mail …`: readings by e-mail (docs/email.md). ``serve`` runs the utility's own SMTP
server with mail workers beside it; ``poll`` reads an IMAP mailbox; ``work`` is one mail worker
(what ``serve`` and ``poll`` start: ``work.py``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta

import click

from meterdesk.cliutil import database_current, django_setup


@click.group(name="mail", help="Readings by e-mail: the SMTP server, the IMAP mailbox, the workers.")
def mail_group() -> None:
    pass


def _ready() -> None:
    django_setup()
    if not database_current():
        click.echo("The database is not up to date: run `meterdesk migrate` first.", err=True)
        sys.exit(2)


class Workers:
    """Mail workers (``meterdesk mail work``) started beside a server, started again when one
    dies, stopped with it (and by themselves should it be killed: ``--parent``). What a dead
    worker held is due again when its lease runs out, for any worker to claim."""

    def __init__(self, count: int, lease: timedelta) -> None:
        self.count, self.lease = count, lease
        self.children: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()

    def _start_one(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "meterdesk.cli", "mail", "work", "--parent", str(os.getpid())]
        command += ["--lease", str(self.lease.total_seconds())]
        return subprocess.Popen(command)  # noqa: S603 - our own command

    def start(self) -> None:
        self.children.extend(self._start_one() for _ in range(self.count))
        threading.Thread(target=self._supervise, name="mail-workers", daemon=True).start()

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            for n, child in enumerate(self.children):
                if child.poll() is not None and not self.stopping.is_set():
                    click.echo(
                        f"mail worker {child.pid} exited ({child.returncode}); starting another", err=True
                    )
                    self.children[n] = self._start_one()

    def stop(self) -> None:
        self.stopping.set()
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def _until_stopped(stop: threading.Event) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_a: stop.set())
    while not stop.wait(1):
        pass


_workers_option = click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(0, 64),
    help="Mail workers started beside it (they process the letters and send the answers); 0 if "
    "they run elsewhere (`meterdesk mail work`).",
)
_lease_option = click.option(
    "--lease",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0.5, None),
    help="Seconds a worker's claim on a batch of letters lasts: a letter whose worker died is due "
    "again then.",
)


def _serving(workers: int, lease: float, run: Callable[[threading.Event], None]) -> None:
    from django.db import connection

    connection.close()  # the workers open their own
    pool = Workers(workers, timedelta(seconds=lease))
    pool.start()
    stop = threading.Event()
    try:
        run(stop)
    finally:
        pool.stop()


@mail_group.command(help="Run the utility's own SMTP server for readings (aiosmtpd), with mail workers.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
@_workers_option
@_lease_option
def serve(host: str, port: int, workers: int, lease: float) -> None:
    _ready()
    from django.conf import settings

    from meterdesk.mail.smtp import server_start

    def run(stop: threading.Event) -> None:
        controller = server_start(host, port)
        tls = " with STARTTLS" if settings.METERDESK_MAIL_TLS_CERT else ""
        click.echo(
            f"meterdesk mail server on {host}:{port}{tls} for {', '.join(settings.METERDESK_MAIL_ADDRESSES)}"
        )
        try:
            _until_stopped(stop)
        finally:
            controller.stop()

    _serving(workers, lease, run)


@mail_group.command(help="Read the utility's IMAP mailbox (METERDESK_MAIL_IMAP_URL), with mail workers.")
@_workers_option
@_lease_option
@click.option("--once", is_flag=True, help="Store what is in the mailbox now, then exit (no workers).")
def poll(workers: int, lease: float, once: bool) -> None:
    _ready()
    from django.conf import settings

    from meterdesk.mail.imap import Mailbox, mailbox_poll

    if not settings.METERDESK_MAIL_IMAP_URL:
        raise click.ClickException("METERDESK_MAIL_IMAP_URL is not set: the mailbox to read")
    mailbox = Mailbox.from_url(settings.METERDESK_MAIL_IMAP_URL)
    if once:
        stored = mailbox_poll(mailbox, stop=None)
        click.echo(f"stored {stored} letters")
        return

    def run(stop: threading.Event) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_a: stop.set())
        click.echo(f"reading the mailbox {mailbox.where}")
        mailbox_poll(mailbox, stop=stop, interval=settings.METERDESK_MAIL_IMAP_INTERVAL)

    _serving(workers, lease, run)


@mail_group.command(help="Run one mail worker (what `mail serve` and `mail poll` start).")
@click.option("--parent", type=int, default=None, metavar="PID", help="Stop when process PID dies.")
@_lease_option
def work(parent: int | None, lease: float) -> None:
    django_setup()
    from meterdesk.core.confirmations import parent_watch
    from meterdesk.mail.work import work_loop

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_a: stop.set())
    if parent is not None:
        # The kernel sends SIGTERM when the parent dies (even by kill -9).
        with contextlib.suppress(Exception):
            parent_watch(parent, stop)
        if stop.is_set():  # the parent is already gone
            return
    work_loop(lease=timedelta(seconds=lease), stop=stop)
