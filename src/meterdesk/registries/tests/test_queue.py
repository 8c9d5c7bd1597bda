"""The unmatched queue: assign an account (one ledger payment, exactly once), reject, match again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.registries.models import RegistryRow, RowStatus
from meterdesk.registries.selectors import unmatched_rows
from meterdesk.registries.services import RowResolveError, row_assign, row_reject, rows_rematch
from meterdesk.registries.tests.conftest import line, sber_file
from meterdesk.testing import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The messages in English (the project's default language is Russian)."""
    with translation.override("en"):
        yield


@pytest.fixture
def queue(load, accounts):
    """A loaded registry with two unmatched rows: an unknown number (line 2), a typo (line 3)."""
    result = load(
        sber_file(
            [
                line("1", "7701000001"),
                line("2", "7701000077", "850,00", "8,50", payer="Васильев Игорь Олегович"),
                line("3", "77010000O3", "1200,00", "12,00"),
            ]
        )
    )
    assert result.ok, result.problems
    return {r.line: r for r in RegistryRow.objects.filter(registry=result.registry)}


def test_the_queue_lists_the_unmatched_rows(queue):
    assert [r.line for r in unmatched_rows()] == [2, 3]
    assert [r.line for r in unmatched_rows(registry=queue[1].registry_id)] == [2, 3]
    assert list(unmatched_rows(registry=queue[1].registry_id + 1)) == []


def test_assigning_an_account_posts_one_payment(queue, accounts):
    staff = UserFactory(email="billing@example.com", is_staff=True)
    account = accounts[2]
    row = queue[3]
    entry = row_assign(row=row, account=account, user=staff, note="typo: O for 0")
    assert entry.kind == EntryKind.PAYMENT
    assert (entry.account, entry.amount, entry.external_id) == (account, Decimal("-1200.00"), row.external_id)
    assert entry.detail["account_as_sent"] == "77010000O3"
    assert entry.detail["assigned_by"] == staff.pk
    assert entry.detail["note"] == "typo: O for 0"
    row.refresh_from_db()
    assert (row.status, row.account, row.entry, row.resolved_by) == (
        RowStatus.ASSIGNED,
        account,
        entry,
        staff,
    )
    assert row.resolved_at is not None
    assert account_balance(account) == Decimal("-1200.00")
    assert [r.line for r in unmatched_rows()] == [2]


def test_assigning_twice_is_refused_and_posts_nothing_more(queue, accounts):
    row = queue[3]
    row_assign(row=row, account=accounts[2])
    stale = RegistryRow.objects.get(pk=row.pk)
    stale.status = RowStatus.UNMATCHED  # a stale copy from before the first assignment
    with pytest.raises(RowResolveError, match="is not waiting for an account: it is assigned by staff"):
        row_assign(row=stale, account=accounts[1])
    assert LedgerEntry.objects.filter(external_id=row.external_id).count() == 1
    assert account_balance(accounts[1]) == Decimal("0.00")


def test_a_matched_row_cannot_be_assigned(queue, accounts):
    with pytest.raises(RowResolveError, match="it is matched"):
        row_assign(row=queue[1], account=accounts[1])
    assert LedgerEntry.objects.count() == 1


def test_the_refusals_are_in_russian_too(queue, accounts):
    row_assign(row=queue[3], account=accounts[2])
    with translation.override("ru"), pytest.raises(RowResolveError) as caught:
        row_assign(row=queue[3], account=accounts[1])
    assert str(caught.value) == (
        f"Строка 3 реестра №{queue[3].registry_id} не ждёт назначения лицевого счёта: "
        "её статус — «назначена сотрудником»."
    )


def test_rejecting_needs_a_reason_and_is_final(queue, accounts):
    row = queue[2]
    with pytest.raises(RowResolveError, match="Give the reason"):
        row_reject(row=row, reason="  ")
    row_reject(row=row, reason="Нет такого лицевого счёта")
    row.refresh_from_db()
    assert (row.status, row.resolution_note, row.entry) == (
        RowStatus.REJECTED,
        "Нет такого лицевого счёта",
        None,
    )
    with pytest.raises(RowResolveError, match="it is rejected"):
        row_assign(row=row, account=accounts[0])
    with pytest.raises(RowResolveError):
        row_reject(row=row, reason="again")
    assert not LedgerEntry.objects.filter(external_id=row.external_id).exists()


def test_matching_again_posts_rows_whose_account_now_exists(queue):
    assert rows_rematch(rows=unmatched_rows()) == 0
    opened = AccountFactory(number="7701000077")
    assert rows_rematch(rows=unmatched_rows()) == 1
    row = RegistryRow.objects.get(pk=queue[2].pk)
    assert (row.status, row.account) == (RowStatus.ASSIGNED, opened)
    assert account_balance(opened) == Decimal("-850.00")
    assert rows_rematch(rows=RegistryRow.objects.all()) == 0  # nothing twice
