"""The statistics of a period: readings by channel and day, inside the window, billing by basis,
true-ups, payments by way, the phone line and the letters; the command's text, JSON and CSV."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.utils import timezone

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.cli import main
from meterdesk.mail.models import Letter
from meterdesk.metering.models import Channel
from meterdesk.phone.models import Call
from meterdesk.stats.figures import figures_of
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory

pytestmark = pytest.mark.django_db

DEC = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _window(settings):
    settings.METERDESK_READING_WINDOW = "15-25"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=MOSCOW)


@pytest.fixture
def month():
    meters = [MeterFactory() for _ in range(4)]
    ReadingFactory(meter=meters[0], period=DEC, channel="web", submitted_at=at(15))
    ReadingFactory(
        meter=meters[1], period=DEC, channel="api", submitted_at=at(15, 23)
    )  # 23:00 Moscow: still the 15th
    ReadingFactory(meter=meters[2], period=DEC, channel="ivr", submitted_at=at(26))  # after the window
    ReadingFactory(meter=meters[3], period=DEC, channel="inspector", kind="control", submitted_at=at(20))
    ReadingFactory(
        meter=meters[3], period=DEC, channel="web", submitted_at=at(31)
    )  # outside the period asked
    for n, basis in enumerate(("actual", "actual", "average", "norm")):
        AccountClose.objects.create(
            account=meters[n].account,
            period=DEC,
            basis=basis,
            opening_balance=0,
            charges=100,
            recalculations=0,
            payments=0,
            penalty=0,
            closing_balance=100,
            due_date=date(2027, 1, 10),
            closed_at=timezone.now(),
        )
    account = meters[0].account
    for reason, amount in (("card", "-100.50"), ("card", "-20"), ("registry", "-300")):
        LedgerEntry.objects.create(
            account=account,
            period=DEC,
            posted_on=date(2026, 12, 16),
            kind=EntryKind.PAYMENT,
            reason=reason,
            amount=Decimal(amount),
        )
    LedgerEntry.objects.create(
        account=account,
        period=DEC,
        posted_on=date(2026, 12, 20),
        kind=EntryKind.RECALCULATION,
        amount=Decimal("-42.10"),
    )
    Call.objects.create(
        caller="+79161234567", started_at=at(16), topics="balance", readings=1, outcome="reading"
    )
    Call.objects.create(caller="+79161234567", started_at=at(17), topics="tariff", outcome="abandoned")
    for outcome in ("accepted", "not_understood", "automatic"):
        Letter.objects.create(
            via="smtp",
            received_at=at(18),
            raw=b"x",
            size=1,
            status="done",
            outcome=outcome,
            next_attempt_at=at(18),
        )
    return meters


def test_the_figures_of_a_period(month):
    figures = figures_of(date(2026, 12, 1), date(2026, 12, 30))
    # Every channel is listed, those with no reading as 0; every day of the period too.
    assert figures.readings_by_channel == dict.fromkeys(Channel.values, 0) | {
        "api": 1,
        "inspector": 1,
        "ivr": 1,
        "web": 1,
    }
    assert len(figures.readings_by_day) == 30
    given = {
        day: {c: n for c, n in row.items() if n}
        for day, row in figures.readings_by_day.items()
        if any(row.values())
    }
    assert given == {
        "2026-12-15": {"api": 1, "web": 1},
        "2026-12-20": {"inspector": 1},
        "2026-12-26": {"ivr": 1},
    }
    assert (figures.customer_readings, figures.inside_window, figures.inside_window_share) == (3, 2, 0.6667)
    assert figures.billed_by_basis == {"2026-12": {"actual": 2, "average": 1, "norm": 1}}
    assert (figures.true_ups, figures.true_ups_amount) == (1, Decimal("-42.10"))
    assert figures.payments_by_way == {
        "card": {"count": 2, "amount": Decimal("120.50")},
        "registry": {"count": 1, "amount": Decimal("300.00")},
    }
    assert figures.phone == {
        "calls": 2,
        "callers": 1,
        "readings": 1,
        "balance": 1,
        "tariff": 1,
        "office": 0,
        "operator": 0,
        "abandoned": 1,
    }
    assert figures.letters == {
        "letters": 3,
        "understood": 1,
        "not_understood": 1,
        "automatic": 1,
        "waiting": 0,
    }


def test_a_single_day(month):
    figures = figures_of(date(2026, 12, 15), date(2026, 12, 15))
    assert {c: n for c, n in figures.readings_by_channel.items() if n} == {"api": 1, "web": 1}
    with pytest.raises(ValueError, match="ends before"):
        figures_of(date(2026, 12, 15), date(2026, 12, 14))


def test_the_command_prints_text_json_and_csv(month, tmp_path):
    runner = CliRunner()
    text = runner.invoke(main, ["stats", "--from", "2026-12-01", "--to", "2026-12-30"])
    assert text.exit_code == 0, text.output
    assert "inside the window: 2 (66.7%)" in text.output and "Payments card: 2 (120.50)" in text.output
    assert "Support: asked 0" in text.output and "Terminals: sessions 0" in text.output
    result = runner.invoke(
        main,
        ["stats", "--from", "2026-12-01", "--to", "2026-12-30", "--json", "--csv", str(tmp_path / "csv")],
    )
    data = json.loads(result.output)
    assert {c: n for c, n in data["readings_by_channel"].items() if n} == {
        "api": 1,
        "inspector": 1,
        "ivr": 1,
        "web": 1,
    }
    assert set(data["readings_by_channel"]) == set(Channel.values)
    assert data["payments_by_way"]["registry"] == {"count": 1, "amount": "300.00"}
    with (tmp_path / "csv" / "readings_by_day.csv").open(encoding="utf-8") as rows:
        table = list(csv.reader(rows))
    assert table[0] == ["day", *Channel.values]
    fifteenth = dict(zip(table[0], table[15], strict=True))
    assert fifteenth == {"day": "2026-12-15"} | dict.fromkeys(Channel.values, "0") | {"api": "1", "web": "1"}
    wrong = runner.invoke(main, ["stats", "--from", "2026-12-05", "--to", "2026-12-01"])
    assert wrong.exit_code == 2 and "--to is before --from" in wrong.output


def test_the_support_queue_and_the_terminals(month):
    from datetime import timedelta

    from meterdesk.support.models import Thread
    from meterdesk.terminal.models import Terminal, TerminalSession

    now = at(30, 12)
    ages = (timedelta(hours=2), timedelta(days=2), timedelta(days=5), timedelta(days=40))
    for n, age in enumerate(ages):
        Thread.objects.create(
            topic="bill",
            created_at=now - age,
            due_at=now - age + timedelta(days=2),
            status="new" if n else "waiting",
        )
    Thread.objects.create(topic="other", created_at=at(3), due_at=at(5), status="closed", closed_at=at(4))
    terminal = Terminal.objects.create(name="T1", location="Office")
    account = month[0].account
    for end in ("finish", "timeout", "finish"):
        session = TerminalSession.objects.create(terminal=terminal, account=account, end=end)
        TerminalSession.objects.filter(pk=session.pk).update(started_at=at(16))
    figures = figures_of(date(2026, 12, 1), date(2026, 12, 30), now=now)
    assert figures.support == {
        "asked": 4,  # the one 40 days old was asked in November
        "closed": 1,
        "open": 4,
        "waiting_for_customer": 1,
        "overdue": 2,  # due 2 days after asking: those of 5 and 40 days (the one of 2 days: just now)
        "escalated": 0,
    }
    assert figures.support_ages == {"under_1_day": 1, "1_to_3_days": 1, "3_to_7_days": 1, "over_7_days": 1}


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Asia/Kolkata"])
def test_a_reading_counts_on_the_utilitys_day(zone):
    """Moscow is whole hours from UTC (the readings are grouped by UTC hour); Kolkata is not (by
    the day in the database): either way a reading just after midnight is the next day's."""
    from zoneinfo import ZoneInfo

    from meterdesk.utility.selectors import utility_get

    utility = utility_get()
    utility.time_zone = zone
    utility.save()
    here = ZoneInfo(zone)
    ReadingFactory(
        meter=MeterFactory(),
        period=DEC,
        channel="web",
        submitted_at=datetime(2026, 12, 15, 23, 50, tzinfo=here),
    )
    ReadingFactory(
        meter=MeterFactory(),
        period=DEC,
        channel="api",
        submitted_at=datetime(2026, 12, 16, 0, 10, tzinfo=here),
    )
    ReadingFactory(
        meter=MeterFactory(),
        period=DEC,
        channel="ivr",
        submitted_at=datetime(2026, 12, 17, 0, 10, tzinfo=here),
    )
    figures = figures_of(date(2026, 12, 15), date(2026, 12, 16))
    given = {day: {c: n for c, n in row.items() if n} for day, row in figures.readings_by_day.items()}
    assert given == {"2026-12-15": {"web": 1}, "2026-12-16": {"api": 1}}
    assert figures.inside_window == 2  # the window is the 15th to the 25th
