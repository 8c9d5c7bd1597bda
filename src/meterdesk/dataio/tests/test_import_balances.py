"""Balances carried from the old system (balances.csv) and the month a payment pays (payments.csv):
the first close opens with them, and a debt of month M accrues penalties as if billed in M."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.dataio.tests.data import base, counts, write

NUMBER = "5000000009"


def _dataset(**sections):
    """An account without a meter (billed by the norm), its tariff and norm, and ``sections``."""
    ds = {
        "tariffs": [
            {"category": "gas_stove", "kind": "single", "valid_from": "2025-07-01", "price_t1": "7.87"}
        ],
        "norms": [
            {
                "category": "gas_stove",
                "rooms": "1",
                "residents": "1",
                "kwh_per_person": "98",
                "valid_from": "2024-01-01",
            }
        ],
        "accounts": [
            {
                "number": NUMBER,
                "payer": "Лебедева Нина",
                "address": "г. Москва, ул. Тестовая, д. 9, кв. 9",
                "category": "gas_stove",
                "rooms": "1",
                "residents": "1",
                "meter_required": "0",
                "opened_on": "2020-01-01",
            }
        ],
    }
    ds.update(sections)
    return ds


BALANCES = [
    {"account": NUMBER, "period": "2026-07", "amount": "500.00"},
    {"account": NUMBER, "period": "2026-08", "amount": "1000,00", "penalty": "12.34"},
]


def test_a_carried_debt_accrues_penalties_as_if_billed_in_its_month(run_import, tmp_path):
    """Hand-worked (DOMAIN.md p.7; the profile: due on the 10th, penalty from the 31st day after it
    at 1/300 of the rate, from the 91st at 1/130, the rate capped at 9.5 % in 2022-2026).

    2026-07's 500.00 was due 2026-08-10: in November its days 83-90 (1-8 Nov) count at 1/300 and
    91-101 (9-19 Nov) at 1/130, until the payment of 20 Nov pays it (oldest debt first):
        500 x 0.095 x (8/300 + 11/130) = 5.2859 ₽
    2026-08's 1000.00 was due 2026-09-10: unpaid, every day of November counts at 1/300:
        1000 x 0.095 x 30/300 = 9.50 ₽
    November's penalty: 14.7859 → 14.79 ₽. The old system's penalty (12.34) is carried, not
    recomputed, and nothing accrues on it."""
    payments = [
        {
            "account": NUMBER,
            "paid_on": "2026-11-20",
            "amount": "500",
            "external_id": "P-JULY",
            "period": "2026-07",
        }
    ]
    result = run_import(write(tmp_path / "ds", _dataset(balances=BALANCES, payments=payments)))
    assert result.problems == []
    assert result.sections["balances"].created == 2
    assert result.sections["balances"].extra == {"ledger lines": 3}
    july, august, penalty = LedgerEntry.objects.filter(external_id__startswith="opening:").order_by("pk")
    assert (july.kind, july.basis, july.period, july.posted_on, july.amount, july.external_id) == (
        EntryKind.CHARGE,
        "opening",
        date(2026, 7, 1),
        date(2026, 7, 31),
        Decimal("500.00"),
        f"opening:{NUMBER}:2026-07",
    )
    assert (august.period, august.amount) == (date(2026, 8, 1), Decimal("1000.00"))
    assert (penalty.kind, penalty.period, penalty.amount) == (
        EntryKind.PENALTY,
        date(2026, 8, 1),
        Decimal("12.34"),
    )
    assert LedgerEntry.objects.get(external_id="P-JULY").detail["period"] == "2026-07"

    billing_close(date(2026, 11, 1))

    statement = AccountClose.objects.get(account__number=NUMBER, period=date(2026, 11, 1))
    assert statement.opening_balance == Decimal("1512.34")
    assert statement.payments == Decimal("-500.00")
    assert statement.penalty == Decimal("14.79")
    line = LedgerEntry.objects.get(account__number=NUMBER, period=date(2026, 11, 1), kind=EntryKind.PENALTY)
    assert line.amount == Decimal("14.79")
    assert {part["period"] for part in line.detail["parts"]} == {"2026-07", "2026-08"}
    assert statement.closing_balance == (
        statement.opening_balance
        + statement.charges
        + statement.recalculations
        + statement.payments
        + statement.penalty
    )


def test_a_credit_is_carried_too(run_import, tmp_path):
    balances = [{"account": NUMBER, "period": "2026-09", "amount": "-250.50"}]
    assert run_import(write(tmp_path / "ds", _dataset(balances=balances))).problems == []
    billing_close(date(2026, 10, 1))
    statement = AccountClose.objects.get(account__number=NUMBER, period=date(2026, 10, 1))
    assert statement.opening_balance == Decimal("-250.50")
    assert statement.penalty == 0


def test_reimport_skips_the_balances_even_after_the_first_close(run_import, tmp_path):
    directory = write(tmp_path / "ds", _dataset(balances=BALANCES))
    assert run_import(directory).problems == []
    billing_close(date(2026, 11, 1))
    before = counts()
    result = run_import(directory)
    assert result.problems == []
    assert result.sections["balances"].skipped == 2
    assert counts() == before


def test_a_balance_for_an_account_billed_here_is_refused(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", _dataset())).problems == []
    billing_close(date(2026, 10, 1))
    balances = [{"account": NUMBER, "period": "2026-09", "amount": "100"}]
    before = counts()
    [problem] = run_import(write(tmp_path / "two", {"balances": balances})).problems
    assert (problem.file, problem.row, problem.field, problem.code) == (
        "balances.csv",
        2,
        "account",
        "account_already_billed",
    )
    assert "the last closed month is 2026-10" in problem.message
    assert counts() == before


def test_a_stored_balance_with_other_amounts_is_an_error(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", _dataset(balances=BALANCES))).problems == []
    changed = [dict(BALANCES[0]), {**BALANCES[1], "penalty": "12.35"}]
    [problem] = run_import(write(tmp_path / "two", {"balances": changed})).problems
    assert (problem.row, problem.field, problem.code) == (3, "amount", "stored_with_other_values")


@pytest.mark.parametrize(
    ("row", "column", "code"),
    [
        ({"account": NUMBER, "period": "2026-12", "amount": "10"}, "period", "not_a_past_month"),
        ({"account": NUMBER, "period": "2027-01", "amount": "10"}, "period", "not_a_past_month"),
        ({"account": NUMBER, "period": "2019-12", "amount": "10"}, "period", "before_opened"),
        ({"account": NUMBER, "period": "2026-08", "amount": "10"}, "period", "duplicate_balance"),
        ({"account": NUMBER, "period": "2026-06", "amount": "0", "penalty": "0"}, "amount", "nothing_owed"),
        ({"account": NUMBER, "period": "2026-06", "amount": "10.001"}, "amount", "too_many_decimals"),
        ({"account": NUMBER, "period": "2026-06", "amount": "9" * 40}, "amount", "too_many_digits"),
        ({"account": NUMBER, "period": "2026-06", "amount": "10", "penalty": "-1"}, "penalty", "negative"),
        ({"account": NUMBER, "period": "2026-06"}, "amount", "required"),
        ({"account": "5000000077", "period": "2026-06", "amount": "10"}, "account", "unknown_account"),
    ],
)
def test_a_bad_balance_row_is_reported_and_nothing_is_loaded(run_import, tmp_path, row, column, code):
    before = counts()
    result = run_import(write(tmp_path / "ds", _dataset(balances=[*BALANCES, row])))
    assert [(p.file, p.row, p.field, p.code) for p in result.problems] == [("balances.csv", 4, column, code)]
    assert counts() == before


def test_the_month_a_payment_pays_is_checked(run_import, tmp_path):
    ds = base()
    ds["payments"] += [
        {
            "account": "5000000001",
            "paid_on": "2025-02-05",
            "amount": "1",
            "external_id": "P-2",
            "period": "2025-03",
        },
        {
            "account": "5000000001",
            "paid_on": "2025-02-05",
            "amount": "1",
            "external_id": "P-3",
            "period": "2023-12",
        },
        {
            "account": "5000000001",
            "paid_on": "2025-02-05",
            "amount": "1",
            "external_id": "P-4",
            "period": "2025-13",
        },
    ]
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    assert [(p.row, p.field, p.code) for p in result.problems] == [
        (3, "period", "period_after_payment"),
        (4, "period", "before_opened"),
        (5, "period", "no_such_month"),
    ]
    assert counts() == before


def test_a_stored_payment_paying_another_month_is_an_error(run_import, tmp_path):
    ds = base()
    ds["payments"][0]["period"] = "2025-01"
    assert run_import(write(tmp_path / "one", ds)).problems == []
    assert run_import(write(tmp_path / "same", ds)).sections["payments"].skipped == 1
    ds["payments"][0]["period"] = "2024-12"
    [problem] = run_import(write(tmp_path / "two", ds)).problems
    assert (problem.field, problem.code) == ("external_id", "external_id_used")
    assert "paying 2025-01" in problem.message
