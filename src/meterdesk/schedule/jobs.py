"""The schedule: the routine that runs by itself, each job a ``meterdesk`` command.

``meterdesk schedule`` (started by ``meterdesk serve`` beside the web server) wakes every
``TICK`` seconds; a job whose time has come in its current **slot** — the day for a daily job
(its time of day in the utility's zone, or later that day if the scheduler was down), the
period's start for a job every N minutes — gets a ``JobRun`` row first (unique per job and slot:
several schedulers, on several nodes, run a slot once), then runs as a child process; its exit
code and the tail of its output are recorded. A job that fails waits for its next slot (the
commands are safe to run again: each does only what is still to do).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from meterdesk.schedule.models import JobRun
from meterdesk.utility.selectors import utility_now

log = logging.getLogger(__name__)

TICK = 30.0
OUTPUT_KEPT = 4000


@dataclass(frozen=True)
class Job:
    name: str
    command: tuple[str, ...]  # the arguments of ``meterdesk``
    daily_at: time | None = None  # a daily job's time of day (the utility's zone)
    every_minutes: int | None = None


JOBS: tuple[Job, ...] = (
    Job("autopay", ("payments", "autopay"), daily_at=time(9, 0)),
    Job("reminders", ("notify", "today"), daily_at=time(10, 0)),
    Job("reconcile", ("payments", "reconcile", "--older-than", "15"), every_minutes=15),
    Job("notices", ("notify", "send"), every_minutes=5),
    Job("support", ("support", "escalate"), every_minutes=15),
    Job("inspections", ("inspections", "plan"), daily_at=time(7, 0)),
)


def jobs_in_force() -> tuple[Job, ...]:
    """The jobs less those named in METERDESK_SCHEDULE_OFF."""
    off = {name.strip() for name in str(getattr(settings, "METERDESK_SCHEDULE_OFF", "") or "").split(",")}
    return tuple(job for job in JOBS if job.name not in off)


def slot_of(job: Job, now: datetime) -> str | None:
    """The job's slot due at ``now``, or None when its time has not come today."""
    local = utility_now(now=now)
    if job.daily_at is not None:
        return f"{local:%Y-%m-%d}" if local.time() >= job.daily_at else None
    minutes = job.every_minutes or 1
    start = (local.hour * 60 + local.minute) // minutes * minutes
    return f"{local:%Y-%m-%d}T{start // 60:02d}:{start % 60:02d}"


def claim(job: Job, slot: str) -> JobRun | None:
    """The run of ``job`` in ``slot`` if this scheduler is the first to claim it."""
    try:
        with transaction.atomic():
            return JobRun.objects.create(job=job.name, slot=slot)
    except IntegrityError:
        return None


def run(job: Job, record: JobRun) -> int:
    """Run the job's command in a child process; record its exit code and its output's tail."""
    try:
        done = subprocess.run(  # noqa: S603 - our own command, no shell
            [sys.executable, "-m", "meterdesk.cli", *job.command],
            capture_output=True,
            text=True,
            timeout=6 * 3600,
            check=False,
        )
        code, output = done.returncode, (done.stdout + done.stderr)
    except subprocess.TimeoutExpired as error:
        code, output = -1, f"timed out after {error.timeout} s"
    JobRun.objects.filter(pk=record.pk).update(
        finished_at=timezone.now(), exit_code=code, output=output[-OUTPUT_KEPT:]
    )
    log.log(
        logging.INFO if code == 0 else logging.ERROR, "job %s (%s) exited %s", job.name, record.slot, code
    )
    return code


def tick(now: datetime | None = None) -> list[str]:
    """Run every job whose slot is due and unclaimed; the names of those run."""
    now = now or timezone.now()
    ran = []
    for job in jobs_in_force():
        slot = slot_of(job, now)
        if slot is None:
            continue
        record = claim(job, slot)
        if record is not None:
            run(job, record)
            ran.append(job.name)
    return ran


def schedule_loop(stop: threading.Event, every: float = TICK) -> None:
    """Tick until ``stop`` is set; a database error (a restart) is logged and tried again."""
    while not stop.is_set():
        try:
            tick()
        except Exception:
            log.exception("the scheduler failed; trying again in %s s", every)
            db_connection.close()
        stop.wait(every)
