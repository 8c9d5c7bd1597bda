"""`meterdesk rebill`, through click's runner on the test database: what it posts, per month."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.tests.helpers import ledger_snapshot, month, reading
from meterdesk.cli import main
from meterdesk.metering.models import ReadingKind
from meterdesk.testing import MeterFactory, UserFactory

pytestmark = pytest.mark.django_db

JUN, JUL, AUG = (month(2025, m) for m in (6, 7, 8))


def run(*args: str):
    return CliRunner().invoke(main, ["rebill", *args])


@pytest.fixture
def meter(prices):
    """150 kWh in June (6.99 ₽/kWh), 100 in July (7.87), both closed; nothing paid (the bills are
    not overdue long enough for a penalty). The inspector read 1250, not 1300, in June."""
    meter = MeterFactory(zones=1, serial="40123456")
    reading(meter, month(2025, 5), 1150)
    reading(meter, JUN, 1300)
    reading(meter, JUL, 1400)
    billing_close(JUN)
    billing_close(JUL)
    reading(meter, JUN, 1250, kind=ReadingKind.CONTROL)
    return meter


def test_a_dry_run_shows_the_months_and_posts_nothing(meter):
    before = ledger_snapshot()
    number = meter.account.number

    result = run("--account", number, "--period", "2025-06", "--reason", "control of 24.06", "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Account {number} from 2025-06 (other: control of 24.06):",
        "2025-06: \u2212349.50\u00a0₽",
        "  actual         meter 40123456 T1                \u22121,048.50\u00a0₽   -150.000 kWh × 6.99",
        "  control        meter 40123456 T1                   699.00\u00a0₽   +100.000 kWh × 6.99",
        "2025-07: 393.50\u00a0₽",
        "  actual         meter 40123456 T1                   393.50\u00a0₽   +50.000 kWh × 7.87",
        "Total 44.00\u00a0₽ in 3 corrections, would be posted to 2025-08 (the next bill).",
        "Dry run: nothing was posted.",
    ]
    assert ledger_snapshot() == before


def test_it_posts_once_with_who_asked(meter):
    staff = UserFactory(email="billing@example.com", is_staff=True)
    args = ("--account", meter.account.number, "--period", "2025-06", "--reason", "control of 24.06")

    result = run(*args, "--cause", "control_reading", "--by", "billing@example.com")

    assert result.exit_code == 0, result.output
    assert "Total 44.00\u00a0₽ in 3 corrections, posted to 2025-08 (the next bill)." in result.output
    entries = LedgerEntry.objects.filter(kind=EntryKind.CORRECTION)
    assert {(e.period, e.detail["cause"], e.detail["by"], e.detail["reason"]) for e in entries} == {
        (AUG, "control_reading", staff.pk, "control of 24.06")
    }
    again = run(*args, "--cause", "control_reading")
    assert again.exit_code == 0, again.output
    assert (
        again.output == f"Account {meter.account.number} from 2025-06: nothing differs; nothing was posted.\n"
    )
    assert entries.count() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--account", "0000000000", "--period", "2025-06", "--reason", "x"), "no account '0000000000'"),
        (("--account", "{number}", "--period", "2025-08", "--reason", "x"), "2025-08 is not closed"),
        (("--account", "{number}", "--period", "2025-13", "--reason", "x"), "expected a month YYYY-MM"),
        (("--account", "{number}", "--period", "2025-06", "--reason", "  "), "give the reason in words"),
        (
            ("--account", "{number}", "--period", "2025-06", "--reason", "x", "--cause", "whim"),
            "'whim' is not one of",
        ),
        (
            ("--account", "{number}", "--period", "2025-06", "--reason", "x", "--by", "nobody@example.com"),
            "no active member of staff",
        ),
    ],
)
def test_refusals_post_nothing(meter, args, message):
    before = ledger_snapshot()

    result = run(*(a.format(number=meter.account.number) for a in args))

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert ledger_snapshot() == before
