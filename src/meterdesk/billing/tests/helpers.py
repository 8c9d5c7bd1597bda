"""Helpers shared by the billing tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from meterdesk.billing.models import AccountClose, BillingRun, EntryKind, LedgerEntry, MeterBillingState
from meterdesk.customers.models import Account, PremisesCategory
from meterdesk.metering.models import Meter, Reading, ReadingKind
from meterdesk.testing import ReadingFactory

D = Decimal
GAS = PremisesCategory.GAS_STOVE
RURAL = PremisesCategory.RURAL

#: The Moscow prices of DOMAIN.md ("urban, gas stoves"), ₽/kWh: single; day/night; peak/night/semi-peak.
GAS_2024 = (("6.99",), ("8.47", "3.43"), ("10.16", "3.43", "6.99"))
GAS_2025 = (("7.87",), ("9.45", "4.08"), ("11.24", "4.08", "7.87"))
#: An illustrative rural tariff with two volume bands (social norm): up to 100 kWh a month, above.
RURAL_BAND_LIMITS = (D(100), None)
RURAL_BAND_PRICES = {(1, 1): "6.00", (2, 1): "3.00", (1, 2): "8.00", (2, 2): "4.00"}
RURAL_SINGLE = ("5.00",)

BILLED_KINDS = (EntryKind.CHARGE, EntryKind.RECALCULATION, EntryKind.CORRECTION)

SEED_ACCOUNTS = 2000
SEED_MONTHS = 6


def month(year: int, number: int) -> date:
    return date(year, number, 1)


def reading(
    meter: Meter, period: date, *values: int | str | Decimal, kind: str = ReadingKind.CUSTOMER
) -> Reading:
    """An accepted reading of ``meter`` for ``period`` (one value per zone)."""
    assert len(values) == meter.zones, f"meter has {meter.zones} zones, got {values}"
    padded = [D(v) for v in values] + [None, None]
    return ReadingFactory(meter=meter, period=period, t1=padded[0], t2=padded[1], t3=padded[2], kind=kind)


def line_key(entry: LedgerEntry) -> tuple[Any, ...]:
    """What identifies a ledger line of a close, and its figures."""
    return (
        entry.account_id,
        entry.period,
        entry.kind,
        entry.basis,
        entry.meter_id,
        entry.zone,
        entry.band,
        entry.volume,
        entry.price,
        entry.amount,
        entry.reason,
    )


def lines(
    account: Account | None = None, period: date | None = None, **filters: Any
) -> list[tuple[Any, ...]]:
    """(basis, meter, zone, band, volume, price, amount) of the ledger lines (charges, recalculations
    and corrections unless told otherwise), in a stable order."""
    if "kind" not in filters and "kind__in" not in filters:
        filters["kind__in"] = BILLED_KINDS
    qs = LedgerEntry.objects.filter(**filters)
    if account is not None:
        qs = qs.filter(account=account)
    if period is not None:
        qs = qs.filter(period=period)
    return sorted(
        ((e.basis, e.meter_id, e.zone, e.band, e.volume, e.price, e.amount) for e in qs),
        key=lambda t: (t[0], t[1] or 0, t[2], t[3]),
    )


def ledger_snapshot(account_ids: list[int] | None = None) -> Counter[tuple[Any, ...]]:
    """Every ledger line (of these accounts), as a multiset so that a duplicate shows."""
    qs = (
        LedgerEntry.objects.all()
        if account_ids is None
        else LedgerEntry.objects.filter(account_id__in=account_ids)
    )
    return Counter(line_key(e) for e in qs)


def closes_snapshot() -> set[tuple[Any, ...]]:
    return {
        (
            c.account_id,
            c.period,
            c.basis,
            c.opening_balance,
            c.charges,
            c.recalculations,
            c.payments,
            c.penalty,
            c.closing_balance,
            c.due_date,
        )
        for c in AccountClose.objects.all()
    }


def states_snapshot() -> set[tuple[Any, ...]]:
    """(meter, account, period, the state as canonical JSON) of every meter state."""
    return {
        (s.meter_id, s.account_id, s.period, json.dumps(s.data, sort_keys=True))
        for s in MeterBillingState.objects.all()
    }


def counts() -> dict[str, int]:
    return {
        "ledger": LedgerEntry.objects.count(),
        "closes": AccountClose.objects.count(),
        "states": MeterBillingState.objects.count(),
        "runs": BillingRun.objects.count(),
    }


def wipe_billing() -> None:
    """Forget every close (tests only: the ledger is append-only in the application)."""
    LedgerEntry.objects.all().delete()
    AccountClose.objects.all().delete()
    MeterBillingState.objects.all().delete()
    BillingRun.objects.all().delete()  # chunks cascade


# --- the `meterdesk` command in a subprocess, on a SQLite file of its own ----------------------


def cli_env(data_dir: Path) -> dict[str, str]:
    """The environment of a `meterdesk` subprocess: its own data dir (SQLite file), tasks on the
    database backend, whatever database the test run itself uses."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "METERDESK_TASKS", "METERDESK_READING_WINDOW"):
        env.pop(name, None)
    env["METERDESK_DATA_DIR"] = str(data_dir)
    env["METERDESK_LOG_LEVEL"] = "WARNING"
    env["DJANGO_SETTINGS_MODULE"] = "meterdesk.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "meterdesk.cli", *args]


def cli_run(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        cli_command(*args),
        env=cli_env(data_dir),
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def copy_data_dir(source: Path, target: Path) -> Path:
    """A copy of a data dir (its SQLite database with the WAL files, the secret key)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("logs", "mail", "static", "files"))
    return target


def sqlite_query(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the subprocess's SQLite database directly (no Django: the test run has its own DB)."""
    connection = sqlite3.connect(data_dir / "meterdesk.sqlite3", timeout=20)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def seeded_period(data_dir: Path) -> date:
    """The last month of the seeded reading history (the month to close)."""
    (last,) = sqlite_query(data_dir, "SELECT MAX(period) FROM metering_reading")[0]
    return date.fromisoformat(last)
