"""Tariff selectors: the tariff in force on a date, and its prices and bands as plain data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.customers.models import PremisesCategory
from meterdesk.tariffs.models import TariffKind
from meterdesk.tariffs.selectors import NoTariffError, tariff_in_force, tariff_spec, tariffs_current
from meterdesk.testing import make_tariff

D = Decimal
pytestmark = pytest.mark.django_db


def in_force(on, zones=2, category=PremisesCategory.GAS_STOVE, region="moscow"):
    return tariff_in_force(region=region, category=category, zones=zones, on=on)


@pytest.fixture
def moscow_two_zone():
    """Moscow day/night, urban gas stoves: 8.47/3.43 from 2024-07-01, 9.45/4.08 from 2025-07-01."""
    old = make_tariff(prices=("8.47", "3.43"), valid_from=date(2024, 7, 1), valid_to=date(2025, 6, 30))
    new = make_tariff(prices=("9.45", "4.08"), valid_from=date(2025, 7, 1))
    return old, new


class TestTariffInForce:
    def test_the_change_on_the_first_of_july(self, moscow_two_zone):
        old, new = moscow_two_zone
        assert in_force(date(2024, 7, 1)).tariff == old
        assert in_force(date(2025, 6, 30)).tariff == old  # valid_to is inclusive
        assert in_force(date(2025, 7, 1)).tariff == new
        assert in_force(date(2030, 1, 1)).tariff == new
        assert in_force(date(2025, 6, 15)).spec.prices == {(1, 1): D("8.47"), (2, 1): D("3.43")}
        assert in_force(date(2025, 7, 15)).spec.prices == {(1, 1): D("9.45"), (2, 1): D("4.08")}

    def test_nothing_before_the_first_tariff(self, moscow_two_zone):
        with pytest.raises(NoTariffError):
            in_force(date(2024, 6, 30))

    def test_gap_after_a_closed_tariff(self):
        make_tariff(prices=("8.47", "3.43"), valid_from=date(2024, 7, 1), valid_to=date(2025, 6, 30))
        with pytest.raises(NoTariffError):
            in_force(date(2025, 7, 1))

    def test_the_latest_start_wins_when_open_tariffs_overlap(self):
        make_tariff(prices=("8.47", "3.43"), valid_from=date(2024, 7, 1))
        new = make_tariff(prices=("9.45", "4.08"), valid_from=date(2025, 7, 1))
        assert in_force(date(2025, 8, 1)).tariff == new

    def test_category_kind_and_region_must_match(self, moscow_two_zone):
        make_tariff(category=PremisesCategory.ELECTRIC_STOVE, prices=("7.16",), valid_from=date(2025, 7, 1))
        with pytest.raises(NoTariffError):
            in_force(date(2025, 8, 1), category=PremisesCategory.ELECTRIC_STOVE)  # no two-zone one
        assert in_force(date(2025, 8, 1), zones=1, category=PremisesCategory.ELECTRIC_STOVE).spec.prices == {
            (1, 1): D("7.16")
        }
        with pytest.raises(NoTariffError):
            in_force(date(2025, 8, 1), zones=3)
        with pytest.raises(NoTariffError):
            in_force(date(2025, 8, 1), region="moscow_region")
        with pytest.raises(NoTariffError):
            in_force(date(2025, 8, 1), category=PremisesCategory.RURAL)

    def test_no_tariff_error_is_a_lookup_error(self):
        with pytest.raises(LookupError):
            in_force(date(2025, 8, 1))


class TestTariffSpec:
    def test_plain_three_zone(self):
        tariff = make_tariff(prices=("11.24", "4.08", "7.87"), valid_from=date(2025, 7, 1))
        assert tariff.kind == TariffKind.THREE_ZONE
        spec = tariff_spec(tariff)
        assert spec.zones == 3
        assert spec.band_limits == (None,)
        assert not spec.has_bands
        assert spec.prices == {(1, 1): D("11.24"), (2, 1): D("4.08"), (3, 1): D("7.87")}

    def test_bands(self):
        tariff = make_tariff(
            category=PremisesCategory.RURAL,
            prices=("0", "0"),
            bands=(D(150), D(600), None),
            band_prices={
                (1, 1): "6.00",
                (2, 1): "3.00",
                (1, 2): "7.50",
                (2, 2): "3.50",
                (1, 3): "10.00",
                (2, 3): "5.00",
            },
            region="moscow_region",
        )
        found = tariff_in_force(
            region="moscow_region", category=PremisesCategory.RURAL, zones=2, on=date(2025, 1, 1)
        )
        assert found.tariff == tariff
        spec = found.spec
        assert spec.has_bands
        assert spec.band_limits == (D(150), D(600), None)
        assert spec.price(1, 2) == D("7.50")
        assert spec.price(2, 3) == D("5.00")
        assert len(spec.prices) == 6


def test_tariffs_current(moscow_two_zone):
    _, new = moscow_two_zone
    single = make_tariff(prices=("7.87",), valid_from=date(2025, 7, 1))
    electric = make_tariff(
        category=PremisesCategory.ELECTRIC_STOVE, prices=("7.16",), valid_from=date(2025, 7, 1)
    )
    make_tariff(prices=("1.00",), valid_from=date(2025, 7, 1), region="elsewhere")
    current = tariffs_current(region="moscow", on=date(2025, 7, 1))
    assert set(current) == {new, single, electric}
    assert [t.category for t in current] == sorted(t.category for t in current)
    assert tariffs_current(region="moscow", on=date(2024, 1, 1)) == []
