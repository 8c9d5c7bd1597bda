"""Loading registries: matching, the unmatched queue, a file or a payment once, all-or-nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.registries.models import Registry, RegistryRow, RowStatus, UnmatchedReason
from meterdesk.registries.tests.conftest import line, sber_file
from meterdesk.testing import AccountFactory

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, int, int, list[tuple[str | None, Decimal]]]:
    """Everything a load could change."""
    return (
        Registry.objects.count(),
        RegistryRow.objects.count(),
        LedgerEntry.objects.count(),
        list(LedgerEntry.objects.order_by("pk").values_list("external_id", "amount")),
    )


def test_matched_rows_become_ledger_payments_and_the_rest_wait(load, accounts):
    closed = AccountFactory(number="7701000009", closed_on=date(2025, 11, 1))
    data = sber_file(
        [
            line("1", "7701000001", "1770,54", "17,71"),
            line("2", "7701000002", "500,00", "5,00", period=""),
            line("3", "7701000099", "850,00", "8,50"),  # no such account
            line("4", "77010000O3", "1200,00", "12,00"),  # a letter O
            line("5", "", "300,00", "3,00"),  # no account number at all
            line("6", closed.number, "100,00", "1,00"),  # closed before the payment
        ]
    )
    result = load(data, name="sber-20251120.txt")
    assert result.ok, result.problems
    s = result.summary
    assert (s.rows, s.matched, s.unmatched, s.duplicate) == (6, 2, 4, 0)
    assert (s.amount, s.commission) == (Decimal("4720.54"), Decimal("47.21"))
    assert (s.matched_amount, s.unmatched_amount) == (Decimal("2270.54"), Decimal("2450.00"))
    registry = result.registry
    assert registry is not None
    assert (registry.rows_total, registry.rows_matched, registry.rows_unmatched) == (6, 2, 4)
    assert registry.amount_total == Decimal("4720.54")
    assert registry.commission_total == Decimal("47.21")
    assert registry.layout == "sberbank"
    assert registry.footer["order_number"] == "4417"
    assert (registry.first_paid_on, registry.last_paid_on) == (date(2025, 11, 20), date(2025, 11, 20))

    payments = list(LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).order_by("pk"))
    assert [(p.account.number, p.amount) for p in payments] == [
        ("7701000001", Decimal("-1770.54")),  # what the payer paid; the commission is the bank's
        ("7701000002", Decimal("-500.00")),
    ]
    first = payments[0]
    assert first.external_id == "reg:sberbank:2025-11-20/9038/01234/1"
    assert first.reason == "registry"
    assert first.posted_on == date(2025, 11, 20)
    assert first.period == date(2025, 11, 1)
    assert first.detail["payer"] == "Иванова Анна Сергеевна"
    assert first.detail["period"] == "2025-10"
    assert first.detail["commission"] == "17.71"
    assert first.detail["registry"] == registry.pk
    assert first.detail["line"] == 1

    rows = {r.line: r for r in RegistryRow.objects.filter(registry=registry)}
    assert rows[1].status == RowStatus.MATCHED and rows[1].entry == first
    assert [(rows[n].status, rows[n].reason) for n in (3, 4, 5, 6)] == [
        (RowStatus.UNMATCHED, UnmatchedReason.UNKNOWN_ACCOUNT),
        (RowStatus.UNMATCHED, UnmatchedReason.MALFORMED_ACCOUNT),
        (RowStatus.UNMATCHED, UnmatchedReason.MALFORMED_ACCOUNT),
        (RowStatus.UNMATCHED, UnmatchedReason.CLOSED_ACCOUNT),
    ]
    assert rows[4].account_number == "77010000O3"
    assert rows[4].raw == line("4", "77010000O3", "1200,00", "12,00")
    assert all(rows[n].entry is None for n in (3, 4, 5, 6))
    assert not LedgerEntry.objects.filter(account=closed).exists()


def test_a_payment_on_the_day_an_account_closes_is_still_matched(load, accounts):
    account = AccountFactory(number="7701000009", closed_on=date(2025, 11, 20))
    result = load(sber_file([line("1", account.number)]))
    assert result.summary.matched == 1
    assert account_balance(account) == Decimal("-1000.00")


def test_overpayment_leaves_a_credit_and_partial_payment_reduces_the_debt(load, accounts):
    over, part = accounts[0], accounts[1]
    for account in (over, part):
        LedgerEntry.objects.create(
            account=account,
            period=date(2025, 10, 1),
            posted_on=date(2025, 11, 1),
            kind=EntryKind.CHARGE,
            amount=Decimal("1500.00"),
        )
    assert account_balance(over) == Decimal("1500.00")
    result = load(
        sber_file([line("1", over.number, "2000,00", "20,00"), line("2", part.number, "600,50", "6,01")])
    )
    assert result.ok
    assert account_balance(over) == Decimal("-500.00")  # a credit, offset against the next bill
    assert account_balance(part) == Decimal("899.50")  # still owes the rest


def test_a_payment_into_a_closed_month_goes_to_the_first_open_month(load, accounts):
    account = accounts[0]
    AccountClose.objects.create(
        account=account,
        period=date(2025, 11, 1),
        basis="actual",
        opening_balance=0,
        charges=0,
        recalculations=0,
        payments=0,
        penalty=0,
        closing_balance=0,
        due_date=date(2025, 12, 10),
        closed_at="2025-11-30T21:00:00Z",
    )
    load(sber_file([line("1", account.number)]))
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.posted_on, entry.period) == (date(2025, 11, 20), date(2025, 12, 1))


def test_the_same_file_twice_is_refused_and_nothing_changes(load, accounts):
    data = sber_file([line("1"), line("2", "7701000099")])
    assert load(data, name="a.txt").ok
    before = _state()
    again = load(data, name="renamed.txt")
    assert not again.ok
    (problem,) = again.problems
    registry = Registry.objects.get()
    loaded = timezone.localtime(registry.loaded_at, ZoneInfo("Europe/Moscow"))
    assert f"this file was already loaded on {loaded:%d.%m.%Y %H:%M}" in str(problem)
    assert f"as registry #{registry.pk} (a.txt); nothing was loaded" in str(problem)
    assert _state() == before
    assert [p.message for p in load(data, name="again.txt", dry_run=True).problems] == [problem.message]


def test_rows_already_loaded_in_an_earlier_file_are_not_counted_twice(load, accounts):
    first = load(
        sber_file([line("1", amount="100,00"), line("2", "7701000099", amount="200,00")]), name="d1.txt"
    )
    second = load(
        sber_file(
            [
                line("1", amount="100,00"),  # yesterday's matched row, sent again
                line("2", "7701000099", amount="200,00"),  # yesterday's unmatched row, sent again
                line("3", "7701000002", amount="300,00", day="21-11-2025"),
            ]
        ),
        name="d2.txt",
    )
    assert second.ok, second.problems
    s = second.summary
    assert (s.rows, s.matched, s.unmatched, s.duplicate) == (3, 1, 0, 2)
    assert (s.duplicate_amount, s.matched_amount, s.amount) == (
        Decimal("300.00"),
        Decimal("300.00"),
        Decimal("600.00"),
    )
    assert [line_no for line_no, _where in second.duplicates] == [1, 2]
    assert f"line 1 of registry #{first.registry.pk} (d1.txt)" in second.duplicates[0][1]
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 2
    assert account_balance(AccountFactory._meta.model.objects.get(number="7701000001")) == Decimal("-100.00")
    repeats = RegistryRow.objects.filter(registry=second.registry, status=RowStatus.DUPLICATE).order_by(
        "line"
    )
    assert [r.duplicate_of.registry_id for r in repeats if r.duplicate_of] == [first.registry.pk] * 2
    assert all(r.entry is None for r in repeats)
    assert second.registry.rows_duplicate == 2
    # The unmatched row stays once in the queue.
    assert RegistryRow.objects.filter(status=RowStatus.UNMATCHED).count() == 1


def test_a_payment_sent_again_with_other_data_refuses_the_file(load, accounts):
    first = load(sber_file([line("1", amount="100,00"), line("2")]), name="d1.txt")
    before = _state()
    result = load(sber_file([line("1", amount="110,00"), line("2", "7701000003"), line("3")]), name="d2.txt")
    registry = first.registry.pk
    assert [str(p) for p in result.problems] == [
        f"d2.txt:1: this payment was loaded before (line 1 of registry #{registry}, d1.txt) with account "
        "7701000001 and amount 100.00; here it has account 7701000001 and amount 110.00 "
        "(got 'sberbank:2025-11-20/9038/01234/1')",
        f"d2.txt:2: this payment was loaded before (line 2 of registry #{registry}, d1.txt) with account "
        "7701000001 and amount 1000.00; here it has account 7701000003 and amount 1000.00 "
        "(got 'sberbank:2025-11-20/9038/01234/2')",
    ]
    assert _state() == before


def test_a_file_with_nothing_new_is_refused(load, accounts):
    load(sber_file([line("1"), line("2")], order="1"), name="d1.txt")
    before = _state()
    result = load(sber_file([line("1"), line("2")], order="2"), name="d1-resent.txt")
    assert not result.ok
    assert "every payment of this file is already loaded (line 1 as line 1 of registry #" in str(
        result.problems[0]
    )
    assert _state() == before


def test_a_payment_already_in_the_ledger_from_elsewhere_refuses_the_file(load, accounts):
    LedgerEntry.objects.create(
        account=accounts[0],
        period=date(2025, 11, 1),
        posted_on=date(2025, 11, 20),
        kind=EntryKind.PAYMENT,
        amount=Decimal("-1000.00"),
        external_id="reg:sberbank:2025-11-20/9038/01234/2",
    )
    before = _state()
    result = load(sber_file([line("1"), line("2")]))
    assert [str(p) for p in result.problems] == [
        "registry.txt:2: a payment with the external id reg:sberbank:2025-11-20/9038/01234/2 is already in "
        "the ledger, but from no registry; nothing was loaded"
    ]
    assert _state() == before


@pytest.mark.parametrize(
    ("lines", "options", "expected"),
    [
        ([line("1"), line("2", amount="1.00")], {}, "registry.txt:2: amount: not an amount"),
        ([line("1"), line("2", day="2025-11-20")], {}, "registry.txt:2: date: not a date"),
        ([line("1"), line("2") + ";extra"], {}, "registry.txt:2: 11 values separated by ';'"),
        (
            [line("1"), line("1")],
            {},
            "registry.txt:2: the same payment (date, branch, operation id) as line 1",
        ),
        ([line("1"), line("2")], {"count": 3}, "registry.txt:3: footer count: the footer says 3 payments"),
        (
            [line("1"), line("2")],
            {"amount": "1,00"},
            "registry.txt:3: footer amount: the footer's total 1.00",
        ),
        ([line("1"), line("2")], {"net": "1,00"}, "registry.txt:3: footer net: the footer's total 1.00"),
        ([line("1"), line("2")], {"encoding": "utf-8"}, "registry.txt:1: the file is UTF-8 text"),
    ],
)
def test_a_bad_file_loads_nothing_at_all(load, accounts, lines, options, expected):
    before = _state()
    result = load(sber_file(lines, **options))
    assert not result.ok
    assert any(str(p).startswith(expected) for p in result.problems), result.problems
    assert result.registry is None and result.summary is None
    assert _state() == before
    # The good first line was not posted either.
    assert not LedgerEntry.objects.filter(external_id__startswith="reg:").exists()


def test_dry_run_reports_and_keeps_nothing(load, accounts):
    data = sber_file([line("1"), line("2", "7701000099", amount="50,00", commission="0,50")])
    before = _state()
    result = load(data, dry_run=True)
    assert result.ok and result.dry_run
    assert (result.summary.matched, result.summary.unmatched) == (1, 1)
    assert result.summary.amount == Decimal("1050.00")
    assert result.registry is None
    assert _state() == before
    assert load(data).ok  # the same file then loads for real
    assert Registry.objects.count() == 1
