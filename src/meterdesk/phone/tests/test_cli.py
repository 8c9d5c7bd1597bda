"""`meterdesk ivr stats`: the seed's table of a period, and per day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from meterdesk.cli import main
from meterdesk.phone.models import Call, Outcome
from meterdesk.testing import AccountFactory, moscow

pytestmark = pytest.mark.django_db(transaction=True)


def test_stats_counts_each_kind_of_call():
    account = AccountFactory()
    day = moscow(2026, 11, 20, 10)
    rows = [
        ("+79160000001", "readings balance", 1, Outcome.READING),
        ("+79160000001", "balance", 0, Outcome.INFORMED),
        ("+79160000002", "tariff office", 0, Outcome.INFORMED),
        ("+79160000003", "operator", 0, Outcome.OPERATOR),
        ("+79160000004", "", 0, Outcome.ABANDONED),
    ]
    for n, (caller, topics, readings, outcome) in enumerate(rows):
        Call.objects.create(
            caller=caller,
            account=account,
            started_at=day + timedelta(days=n // 3),
            ended_at=day + timedelta(days=n // 3, minutes=2),
            topics=topics,
            readings=readings,
            outcome=outcome,
        )
    Call.objects.create(caller="+7", started_at=moscow(2026, 12, 1), outcome=Outcome.ABANDONED)  # outside
    result = CliRunner().invoke(
        main, ["ivr", "stats", "--from", "2026-11-20", "--to", "2026-11-21", "--per-day"]
    )
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert lines[0] == [
        "day",
        "calls",
        "callers",
        "readings",
        "balance",
        "tariff",
        "office",
        "operator",
        "abandoned",
    ]
    assert lines[1][1:] == ["5", "4", "1", "2", "1", "1", "1", "1"]
    assert lines[2] == ["2026-11-20", "3", "2", "1", "2", "1", "1", "0", "0"]
    assert lines[3] == ["2026-11-21", "2", "2", "0", "0", "0", "0", "1", "1"]
