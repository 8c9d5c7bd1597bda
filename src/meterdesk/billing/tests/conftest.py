"""Fixtures of the billing tests: prices and norms, and a seeded SQLite database for the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from meterdesk.billing import close as close_module
from meterdesk.billing.tests.helpers import (
    GAS,
    GAS_2024,
    GAS_2025,
    RURAL,
    RURAL_BAND_LIMITS,
    RURAL_BAND_PRICES,
    RURAL_SINGLE,
    SEED_ACCOUNTS,
    SEED_MONTHS,
    D,
    cli_run,
    sqlite_query,
)
from meterdesk.customers.models import PremisesCategory
from meterdesk.reference import GAS_NORMS, NORMS_FROM
from meterdesk.tariffs.models import Norm
from meterdesk.testing import make_tariff

ELECTRIC = PremisesCategory.ELECTRIC_STOVE


@pytest.fixture(autouse=True)
def _fresh_pricing_cache():
    """The close caches prices per run id; ids are reused when a test's transaction rolls back."""
    cache = getattr(close_module, "_PRICING", None)
    if isinstance(cache, dict):
        cache.clear()
    yield
    if isinstance(cache, dict):
        cache.clear()


@pytest.fixture
def prices(db):
    """Moscow gas-stove tariffs of 2024-07 and 2025-07, a rural band tariff, the (illustrative) norms."""
    for kinds, start, end in (
        (GAS_2024, date(2024, 7, 1), date(2025, 6, 30)),
        (GAS_2025, date(2025, 7, 1), None),
    ):
        for zone_prices in kinds:
            make_tariff(category=GAS, prices=zone_prices, valid_from=start, valid_to=end)
    make_tariff(category=RURAL, prices=RURAL_SINGLE, valid_from=date(2024, 1, 1))
    make_tariff(
        category=RURAL,
        prices=("0", "0"),
        valid_from=date(2024, 1, 1),
        bands=RURAL_BAND_LIMITS,
        band_prices=RURAL_BAND_PRICES,
    )
    # The illustrative Moscow norms (reference.norms_load_moscow), in one query.
    Norm.objects.bulk_create(
        Norm(
            region="moscow",
            category=category,
            rooms=rooms,
            residents=residents,
            valid_from=NORMS_FROM,
            kwh_per_person=D(kwh) * (D("1.3") if category in (ELECTRIC, RURAL) else 1),
        )
        for category in PremisesCategory.values
        for rooms, per_resident in GAS_NORMS.items()
        for residents, kwh in enumerate(per_resident, start=1)
    )


@pytest.fixture(scope="session")
def seeded_data_dir(tmp_path_factory) -> Path:
    """A data dir whose SQLite database holds `meterdesk seed` accounts (made once per session;
    copy it before changing it)."""
    data_dir = tmp_path_factory.mktemp("seeded")
    result = cli_run(data_dir, "seed", "--accounts", str(SEED_ACCOUNTS), "--months", str(SEED_MONTHS))
    assert result.returncode == 0, result.stdout + result.stderr
    # Fold the WAL into the main file so that a copy of the directory is complete.
    sqlite_query(data_dir, "PRAGMA wal_checkpoint(TRUNCATE)")
    return data_dir
