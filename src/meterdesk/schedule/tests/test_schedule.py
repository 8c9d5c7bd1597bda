"""The schedule: each job's slot, a slot run once however many schedulers claim it, the job's
exit code and output recorded, jobs switched off, and the command."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from click.testing import CliRunner

from meterdesk.cli import main
from meterdesk.schedule import jobs
from meterdesk.schedule.jobs import Job, claim, jobs_in_force, slot_of, tick
from meterdesk.schedule.models import JobRun
from meterdesk.testing import MOSCOW

pytestmark = pytest.mark.django_db

DAILY = Job("daily", ("--help",), daily_at=time(9, 0))
OFTEN = Job("often", ("--help",), every_minutes=15)
BROKEN = Job("broken", ("no-such-command",), every_minutes=15)


def moscow(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=MOSCOW)


def test_slots():
    assert slot_of(DAILY, moscow(8, 59)) is None
    assert slot_of(DAILY, moscow(9, 0)) == slot_of(DAILY, moscow(23, 59)) == "2026-12-07"
    assert slot_of(OFTEN, moscow(10, 14)) == "2026-12-07T10:00"
    assert slot_of(OFTEN, moscow(10, 15)) == "2026-12-07T10:15"
    # The utility's day: 00:30 in Moscow is still the evening before in UTC.
    assert slot_of(DAILY, datetime(2026, 12, 7, 6, 30, tzinfo=MOSCOW)) is None


def test_a_slot_runs_once_and_its_outcome_is_kept(monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", (DAILY, OFTEN, BROKEN))
    assert tick(moscow(8, 0)) == ["often", "broken"]  # the daily job's time has not come
    assert tick(moscow(8, 5)) == []  # the same slots: nothing again
    assert tick(moscow(9, 1)) == ["daily", "often", "broken"]  # a new quarter too
    assert tick(moscow(9, 14)) == []
    ok = JobRun.objects.get(job="daily")
    assert ok.exit_code == 0 and "meterdesk" in ok.output and ok.finished_at is not None
    failed = JobRun.objects.filter(job="broken").first()
    assert failed is not None and failed.exit_code == 2 and "No such command" in failed.output


def test_two_schedulers_claim_a_slot_once():
    first = claim(OFTEN, "2026-12-07T10:00")
    assert first is not None and claim(OFTEN, "2026-12-07T10:00") is None
    assert JobRun.objects.count() == 1


def test_jobs_can_be_switched_off(settings):
    settings.METERDESK_SCHEDULE_OFF = "autopay, notices"
    names = [job.name for job in jobs_in_force()]
    assert "autopay" not in names and "notices" not in names and "reminders" in names


def test_the_command_runs_what_is_due(monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", (OFTEN,))
    result = CliRunner().invoke(main, ["schedule", "--once"])
    assert result.exit_code == 0 and "Ran: often." in result.output
    again = CliRunner().invoke(main, ["schedule", "--once"])
    assert "Ran: nothing was due." in again.output or "Ran: often." in again.output  # a quarter may begin
