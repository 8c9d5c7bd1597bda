"""Reference data kept as versions from a date, beyond tariffs, norms and the window: the payee's
bank details (a bill prints those of its bill date, and a closed month's bills keep theirs)."""

from __future__ import annotations

import importlib
from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.utils import timezone, translation

from meterdesk.backoffice.reference_services import (
    Change,
    ReferenceError,
    bank_version_add,
    office_version_add,
)
from meterdesk.backoffice.roles import BILLING
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing.models import BillingRun, RunStatus
from meterdesk.documents.selectors import bill_utility
from meterdesk.testing import moscow
from meterdesk.utility.models import BankDetailsVersion
from meterdesk.utility.selectors import bank_details_get, utility_get

pytestmark = pytest.mark.django_db

BANK_URL = "/office/reference/edit/bank/"
NEW = {
    "bank_name": "ПАО Банк Новый",
    "bic": "044525225",
    "settlement_account": "40702810938000000001",
    "correspondent_account": "30101810400000000225",
}


@pytest.fixture
def billing_user(office_world):
    utility = utility_get()
    utility.bank_name, utility.bic = "АО Старый Банк", "044525999"
    utility.settlement_account, utility.correspondent_account = "40702810600000012345", "30101810000000000999"
    utility.save()
    return staff_of(BILLING)


def _closed(period: date) -> BillingRun:
    return BillingRun.objects.create(
        period=period,
        rules_profile="ru-354-current",
        status=RunStatus.DONE,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        chunk_size=10,
    )


def test_new_bank_details_from_a_month_are_printed_on_the_bills_issued_from_it(billing_user):
    client = client_of(billing_user)
    assert client.get(BANK_URL).status_code == 200
    answer = client.post(BANK_URL, {**NEW, "valid_from": "2027-02-01", "reason": "Смена банка"})
    assert answer.status_code == 302
    # The bill of January is issued on 1 February: the new details; December's keeps the old.
    assert bill_utility(date(2027, 1, 1)).settlement_account == NEW["settlement_account"]
    assert bill_utility(date(2027, 1, 1)).bank_name == NEW["bank_name"]
    assert bill_utility(date(2026, 12, 1)).settlement_account == "40702810600000012345"
    assert utility_get().settlement_account == "40702810600000012345"  # the settings row untouched
    entry = LogEntry.objects.get(content_type__model="bankdetailsversion")
    assert entry.actor == billing_user and entry.additional_data["reason"] == "Смена банка"
    assert entry.changes_dict["bank_name"] == ["АО Старый Банк", NEW["bank_name"]]
    page = client.get("/office/reference/").content.decode()
    assert NEW["bank_name"] in page and "01.02.2027" in page and "Смена банка" in page


def test_a_closed_months_bills_keep_their_details(billing_user):
    _closed(date(2027, 1, 1))
    client = client_of(billing_user)
    assert 'data-testid="closed-until"' in client.get(BANK_URL).content.decode()
    answer = client.post(BANK_URL, {**NEW, "valid_from": "2027-02-01", "reason": "Смена банка"}, follow=True)
    assert answer.status_code == 200
    # January is closed and its bill date is 1 February: its bills keep the old details …
    assert bill_utility(date(2027, 1, 1)).settlement_account == "40702810600000012345"
    # … the first open month's bills print the new ones.
    assert bill_utility(date(2027, 2, 1)).settlement_account == NEW["settlement_account"]
    entry = LogEntry.objects.get(content_type__model="bankdetailsversion")
    assert entry.additional_data["closed_month"] == "2027-01-01"
    assert len(list(answer.context["messages"])) == 2  # saved, and what the closed month keeps


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({**NEW, "bic": "04452522"}, "BIC"),
        ({**NEW, "settlement_account": "4070281093800000000x"}, "20"),
        ({**NEW, "valid_from": "2027-02-15"}, "first day"),
        ({**NEW, "reason": " "}, "why"),
    ],
)
def test_bad_bank_details_are_refused_and_change_nothing(billing_user, values, message):
    data = {"valid_from": "2027-02-01", "reason": "Смена банка", **values}
    with translation.override("en"), pytest.raises(ReferenceError, match=message):
        bank_version_add(
            user=billing_user,
            details={k: v for k, v in data.items() if k in NEW},
            change=Change(date.fromisoformat(data["valid_from"]), data["reason"]),
        )
    answer = client_of(billing_user).post(BANK_URL, data)
    assert answer.status_code == 422 and not BankDetailsVersion.objects.exists()


def test_a_date_taken_is_refused(billing_user):
    bank_version_add(user=billing_user, details=NEW, change=Change(date(2027, 2, 1), "Смена банка"))
    with translation.override("en"), pytest.raises(ReferenceError, match="exists already"):
        bank_version_add(user=billing_user, details=NEW, change=Change(date(2027, 2, 1), "ещё раз"))
    assert BankDetailsVersion.objects.count() == 1


def test_the_migration_carries_todays_details_over_as_the_first_version(billing_user):
    migration = importlib.import_module("meterdesk.utility.migrations.0006_bank_details_version")
    migration.carry_over(apps, None)
    first = BankDetailsVersion.objects.get()
    assert first.valid_from == date(2000, 1, 1) and first.bank_name == "АО Старый Банк"
    utility = utility_get()
    utility.bank_name = "changed in the admin"
    utility.save()
    assert bank_details_get(date(2020, 5, 1))["bank_name"] == "АО Старый Банк"


# Offices: a move from a day, with the history kept; the phone line names the office of today.

OFFICE_VALUES = {
    "name": "Офис на Тверской",
    "address": "ул. Тверская, д. 7",
    "latitude": "55.760000",
    "longitude": "37.610000",
    "hours_ru": "с девяти до восемнадцати",
    "hours_en": "nine to six",
    "active": "on",
}


@pytest.fixture
def office(office_world):
    from meterdesk.phone.models import Office

    return Office.objects.create(
        name="Офис на Ленина",
        address="ул. Ленина, д. 1",
        latitude="55.750000",
        longitude="37.610000",
        hours_ru="с девяти до семнадцати",
        hours_en="nine to five",
    )


def test_an_office_moves_from_a_day_and_its_history_is_kept(office):
    from unittest import mock

    from meterdesk.phone.backend import nearest_office
    from meterdesk.phone.models import Office, OfficeVersion
    from meterdesk.phone.offices import offices_on

    user = staff_of(BILLING)
    client = client_of(user)
    assert client.get(f"/office/reference/edit/office/{office.pk}/").status_code == 200
    assert office.name in client.get("/office/reference/edit/").content.decode()
    answer = client.post(
        f"/office/reference/edit/office/{office.pk}/",
        {**OFFICE_VALUES, "valid_from": "2027-03-15", "reason": "Переезд офиса"},
    )
    assert answer.status_code == 302
    assert Office.objects.get(pk=office.pk).address == "ул. Ленина, д. 1"  # the row is not edited
    assert offices_on(date(2027, 3, 14))[0].address == "ул. Ленина, д. 1"
    assert offices_on(date(2027, 3, 15))[0].address == "ул. Тверская, д. 7"
    before = moscow(2027, 3, 14, 12)
    after = moscow(2027, 3, 15, 12)
    with mock.patch("django.utils.timezone.now", return_value=before):
        found = nearest_office(None)
        assert found is not None and found.name == "Офис на Ленина"
    with mock.patch("django.utils.timezone.now", return_value=after):
        found = nearest_office(None)
        assert found is not None and found.name == "Офис на Тверской"
    # Closed from a later day: the line no longer names it.
    office_closed = {**OFFICE_VALUES, "active": False, "latitude": Decimal(55), "longitude": Decimal(37)}
    office_version_add(
        user=user,
        office=office,
        values=office_closed,
        change=Change(date(2027, 6, 1), "Закрытие"),
    )
    june = moscow(2027, 6, 2, 12)
    with mock.patch("django.utils.timezone.now", return_value=june):
        assert nearest_office(None) is None
    assert OfficeVersion.objects.filter(office=office).count() == 2
    entry = LogEntry.objects.filter(content_type__model="officeversion").order_by("pk").first()
    assert entry.changes_dict["address"] == ["ул. Ленина, д. 1", "ул. Тверская, д. 7"]
    assert entry.additional_data["reason"] == "Переезд офиса"
    page = client.get("/office/reference/").content.decode()
    assert "15.03.2027" in page and "ул. Тверская, д. 7" in page and "Переезд офиса" in page


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({**OFFICE_VALUES, "address": " "}, "address"),
        ({**OFFICE_VALUES, "latitude": "95"}, "latitude"),
        ({**OFFICE_VALUES, "reason": ""}, "why"),
    ],
)
def test_bad_office_values_are_refused_and_change_nothing(office, values, message):
    from meterdesk.phone.models import OfficeVersion

    client = client_of(staff_of(BILLING))
    data = {"valid_from": "2027-03-15", "reason": "Переезд", **values}
    answer = client.post(f"/office/reference/edit/office/{office.pk}/", data)
    assert answer.status_code == 422 and not OfficeVersion.objects.exists()
    with translation.override("en"), pytest.raises(ReferenceError, match=message):
        office_version_add(
            user=staff_of(BILLING, "second@office.example.com"),
            office=office,
            values={
                **data,
                "latitude": Decimal(data["latitude"]),
                "longitude": Decimal(data["longitude"]),
                "active": True,
            },
            change=Change(date(2027, 3, 15), data["reason"]),
        )


def test_the_migration_carries_each_office_over_as_its_first_version(office):
    from meterdesk.phone.models import OfficeVersion

    migration = importlib.import_module("meterdesk.phone.migrations.0002_office_version")
    migration.carry_over(apps, None)
    first = OfficeVersion.objects.get(office=office)
    assert (first.valid_from, first.address, first.active) == (date(2000, 1, 1), "ул. Ленина, д. 1", True)


# The rules profile from a month: the close of month M records the profile valid for M.

PROFILE_URL = "/office/reference/edit/profile/"


def test_a_new_rules_profile_from_a_month_bills_that_month_on(billing_user):
    from meterdesk.billing.close import run_prepare
    from meterdesk.utility.models import RulesProfileVersion
    from meterdesk.utility.selectors import rules_profile_get

    client = client_of(billing_user)
    assert client.get(PROFILE_URL).status_code == 200
    bad = client.post(PROFILE_URL, {"code": "ru-999", "valid_from": "2027-03-01", "reason": "Закон"})
    assert bad.status_code == 422 and not RulesProfileVersion.objects.exists()
    done = client.post(PROFILE_URL, {"code": "ru-354-2012", "valid_from": "2027-03-01", "reason": "Закон"})
    assert done.status_code == 302
    assert rules_profile_get(None, date(2027, 2, 1)) == utility_get().rules_profile == "ru-354-current"
    assert (
        rules_profile_get(None, date(2027, 3, 1))
        == rules_profile_get(None, date(2027, 9, 1))
        == "ru-354-2012"
    )
    entry = LogEntry.objects.get(content_type__model="rulesprofileversion")
    assert entry.changes_dict["code"] == ["ru-354-current", "ru-354-2012"] and entry.actor == billing_user
    assert "ru-354-2012" in client.get("/office/reference/").content.decode()
    # The close of a month records the profile valid for it, whatever today's.
    run = run_prepare(date(2027, 3, 1), force=True, reason="test", forced_by="test")
    assert run.rules_profile == "ru-354-2012"


def test_a_profile_from_a_closed_month_needs_the_billing_role_and_a_confirmation(billing_user):
    from django.contrib.auth.models import Permission

    from meterdesk.backoffice.reference_services import ClosedMonth, profile_version_add
    from meterdesk.backoffice.roles import SUPERVISOR
    from meterdesk.utility.models import RulesProfileVersion

    _closed(date(2027, 1, 1))
    client = client_of(billing_user)
    data = {"code": "ru-354-2012", "valid_from": "2027-01-01", "reason": "Закон"}
    warned = client.post(PROFILE_URL, data)
    assert warned.status_code == 422 and 'data-testid="closed-warning"' in warned.content.decode()
    assert not RulesProfileVersion.objects.exists()
    editor = staff_of(SUPERVISOR)
    editor.user_permissions.add(Permission.objects.get(codename="reference_edit"))
    with pytest.raises(ClosedMonth):
        profile_version_add(
            user=editor, code="ru-354-2012", change=Change(date(2027, 1, 1), "Закон", confirm_closed=True)
        )
    assert not RulesProfileVersion.objects.exists()
    assert client.post(PROFILE_URL, {**data, "confirm_closed": "on"}).status_code == 302
    entry = LogEntry.objects.get(content_type__model="rulesprofileversion")
    assert entry.additional_data["closed_month"] == "2027-01-01"
    # From the first open month no confirmation is asked.
    assert (
        client.post(PROFILE_URL, {**data, "valid_from": "2027-02-01", "code": "ru-354-current"}).status_code
        == 302
    )
