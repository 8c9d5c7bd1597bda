"""A close that fails or is killed half way leaves whole chunks only, and a rerun bills every account
exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from decimal import Decimal

import pytest

from meterdesk.billing import close_engine
from meterdesk.billing.close import billing_close
from meterdesk.billing.models import (
    AccountClose,
    BillingChunk,
    BillingRun,
    LedgerEntry,
    MeterBillingState,
    RunStatus,
)
from meterdesk.billing.tests.helpers import (
    GAS,
    RURAL,
    SEED_ACCOUNTS,
    cli_command,
    cli_env,
    cli_run,
    closes_snapshot,
    copy_data_dir,
    ledger_snapshot,
    month,
    reading,
    seeded_period,
    sqlite_query,
    states_snapshot,
    wipe_billing,
)
from meterdesk.customers.models import Account
from meterdesk.domain import billing as engine
from meterdesk.testing import AccountFactory, MeterFactory

JUL, AUG = month(2025, 7), month(2025, 8)


def _accounts(count: int = 12) -> list[Account]:
    """Metered accounts of 1-3 zones (one rural, with bands) and some without a meter."""
    accounts = []
    for index in range(count):
        if index % 4 == 3:
            accounts.append(AccountFactory(meter_required=index % 8 == 3))
            continue
        zones = index % 3 + 1
        category = RURAL if zones == 2 and index % 2 else GAS
        meter = MeterFactory(zones=zones, account=AccountFactory(category=category))
        base = [1000, 500, 700][:zones]
        reading(meter, JUL, *(v + 100 + index for v in base))
        reading(meter, AUG, *(v + 250 + 7 * index for v in base))
        accounts.append(meter.account)
    return accounts


def _closed_ids() -> Counter[int]:
    return Counter(AccountClose.objects.filter(period=AUG).values_list("account_id", flat=True))


@pytest.mark.django_db
class TestFailureInProcess:
    def test_the_engine_failing_on_the_nth_account(self, prices, monkeypatch):
        accounts = _accounts(12)
        real = engine.bill_account
        calls = []

        def flaky(account, *args, **kwargs):
            calls.append(account.account_id)
            if len(calls) == 6:  # the 2nd account of the 2nd chunk
                raise RuntimeError("the engine failed")
            return real(account, *args, **kwargs)

        monkeypatch.setattr(engine, "bill_account", flaky)
        with pytest.raises(RuntimeError, match="the engine failed"):
            billing_close(AUG, chunk_size=4)
        monkeypatch.undo()

        run = BillingRun.objects.get(period=AUG)
        assert run.status == RunStatus.RUNNING
        chunks = list(run.chunks.order_by("first_account_id"))
        assert [c.status for c in chunks] == ["done", "pending", "pending"]
        first_chunk = {a.pk for a in accounts[:4]}
        # Only the first chunk's accounts: the failed chunk wrote nothing (no close, no line, no state).
        assert set(_closed_ids()) == first_chunk
        assert set(LedgerEntry.objects.values_list("account_id", flat=True)) <= first_chunk
        assert set(MeterBillingState.objects.values_list("account_id", flat=True)) <= first_chunk

        summary = billing_close(AUG, chunk_size=4)
        assert summary.closed_now == 8
        assert summary.accounts == 12
        assert BillingRun.objects.get(period=AUG).status == RunStatus.DONE
        assert _closed_ids() == Counter({a.pk: 1 for a in accounts})
        resumed = (ledger_snapshot(), closes_snapshot(), states_snapshot())

        # The same month closed in one go gives the very same lines, statements and states.
        wipe_billing()
        billing_close(AUG, chunk_size=4)
        assert (ledger_snapshot(), closes_snapshot(), states_snapshot()) == resumed

    def test_a_failure_after_the_lines_are_written_rolls_them_back(self, prices, monkeypatch):
        """The chunk fails between writing its ledger lines and its statements."""
        accounts = _accounts(8)
        real = close_engine.bulk_insert
        failed: list[str] = []

        def failing(table, columns, rows):
            if table == AccountClose._meta.db_table and not failed:
                failed.append(table)
                raise OSError("disk full")
            return real(table, columns, rows)

        monkeypatch.setattr(close_engine, "bulk_insert", failing)
        with pytest.raises(OSError, match="disk full"):
            billing_close(AUG, chunk_size=4)
        assert failed
        assert (
            AccountClose.objects.count(),
            LedgerEntry.objects.count(),
            MeterBillingState.objects.count(),
        ) == (
            0,
            0,
            0,
        )
        assert not BillingChunk.objects.filter(status="done").exists()
        summary = billing_close(AUG, chunk_size=4)
        assert summary.closed_now == 8
        assert _closed_ids() == Counter({a.pk: 1 for a in accounts})

    def test_accounts_created_while_a_run_was_interrupted_are_closed_when_it_resumes(
        self, prices, monkeypatch
    ):
        """A run interrupted, an account opened, the run resumed: the account is billed too (it
        used not to be: ``run_prepare`` added chunks for new accounts only to a run that was done,
        so the resumed run finished without them)."""
        accounts = _accounts(8)
        monkeypatch.setattr(engine, "bill_account", _raising)
        with pytest.raises(RuntimeError):
            billing_close(AUG, chunk_size=4)
        monkeypatch.undo()
        late = AccountFactory(meter_required=False)
        summary = billing_close(AUG, chunk_size=4)
        assert _closed_ids() == Counter({a.pk: 1 for a in [*accounts, late]})
        assert summary.accounts == 9


def _raising(*args, **kwargs):
    raise RuntimeError("the engine failed")


# --- a real kill of `meterdesk bill` and its task workers --------------------------------------------


def _count(data_dir, sql: str) -> int:
    return sqlite_query(data_dir, sql)[0][0]


def _wait_gone(pgid: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _money(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))


def test_bill_killed_with_its_workers_then_run_again_bills_every_account_once(seeded_data_dir, tmp_path):
    data = copy_data_dir(seeded_data_dir, tmp_path / "data")
    period = seeded_period(data)
    args = ("bill", "--period", f"{period:%Y-%m}", "--workers", "2", "--chunk-size", "50")
    chunks_total = -(-SEED_ACCOUNTS // 50)
    output = tmp_path / "first-run.txt"
    with output.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            cli_command(*args),
            env=cli_env(data),
            cwd=data,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers it starts are in it too
        )
    done_at_kill = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                done_at_kill = _count(data, "SELECT COUNT(*) FROM billing_billingchunk WHERE status = 'done'")
            except sqlite3.OperationalError:  # not created yet, or busy
                done_at_kill = 0
            if done_at_kill >= 3:
                break
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        _wait_gone(process.pid)
    assert process.returncode == -signal.SIGKILL, f"it ended before it was killed: {output.read_text()}"

    done = _count(data, "SELECT COUNT(*) FROM billing_billingchunk WHERE status = 'done'")
    assert 3 <= done < chunks_total, f"killed too late: {done} of {chunks_total} chunks done"
    closes = _count(data, "SELECT COUNT(*) FROM billing_accountclose")
    # Whole chunks only: the statements are exactly those of the chunks marked done.
    assert closes == _count(
        data, "SELECT SUM(accounts_closed) FROM billing_billingchunk WHERE status = 'done'"
    )
    assert closes < SEED_ACCOUNTS
    assert (
        _count(
            data,
            "SELECT COUNT(DISTINCT account_id) FROM billing_ledgerentry WHERE account_id NOT IN "
            "(SELECT account_id FROM billing_accountclose)",
        )
        == 0
    )

    result = cli_run(data, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"Month {period:%Y-%m}: {SEED_ACCOUNTS} accounts closed ({SEED_ACCOUNTS - closes} now)."
        in result.stdout
    )

    accounts = _count(data, "SELECT COUNT(*) FROM customers_account")
    assert accounts == SEED_ACCOUNTS
    assert _count(data, "SELECT COUNT(*) FROM billing_accountclose") == accounts
    assert _count(data, "SELECT COUNT(DISTINCT account_id) FROM billing_accountclose") == accounts
    assert sqlite_query(data, "SELECT status, COUNT(*) FROM billing_billingrun GROUP BY status") == [
        ("done", 1)
    ]
    assert _count(data, "SELECT COUNT(*) FROM billing_billingchunk WHERE status != 'done'") == 0
    duplicated = sqlite_query(
        data,
        "SELECT account_id, period, kind, basis, meter_id, zone, band, COUNT(*) FROM billing_ledgerentry "
        "GROUP BY account_id, period, kind, basis, meter_id, zone, band HAVING COUNT(*) > 1",
    )
    assert duplicated == []
    assert _count(data, "SELECT COUNT(*) FROM billing_meterbillingstate") == _count(
        data, "SELECT COUNT(*) FROM metering_meter"
    )
    # Every statement's closing balance is the sum of the account's ledger.
    rows = sqlite_query(
        data,
        "SELECT c.account_id, c.opening_balance, c.charges, c.recalculations, c.closing_balance, "
        "(SELECT SUM(amount) FROM billing_ledgerentry e WHERE e.account_id = c.account_id) "
        "FROM billing_accountclose c",
    )
    for account_id, opening, charges, recalcs, closing, ledger in rows:
        assert _money(opening) == 0, account_id
        assert _money(closing) == _money(charges) + _money(recalcs) == _money(ledger), account_id
