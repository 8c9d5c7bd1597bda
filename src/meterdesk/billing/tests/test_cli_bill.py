"""`meterdesk bill --period`, run as a subprocess on a SQLite file of its own (seeded accounts):
in its own process (--workers 0) and with task workers (--workers 2)."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from meterdesk.billing.models import AccountClose, BillingRun
from meterdesk.billing.tests.helpers import (
    SEED_ACCOUNTS,
    cli_command,
    cli_env,
    cli_run,
    copy_data_dir,
    seeded_period,
    sqlite_query,
)
from meterdesk.cli import main
from meterdesk.domain.money import money_text
from meterdesk.testing import AccountFactory


@pytest.fixture(scope="module")
def billed(seeded_data_dir, tmp_path_factory) -> dict[int, tuple[Path, str]]:
    """The seeded month closed on two copies, at the same time: workers -> (data dir, output)."""
    period = seeded_period(seeded_data_dir)
    running = {}
    for workers in (0, 2):
        data = copy_data_dir(seeded_data_dir, tmp_path_factory.mktemp(f"bill-w{workers}") / "data")
        args = ("bill", "--period", f"{period:%Y-%m}", "--workers", str(workers), "--chunk-size", "300")
        running[workers] = (
            data,
            subprocess.Popen(  # noqa: S603 - our own command
                cli_command(*args),
                env=cli_env(data),
                cwd=data,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    out = {}
    for workers, (data, process) in running.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stdout + stderr
        out[workers] = (data, stdout)
    return out


def _by_basis(data: Path) -> dict[str, int]:
    return dict(sqlite_query(data, "SELECT basis, COUNT(*) FROM billing_accountclose GROUP BY basis"))


def _ledger(data: Path) -> set[tuple]:
    rows = sqlite_query(
        data,
        "SELECT a.number, e.period, e.kind, e.basis, m.serial, e.zone, e.band, e.volume, e.price, e.amount "
        "FROM billing_ledgerentry e JOIN customers_account a ON a.id = e.account_id "
        "LEFT JOIN metering_meter m ON m.id = e.meter_id",
    )
    return {(*row[:7], *(str(Decimal(str(v))) for v in row[7:])) for row in rows}


@pytest.mark.parametrize("workers", [0, 2])
def test_summary_by_basis(billed, seeded_data_dir, workers):
    data, output = billed[workers]
    period = seeded_period(seeded_data_dir)
    assert f"Month {period:%Y-%m}: {SEED_ACCOUNTS} accounts closed ({SEED_ACCOUNTS} now)." in output
    by_basis = _by_basis(data)
    assert sum(by_basis.values()) == SEED_ACCOUNTS
    assert "actual" in by_basis
    for basis, count in by_basis.items():
        assert re.search(rf"^  {basis}\s+{count}$", output, re.MULTILINE), (basis, count, output)
    charges = sqlite_query(data, "SELECT SUM(charges) FROM billing_accountclose")[0][0]
    # Amounts as every page writes them, in English: 1,234.56 ₽ (domain.money.money_text).
    assert re.search(
        rf"^  charges\s+{re.escape(money_text(Decimal(str(charges)), 'en'))}$", output, re.MULTILINE
    )
    for label in ("recalculations", "penalties", "payments"):
        assert re.search(rf"^  {label}\s+\u2212?\d{{1,3}}(,\d{{3}})*\.\d\d\u00a0₽$", output, re.MULTILINE), (
            label
        )
    assert sqlite_query(data, "SELECT status FROM billing_billingrun") == [("done",)]


def test_running_it_again_says_the_month_is_closed(billed, seeded_data_dir):
    data, _output = billed[2]
    period = seeded_period(seeded_data_dir)
    ledger = sqlite_query(data, "SELECT COUNT(*), SUM(amount) FROM billing_ledgerentry")
    result = cli_run(data, "bill", "--period", f"{period:%Y-%m}", "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{period:%Y-%m} is already closed; nothing was changed." in result.stdout
    assert f"{SEED_ACCOUNTS} accounts closed (0 now)." in result.stdout
    assert sqlite_query(data, "SELECT COUNT(*), SUM(amount) FROM billing_ledgerentry") == ledger


def test_workers_and_in_process_bill_the_same(billed):
    assert _ledger(billed[0][0]) == _ledger(billed[2][0])
    assert _by_basis(billed[0][0]) == _by_basis(billed[2][0])


# --- refusals, in this process (click's runner on the test database) --------------------------------


@pytest.mark.django_db
def test_a_month_after_a_gap_is_refused(prices):
    AccountFactory(meter_required=False)
    runner = CliRunner()
    result = runner.invoke(main, ["bill", "--period", "2025-08", "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "Month 2025-08: 1 accounts closed (1 now)." in result.output
    assert "  norm                      1" in result.output
    result = runner.invoke(main, ["bill", "--period", "2025-10", "--workers", "0"])
    assert result.exit_code == 1
    assert "close 2025-09 first (the last closed month is 2025-08)" in result.output
    assert not BillingRun.objects.filter(period=date(2025, 10, 1)).exists()
    result = runner.invoke(
        main,
        [
            "bill",
            "--period",
            "2025-10",
            "--workers",
            "0",
            "--force",
            "--reason",
            "September was billed elsewhere",
        ],
    )
    assert result.exit_code == 0, result.output
    assert AccountClose.objects.filter(period=date(2025, 10, 1)).count() == 1
    run = BillingRun.objects.get(period=date(2025, 10, 1))
    assert (run.forced_checks, run.forced_reason) == (
        ["previous_month_open"],
        "September was billed elsewhere",
    )


@pytest.mark.parametrize("period", ["2025-13", "2025", "August"])
def test_a_malformed_period_is_refused(period):
    result = CliRunner().invoke(main, ["bill", "--period", period, "--workers", "0"])
    assert result.exit_code == 2
    assert "expected a month YYYY-MM" in result.output
