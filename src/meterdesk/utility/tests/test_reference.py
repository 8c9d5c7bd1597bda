"""The reference data (utility settings, tariffs, norms) is kept in memory per process and read
again as soon as it changes, however it changes: the stamp is moved by database triggers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from meterdesk.billing.pricing import MissingPrice, pricing_get
from meterdesk.customers.models import PremisesCategory
from meterdesk.tariffs.models import Norm, TariffPrice
from meterdesk.testing import make_tariff
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import reference_forget, reference_get, reference_stamp, utility_get

pytestmark = pytest.mark.django_db

GAS = PremisesCategory.GAS_STOVE
ON = date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _fresh():
    reference_forget()
    yield
    reference_forget()


def _price(zone: int = 1) -> Decimal:
    return pricing_get("moscow").tariff(GAS, 2, ON).prices[(zone, 1)]


def test_unchanged_data_costs_one_read_of_the_stamp():
    make_tariff(prices=("9.45", "4.08"))
    utility_get()
    _price()
    with CaptureQueriesContext(connection) as ctx:
        assert utility_get().time_zone == "Europe/Moscow"
        assert _price() == Decimal("9.45")
    assert [q["sql"] for q in ctx.captured_queries] == [
        "SELECT stamp FROM utility_referencestamp WHERE name = 'reference'"
    ] * 2


@pytest.mark.parametrize(
    "table",
    [
        "utility_utilitysettings",
        "tariffs_tariff",
        "tariffs_tariffprice",
        "tariffs_tariffband",
        "tariffs_norm",
    ],
)
def test_every_change_of_a_reference_table_moves_the_stamp(table):
    make_tariff(prices=("9.45",), bands=(Decimal(150), None), band_prices={(1, 1): "9", (1, 2): "10"})
    Norm.objects.create(
        category=GAS, rooms=1, residents=1, kwh_per_person=Decimal(90), valid_from=date(2024, 1, 1)
    )
    utility_get()
    before = reference_stamp()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id")  # noqa: S608 - a name from the list above
    assert reference_stamp() not in (None, before)


def test_a_change_without_signals_is_seen_at_once():
    make_tariff(prices=("9.45", "4.08"))
    assert _price() == Decimal("9.45")
    assert utility_get().window_start_day == 15
    TariffPrice.objects.filter(zone=1).update(price=Decimal("10.10"))  # no save(), no signal
    UtilitySettings.objects.update(window_start_day=10)
    assert _price() == Decimal("10.10")
    assert utility_get().window_start_day == 10


def test_a_change_in_plain_sql_is_seen_at_once():
    make_tariff(prices=("9.45", "4.08"))
    assert _price(2) == Decimal("4.08")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tariffs_tariffprice SET price = 5.00 WHERE zone = 2")
    assert _price(2) == Decimal("5.00")


def test_a_new_tariff_and_a_deleted_one_are_seen_at_once():
    with pytest.raises(MissingPrice):
        _price()
    tariff = make_tariff(prices=("9.45", "4.08"))
    assert _price() == Decimal("9.45")
    tariff.delete()
    with pytest.raises(MissingPrice):
        _price()


def test_a_new_norm_is_seen_at_once():
    pricing_get("moscow")
    with pytest.raises(MissingPrice):
        pricing_get("moscow").norm(GAS, 1, 1, ON)
    Norm.objects.create(
        category=GAS, rooms=1, residents=1, kwh_per_person=Decimal(90), valid_from=date(2024, 1, 1)
    )
    assert pricing_get("moscow").norm(GAS, 1, 1, ON) == Decimal(90)


def test_a_rolled_back_change_is_forgotten():
    make_tariff(prices=("9.45", "4.08"))
    assert _price() == Decimal("9.45")
    with pytest.raises(RuntimeError), transaction.atomic():
        TariffPrice.objects.filter(zone=1).update(price=Decimal("99.00"))
        assert _price() == Decimal("99.00")  # the transaction sees its own change
        raise RuntimeError("roll back")
    assert _price() == Decimal("9.45")


def test_the_settings_handed_out_are_copies():
    first = utility_get()
    first.name = "changed, not saved"
    assert utility_get().name != "changed, not saved"
    first.save()
    assert utility_get().name == "changed, not saved"


def test_the_same_copy_serves_while_nothing_changes():
    make_tariff(prices=("9.45", "4.08"))
    utility_get()
    assert reference_get() is reference_get()
    assert pricing_get("moscow") is pricing_get("moscow")
    UtilitySettings.objects.update(phone="+7 495 000-00-00")
    assert reference_get().utility.phone == "+7 495 000-00-00"


def test_a_stamp_read_by_the_caller_saves_the_read_and_a_new_one_reloads():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from meterdesk.utility.selectors import reference_get, reference_peek, reference_stamp

    reference_get()  # the settings row is created on the first use
    first = reference_get()
    stamp = reference_stamp()
    assert first.stamp == stamp is not None
    with CaptureQueriesContext(connection) as ctx:
        assert reference_get(stamp=stamp) is first
        assert reference_peek() is first
    assert ctx.captured_queries == []
    # A stamp the process has not seen: everything is read again.
    assert reference_get(stamp=(stamp or 0) + 1000) is not first
