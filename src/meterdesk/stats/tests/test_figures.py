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
    assert figures.readings_by_channel == {"api": 1, "inspector": 1, "ivr": 1, "web": 1}
    assert figures.readings_by_day == {
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
    assert figures.readings_by_channel == {"api": 1, "web": 1}
    with pytest.raises(ValueError, match="ends before"):
        figures_of(date(2026, 12, 15), date(2026, 12, 14))


def test_the_command_prints_text_json_and_csv(month, tmp_path):
    runner = CliRunner()
    text = runner.invoke(main, ["stats", "--from", "2026-12-01", "--to", "2026-12-30"])
    assert text.exit_code == 0, text.output
    assert "inside the window: 2 (66.7%)" in text.output and "Payments card: 2 (120.50)" in text.output
    result = runner.invoke(
        main,
        ["stats", "--from", "2026-12-01", "--to", "2026-12-30", "--json", "--csv", str(tmp_path / "csv")],
    )
    data = json.loads(result.output)
    assert data["readings_by_channel"] == {"api": 1, "inspector": 1, "ivr": 1, "web": 1}
    assert data["payments_by_way"]["registry"] == {"count": 1, "amount": "300.00"}
    with (tmp_path / "csv" / "readings_by_day.csv").open(encoding="utf-8") as rows:
        table = list(csv.reader(rows))
    assert table[0] == ["day", "api", "inspector", "ivr", "web"]
    assert table[1] == ["2026-12-15", "1", "0", "0", "1"]
    wrong = runner.invoke(main, ["stats", "--from", "2026-12-05", "--to", "2026-12-01"])
    assert wrong.exit_code == 2 and "--to is before --from" in wrong.output
