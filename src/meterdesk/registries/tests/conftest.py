"""Registry files written by the tests, in the shipped Sberbank-style layout (cp1251)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.registries.layouts import Layout, layout_get
from meterdesk.registries.services import LoadResult, registry_load
from meterdesk.testing import AccountFactory

TODAY = date(2025, 11, 27)


def line(
    op: str = "1",
    account: str = "7701000001",
    amount: str = "1000,00",
    commission: str = "10,00",
    *,
    day: str = "20-11-2025",
    time: str = "09-14-05",
    branch: str = "9038/01234",
    payer: str = "Иванова Анна Сергеевна",
    address: str = "г. Москва, ул. Профсоюзная, д. 43, кв. 118",
    period: str = "102025",
) -> str:
    """One payment line of the Sberbank-style layout."""
    return ";".join([day, time, branch, op, account, payer, address, period, amount, commission])


def _money(line: str, column: int) -> Decimal:
    """The amount in a column of a line (0 for a line too short or a cell that is not a number)."""
    cells = line.split(";")
    try:
        return Decimal(cells[column].replace(",", "."))
    except (IndexError, ArithmeticError):
        return Decimal(0)


def sber_file(
    lines: list[str],
    *,
    count: int | str | None = None,
    amount: str | None = None,
    commission: str | None = None,
    net: str | None = None,
    order: str = "4417",
    footer: bool = True,
    encoding: str = "cp1251",
) -> bytes:
    """A registry file: the lines and a footer with the right totals unless told otherwise."""
    total = sum((_money(x, 8) for x in lines), Decimal("0.00"))
    fees = sum((_money(x, 9) for x in lines), Decimal("0.00"))

    def comma(value: Decimal) -> str:
        return f"{value:.2f}".replace(".", ",")

    text = list(lines)
    if footer:
        text.append(
            f"={sum(1 for x in lines if x) if count is None else count};{amount or comma(total)};"
            f"{commission or comma(fees)};{net or comma(total - fees)};{order};21-11-2025"
        )
    return ("\r\n".join(text) + "\r\n").encode(encoding)


@pytest.fixture
def sber() -> Layout:
    return layout_get("sberbank")


@pytest.fixture
def accounts(db):
    """Three open accounts, 7701000001..3."""
    return [AccountFactory(number=f"770100000{n}", holder_name="Иванова Анна Сергеевна") for n in (1, 2, 3)]


@pytest.fixture
def load(db, sber):
    """Load registry bytes (in the Sberbank layout unless told) as of TODAY."""

    def run(data: bytes, name: str = "registry.txt", **options) -> LoadResult:
        options.setdefault("layout", sber)
        options.setdefault("today", TODAY)
        return registry_load(data=data, name=name, **options)

    return run
