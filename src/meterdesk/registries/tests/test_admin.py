"""Working the unmatched queue in the admin: the list, its filters, its actions, the assign form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.registries.models import Registry, RegistryRow, RowStatus
from meterdesk.registries.tests.conftest import line, sber_file
from meterdesk.testing import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:registries_registryrow_changelist"


@pytest.fixture
def staff_client(client):
    user = UserFactory(email="billing@example.com", is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def rows(load, accounts):
    result = load(
        sber_file(
            [
                line("1", "7701000001"),
                line("2", "7701000077", "850,00", "8,50", payer="Васильев Игорь Олегович"),
                line("3", "77010000O3", "1200,00", "12,00", payer="Смирнов Павел"),
            ]
        ),
        name="sber-20251120.txt",
    )
    return {r.line: r for r in RegistryRow.objects.filter(registry=result.registry)}


def test_the_queue_list_and_its_filters(staff_client, rows):
    url = reverse(CHANGELIST)
    page = staff_client.get(url, {"status__exact": "unmatched"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Васильев Игорь Олегович" in text and "Смирнов Павел" in text
    assert "Иванова Анна Сергеевна" not in text  # matched: filtered out
    assert page.context["cl"].result_count == 2
    by_reason = staff_client.get(url, {"reason__exact": "malformed_account"})
    assert by_reason.context["cl"].result_count == 1
    registries = staff_client.get(reverse("admin:registries_registry_changelist"))
    assert registries.status_code == 200
    assert "sber-20251120.txt" in registries.content.decode()
    link = f"{url}?registry__id__exact={rows[1].registry_id}"
    assert link in registries.content.decode()  # the registry's rows, one click away
    assert staff_client.get(link).context["cl"].result_count == 3


def test_the_row_page_is_read_only_with_links_to_resolve(staff_client, rows):
    page = staff_client.get(reverse("admin:registries_registryrow_change", args=[rows[2].pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert reverse("admin:registries_registryrow_assign", args=[rows[2].pk]) in text
    assert 'name="_save"' not in text
    assert staff_client.get(reverse("admin:registries_registryrow_add")).status_code == 403


def test_assign_an_account_through_the_form(staff_client, rows, accounts):
    row = rows[3]
    url = reverse("admin:registries_registryrow_assign", args=[row.pk])
    form = staff_client.get(url)
    assert form.status_code == 200
    assert "77010000O3" in form.content.decode()
    wrong = staff_client.post(url, {"account_number": "7709999999"})
    assert wrong.status_code == 200
    assert wrong.context["form"].errors["account_number"]
    posted = staff_client.post(url, {"account_number": "7701000003", "note": "O for 0"})
    assert posted.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.account, row.resolved_by) == (RowStatus.ASSIGNED, accounts[2], staff_client.user)
    assert account_balance(accounts[2]) == Decimal("-1200.00")
    again = staff_client.post(url, {"account_number": "7701000002"}, follow=True)
    assert "already resolved" in again.content.decode()
    assert LedgerEntry.objects.filter(external_id=row.external_id).count() == 1
    assert account_balance(accounts[1]) == Decimal("0.00")


def test_the_assign_action_opens_the_form_for_one_row(staff_client, rows):
    url = reverse(CHANGELIST)
    one = staff_client.post(url, {"action": "assign_account", "_selected_action": [rows[2].pk]})
    assert one.status_code == 302
    assert one["Location"] == reverse("admin:registries_registryrow_assign", args=[rows[2].pk])
    two = staff_client.post(
        url, {"action": "assign_account", "_selected_action": [rows[2].pk, rows[3].pk]}, follow=True
    )
    assert "Select exactly one row" in two.content.decode()


def test_the_reject_action_asks_for_a_reason_then_rejects(staff_client, rows):
    url = reverse(CHANGELIST)
    selected = [rows[1].pk, rows[2].pk, rows[3].pk]  # the matched row 1 is left alone
    ask = staff_client.post(url, {"action": "reject_rows", "_selected_action": selected})
    assert ask.status_code == 200
    assert [r.pk for r in ask.context["rows"]] == [rows[2].pk, rows[3].pk]
    empty = staff_client.post(
        url, {"action": "reject_rows", "_selected_action": selected, "apply": "yes", "reason": " "}
    )
    assert empty.status_code == 200 and empty.context["form"].errors
    assert RegistryRow.objects.filter(status=RowStatus.REJECTED).count() == 0
    done = staff_client.post(
        url,
        {"action": "reject_rows", "_selected_action": selected, "apply": "yes", "reason": "счёт не найден"},
        follow=True,
    )
    assert done.status_code == 200
    assert "2 rows rejected." in done.content.decode()
    statuses = dict(RegistryRow.objects.values_list("line", "status"))
    assert statuses == {1: RowStatus.MATCHED, 2: RowStatus.REJECTED, 3: RowStatus.REJECTED}
    assert set(
        RegistryRow.objects.filter(status=RowStatus.REJECTED).values_list("resolution_note", flat=True)
    ) == {"счёт не найден"}
    assert LedgerEntry.objects.count() == 1


def test_the_rematch_action_posts_rows_whose_account_now_exists(staff_client, rows):
    opened = AccountFactory(number="7701000077")
    staff_client.post(
        reverse(CHANGELIST), {"action": "rematch_rows", "_selected_action": [rows[2].pk, rows[3].pk]}
    )
    assert account_balance(opened) == Decimal("-850.00")
    assert RegistryRow.objects.get(pk=rows[3].pk).status == RowStatus.UNMATCHED
    assert Registry.objects.count() == 1


def test_customers_cannot_reach_the_queue(client, rows):
    client.force_login(UserFactory(email="anna@example.com"))
    url = reverse("admin:registries_registryrow_assign", args=[rows[2].pk])
    assert client.post(url, {"account_number": "7701000001"}).status_code == 302  # to the admin login
    assert RegistryRow.objects.get(pk=rows[2].pk).status == RowStatus.UNMATCHED


def test_the_queue_speaks_russian(staff_client, rows):
    staff_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    page = staff_client.get(reverse("admin:registries_registryrow_assign", args=[rows[2].pk]))
    text = page.content.decode()
    assert "Назначить лицевой счёт" in text
    assert "Номер лицевого счёта из реестра" in text
    assert "неизвестный номер лицевого счёта" in text
    done = staff_client.post(
        reverse(CHANGELIST),
        {
            "action": "reject_rows",
            "_selected_action": [rows[2].pk, rows[3].pk],
            "apply": "yes",
            "reason": "нет счёта",
        },
        follow=True,
    )
    assert "2 строки отклонены." in done.content.decode()


@pytest.mark.parametrize(
    ("count", "text"), [(1, "1 строка"), (3, "3 строки"), (5, "5 строк"), (21, "21 строка")]
)
def test_russian_plural_forms(count, text):
    from django.utils import translation
    from django.utils.translation import ngettext

    with translation.override("ru"):
        message = ngettext("%(count)d row rejected.", "%(count)d rows rejected.", count) % {"count": count}
    assert message.startswith(text + " ")
