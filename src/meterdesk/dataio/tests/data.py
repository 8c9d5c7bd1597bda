"""Small datasets for the import tests: a base that imports cleanly, written as CSV files."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

from meterdesk.billing.models import AccountClose, LedgerEntry
from meterdesk.customers.models import Account, ResidentsChange
from meterdesk.metering.models import Meter, Reading
from meterdesk.tariffs.models import Norm, Tariff, TariffBand, TariffPrice
from meterdesk.utility.models import UtilitySettings

EXAMPLE = Path(__file__).resolve().parents[4] / "docs" / "examples" / "small-utility"

Rows = list[dict[str, Any]]

BASE: dict[str, Rows] = {
    "tariffs": [
        {
            "category": "gas_stove",
            "kind": "single",
            "valid_from": "2024-07-01",
            "valid_to": "2025-06-30",
            "price_t1": "6.99",
        },
        {
            "category": "gas_stove",
            "kind": "single",
            "valid_from": "2025-07-01",
            "valid_to": "",
            "price_t1": "7.87",
        },
        {
            "category": "gas_stove",
            "kind": "two_zone",
            "valid_from": "2024-07-01",
            "valid_to": "2025-06-30",
            "price_t1": "8.47",
            "price_t2": "3.43",
        },
        {
            "category": "gas_stove",
            "kind": "two_zone",
            "valid_from": "2025-07-01",
            "valid_to": "",
            "price_t1": "9.45",
            "price_t2": "4.08",
        },
    ],
    "norms": [
        {
            "category": "gas_stove",
            "rooms": "1",
            "residents": "1",
            "kwh_per_person": "98",
            "valid_from": "2024-01-01",
        },
        {
            "category": "gas_stove",
            "rooms": "1",
            "residents": "2",
            "kwh_per_person": "61",
            "valid_from": "2024-01-01",
        },
    ],
    "accounts": [
        {
            "number": "5000000001",
            "payer": "Сидоров Пётр",
            "address": "г. Москва, ул. Тестовая, д. 1, кв. 1",
            "category": "gas_stove",
            "rooms": "1",
            "opened_on": "2024-01-01",
        },
        {
            "number": "5000000002",
            "payer": "Орлова Мария",
            "address": "г. Москва, ул. Тестовая, д. 1, кв. 2",
            "category": "gas_stove",
            "rooms": "1",
            "residents": "1",
            "opened_on": "2024-01-01",
        },
    ],
    "residents": [
        {"account": "5000000001", "effective_from": "2024-01-01", "residents": "2"},
    ],
    "meters": [
        {
            "account": "5000000001",
            "serial": "S-1",
            "zones": "2",
            "digits": "5",
            "installed_on": "2024-01-10",
            "verification_due": "2040-01-01",
            "initial_t1": "1000",
            "initial_t2": "500",
        },
        {
            "account": "5000000002",
            "serial": "S-2",
            "zones": "1",
            "digits": "5",
            "installed_on": "2024-01-10",
            "verification_due": "2040-01-01",
            "initial_t1": "99000",
        },
    ],
    "readings": [
        {"account": "5000000001", "serial": "S-1", "period": "2025-01", "t1": "1100", "t2": "550"},
        {"account": "5000000001", "serial": "S-1", "period": "2025-02", "t1": "1200", "t2": "600"},
        {"account": "5000000001", "serial": "S-1", "period": "2025-03", "t1": "1300", "t2": "650"},
        {"account": "5000000002", "serial": "S-2", "period": "2025-01", "t1": "99500"},
        {"account": "5000000002", "serial": "S-2", "period": "2025-02", "t1": "100"},
    ],
    "payments": [
        {"account": "5000000001", "paid_on": "2025-02-05", "amount": "1000.00", "external_id": "P-1"},
    ],
}


def base() -> dict[str, Rows]:
    return copy.deepcopy(BASE)


def write(directory: Path, sections: dict[str, Rows], delimiter: str = ";") -> Path:
    """Write each section as <section>.csv (the header is the union of the rows' keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    for section, rows in sections.items():
        header: list[str] = []
        for row in rows:
            header += [k for k in row if k not in header]
        with (directory / f"{section}.csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter)
            writer.writerow(header)
            for row in rows:
                writer.writerow([row.get(k, "") for k in header])
    return directory


def counts() -> dict[str, object]:
    """Rows of every table an import writes (and the utility's settings), to compare before/after."""
    utility = dict(UtilitySettings.objects.order_by("pk").values().first() or {})
    return {
        "accounts": Account.objects.count(),
        "residents": ResidentsChange.objects.count(),
        "meters": Meter.objects.count(),
        "readings": Reading.objects.count(),
        "tariffs": Tariff.objects.count(),
        "bands": TariffBand.objects.count(),
        "prices": TariffPrice.objects.count(),
        "norms": Norm.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "closes": AccountClose.objects.count(),
        "utility": sorted(utility.items()),
    }
