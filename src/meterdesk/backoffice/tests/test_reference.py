"""Reference data in the back office: a new version of a tariff or of the norms from a date, never
an edit of history; billing reads the version of its month; a closed month needs the billing role,
a confirmation and a reason; every change is recorded with who and why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission

from meterdesk.backoffice.reference_services import (
    Change,
    ClosedMonth,
    ReferenceError,
    norm_version_add,
    tariff_version_add,
)
from meterdesk.backoffice.roles import BILLING, SUPERVISOR
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing.models import BillingRun, RunStatus
from meterdesk.billing.pricing import pricing_get
from meterdesk.tariffs.models import Norm, Tariff
from meterdesk.tariffs.selectors import tariff_in_force
from meterdesk.testing import make_tariff

pytestmark = pytest.mark.django_db

TARIFF_URL = "/office/reference/edit/tariff/gas_stove/two_zone/"


def _closed(period: date) -> BillingRun:
    from django.utils import timezone

    return BillingRun.objects.create(
        period=period,
        rules_profile="ru-354-current",
        status=RunStatus.DONE,
        started_at=timezone.now(),
        chunk_size=10,
    )


@pytest.fixture
def billing_user(office_world):
    return staff_of(BILLING)


def _post(client, url, **values):
    data = {"reason": "Приказ РЭК № 1", **values}
    return client.post(url, data)


def test_a_new_price_is_a_new_version_and_billing_reads_the_version_of_its_month(billing_user):
    client = client_of(billing_user)
    answer = _post(client, TARIFF_URL, price_1_1="10.10", price_2_1="4.50", valid_from="2027-01-01")
    assert answer.status_code == 302
    old, new = Tariff.objects.filter(category="gas_stove", kind="two_zone").order_by("valid_from")
    assert old.valid_from == date(2024, 1, 1) and old.valid_to == date(2026, 12, 31)  # ended, not changed
    assert sorted(p.price for p in old.prices.all()) == [Decimal("4.08"), Decimal("9.45")]
    assert new.valid_to is None and sorted(p.price for p in new.prices.all()) == [
        Decimal("4.50"),
        Decimal("10.10"),
    ]
    pricing = pricing_get("moscow")
    assert pricing.tariff("gas_stove", 2, date(2026, 12, 1)).prices[(1, 1)] == Decimal("9.45")
    assert pricing.tariff("gas_stove", 2, date(2027, 1, 1)).prices[(1, 1)] == Decimal("10.10")
    assert tariff_in_force(region="moscow", category="gas_stove", zones=2, on=date(2027, 2, 3)).tariff == new
    entries = LogEntry.objects.filter(actor=billing_user).order_by("pk")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert entries[0].additional_data["reason"] == "Приказ РЭК № 1"
    assert entries[0].changes_dict["T1 band 1"] == ["9.45", "10.1"]
    assert entries[1].changes_dict["valid_to"] == [None, "2026-12-31"]
    page = client.get("/office/reference/").content.decode()
    assert "Приказ РЭК № 1" in page and "31.12.2026" in page


def test_a_version_between_two_ends_where_the_next_one_starts(billing_user):
    make_tariff(prices=("11.00", "5.00"), valid_from=date(2027, 7, 1))
    Tariff.objects.filter(valid_from=date(2024, 1, 1), kind="two_zone").update(valid_to=date(2027, 6, 30))
    made = tariff_version_add(
        user=billing_user,
        region="moscow",
        category="gas_stove",
        kind="two_zone",
        prices={(1, 1): Decimal("10"), (2, 1): Decimal("4.5")},
        change=Change(date(2027, 1, 1), "индексация"),
    )
    assert made.valid_to == date(2027, 6, 30)
    starts = list(
        Tariff.objects.filter(kind="two_zone").order_by("valid_from").values_list("valid_from", "valid_to")
    )
    assert starts == [
        (date(2024, 1, 1), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 6, 30)),
        (date(2027, 7, 1), None),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"valid_from": "2027-01-15"}, "первого числа месяца"),
        ({"valid_from": "2024-01-01"}, "уже есть"),
        ({"valid_from": "2027-01-01", "reason": " "}, "reason"),
        ({"valid_from": "2027-01-01", "price_2_1": "-1"}, "price_2_1"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(billing_user, values, message):
    data = {"price_1_1": "10.10", "price_2_1": "4.50", **values}
    answer = _post(client_of(billing_user), TARIFF_URL, **data)
    assert answer.status_code == 422
    form = answer.context["form"]
    assert message in form.errors or message in str(form.errors)  # a field's error, or the form's text
    assert Tariff.objects.filter(kind="two_zone").count() == 1
    assert Tariff.objects.get(kind="two_zone").valid_to is None
    assert not LogEntry.objects.exists()


def test_a_change_in_a_closed_month_warns_and_needs_a_confirmation(billing_user):
    _closed(date(2026, 10, 1))
    client = client_of(billing_user)
    warned = _post(client, TARIFF_URL, price_1_1="10.10", price_2_1="4.50", valid_from="2026-10-01")
    assert warned.status_code == 422
    page = warned.content.decode()
    assert 'data-testid="closed-warning"' in page and "уже закрыт" in page
    assert Tariff.objects.filter(kind="two_zone").count() == 1
    confirmed = _post(
        client, TARIFF_URL, price_1_1="10.10", price_2_1="4.50", valid_from="2026-10-01", confirm_closed="on"
    )
    assert confirmed.status_code == 302
    entry = LogEntry.objects.filter(action=LogEntry.Action.CREATE).get()
    assert entry.additional_data["closed_month"] == "2026-10-01"
    # The open month after it needs no confirmation.
    assert (
        _post(client, TARIFF_URL, price_1_1="10.20", price_2_1="4.60", valid_from="2026-11-01").status_code
        == 302
    )


def test_a_closed_month_is_refused_to_staff_without_the_billing_role(office_world):
    _closed(date(2026, 10, 1))
    editor = staff_of(SUPERVISOR)  # may see the reference data, not change it
    editor.user_permissions.add(Permission.objects.get(codename="reference_edit"))
    with pytest.raises(ClosedMonth, match="только роль «расчёты»"):
        tariff_version_add(
            user=editor,
            region="moscow",
            category="gas_stove",
            kind="two_zone",
            prices={(1, 1): Decimal("10"), (2, 1): Decimal("4.5")},
            change=Change(date(2026, 9, 1), "ошибка", confirm_closed=True),
        )
    assert Tariff.objects.filter(kind="two_zone").count() == 1
    assert client_of(staff_of(SUPERVISOR, "s2@office.example.com")).get(TARIFF_URL).status_code == 403


def test_a_new_table_of_norms_from_a_date(billing_user):
    for rooms, residents, value in ((1, 1, "150"), (1, 2, "93")):
        Norm.objects.create(
            category="gas_stove",
            rooms=rooms,
            residents=residents,
            kwh_per_person=Decimal(value),
            valid_from=date(2024, 1, 1),
        )
    client = client_of(billing_user)
    assert client.get("/office/reference/edit/").status_code == 200
    form = client.get("/office/reference/edit/norms/gas_stove/")
    assert form.status_code == 200 and "150" in form.content.decode()
    answer = _post(
        client,
        "/office/reference/edit/norms/gas_stove/",
        norm_1_1="160",
        norm_1_2="95.5",
        valid_from="2027-01-01",
    )
    assert answer.status_code == 302
    pricing = pricing_get("moscow")
    assert pricing.norm("gas_stove", 1, 2, date(2026, 12, 1)) == Decimal("93")
    assert pricing.norm("gas_stove", 1, 2, date(2027, 1, 1)) == Decimal("95.5")
    assert Norm.objects.filter(valid_to=date(2026, 12, 31)).count() == 2
    with pytest.raises(ReferenceError, match="для каждого числа комнат"):
        norm_version_add(
            user=billing_user,
            region="moscow",
            category="gas_stove",
            values={(1, 1): Decimal("1")},
            change=Change(date(2027, 2, 1), "x"),
        )


def test_a_new_reading_window_from_a_month_is_read_for_that_month_on(billing_user, settings):
    from meterdesk.utility.models import ReadingWindowVersion
    from meterdesk.utility.selectors import reading_window_get, utility_get

    settings.METERDESK_READING_WINDOW = ""  # the data's window, not the test setting's
    utility = utility_get()
    before = (utility.window_start_day, utility.window_end_day)
    client = client_of(billing_user)
    assert client.get("/office/reference/edit/window/").status_code == 200
    bad = _post(
        client, "/office/reference/edit/window/", start_day="20", end_day="10", valid_from="2027-03-01"
    )
    assert bad.status_code == 422 and not ReadingWindowVersion.objects.exists()
    done = _post(
        client, "/office/reference/edit/window/", start_day="10", end_day="25", valid_from="2027-03-01"
    )
    assert done.status_code == 302
    march = reading_window_get(None, date(2027, 3, 1))
    assert (march.start_day, march.end_day) == (10, 25)
    assert (
        reading_window_get(None, date(2027, 5, 1)).start_day,
        reading_window_get(utility, date(2027, 2, 1)).end_day,
    ) == (
        10,
        before[1],
    )
    entry = LogEntry.objects.get(content_type__model="readingwindowversion")
    assert entry.changes_dict["start_day"] == [str(before[0]), "10"] and entry.actor == billing_user
    assert "10–25" in client.get("/office/reference/").content.decode()
