"""Pricing consumption: zones, volume bands, kopeck rounding (DOMAIN.md "Tariffs", "Money")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from meterdesk.domain.money import round_money, round_volume
from meterdesk.domain.tariffs import PricedLine, TariffSpec, price_volumes, split_into_bands, total_amount

D = Decimal
MOSCOW_TWO_ZONE = TariffSpec(zones=2, prices={(1, 1): D("9.45"), (2, 1): D("4.08")})
MOSCOW_THREE_ZONE = TariffSpec(zones=3, prices={(1, 1): D("11.24"), (2, 1): D("4.08"), (3, 1): D("7.87")})
BANDS = (D(150), D(600), None)
BANDED_SINGLE = TariffSpec(
    zones=1, prices={(1, 1): D("5.00"), (1, 2): D("6.50"), (1, 3): D("9.10")}, band_limits=BANDS
)
BANDED_TWO_ZONE = TariffSpec(
    zones=2,
    prices={
        (1, 1): D("6.00"),
        (2, 1): D("3.00"),
        (1, 2): D("7.50"),
        (2, 2): D("3.50"),
        (1, 3): D("10.00"),
        (2, 3): D("5.00"),
    },
    band_limits=BANDS,
)


def parts(lines):
    return [(line.zone, line.band, line.volume, line.price, line.amount) for line in lines]


class TestMoney:
    @pytest.mark.parametrize(
        ("value", "rounded"),
        [
            (D("0.945"), D("0.95")),  # half up, not to even
            (D("0.935"), D("0.94")),
            (D("0.9449"), D("0.94")),
            (D("2.005"), D("2.01")),
            (D("10"), D("10.00")),
        ],
    )
    def test_round_money_half_up(self, value, rounded):
        assert round_money(value) == rounded
        assert str(round_money(value)) == str(rounded)

    def test_round_volume(self):
        assert round_volume(D("1.0005")) == D("1.001")
        assert round_volume(D("1.00049")) == D("1.000")
        assert str(round_volume(D(7))) == "7.000"


class TestWithoutBands:
    def test_moscow_two_zone(self):
        lines = price_volumes(MOSCOW_TWO_ZONE, [D(200), D(100)])
        assert parts(lines) == [
            (1, 1, D(200), D("9.45"), D("1890.00")),
            (2, 1, D(100), D("4.08"), D("408.00")),
        ]
        assert total_amount(lines) == D("2298.00")

    def test_moscow_two_zone_odd_volumes(self):
        lines = price_volumes(MOSCOW_TWO_ZONE, [D(137), D(58)])
        # 137 × 9.45 = 1294.65; 58 × 4.08 = 236.64
        assert [line.amount for line in lines] == [D("1294.65"), D("236.64")]
        assert total_amount(lines) == D("1531.29")

    def test_each_line_is_rounded_half_up_to_the_kopeck(self):
        # 100.1 × 9.45 = 945.945 → 945.95 (half up; to-even would give 945.94)
        # 50.3 × 4.08 = 205.224 → 205.22
        lines = price_volumes(MOSCOW_TWO_ZONE, [D("100.1"), D("50.3")])
        assert [line.amount for line in lines] == [D("945.95"), D("205.22")]
        assert total_amount(lines) == D("1151.17")

    def test_total_is_the_sum_of_rounded_lines(self):
        # 0.1 × 9.45 = 0.945 → 0.95 and 0.1 × 4.08 = 0.408 → 0.41: 1.36, not round(1.353) = 1.35
        lines = price_volumes(MOSCOW_TWO_ZONE, [D("0.1"), D("0.1")])
        assert total_amount(lines) == D("1.36")

    def test_three_zone(self):
        lines = price_volumes(MOSCOW_THREE_ZONE, [D(50), D(120), D(80)])
        assert [line.amount for line in lines] == [D("562.00"), D("489.60"), D("629.60")]

    def test_zero_consumption_priced_at_zero(self):
        lines = price_volumes(MOSCOW_TWO_ZONE, [D(0), D(0)])
        assert [line.amount for line in lines] == [D("0.00"), D("0.00")]
        assert total_amount(lines) == D("0.00")

    def test_months_do_not_matter_without_bands(self):
        assert price_volumes(MOSCOW_TWO_ZONE, [D(200), D(100)], months=3) == price_volumes(
            MOSCOW_TWO_ZONE, [D(200), D(100)]
        )

    def test_wrong_number_of_volumes(self):
        with pytest.raises(ValueError):
            price_volumes(MOSCOW_TWO_ZONE, [D(1)])

    def test_total_amount_of_nothing(self):
        assert total_amount([]) == D("0.00")


class TestSpec:
    def test_last_band_must_be_open(self):
        with pytest.raises(ValueError):
            TariffSpec(zones=1, prices={(1, 1): D(1), (1, 2): D(2)}, band_limits=(D(150), D(600)))

    def test_every_zone_and_band_needs_a_price(self):
        with pytest.raises(ValueError):
            TariffSpec(zones=2, prices={(1, 1): D(1)})
        with pytest.raises(ValueError):
            TariffSpec(zones=1, prices={(1, 1): D(1)}, band_limits=(D(150), None))

    def test_has_bands(self):
        assert not MOSCOW_TWO_ZONE.has_bands
        assert BANDED_SINGLE.has_bands
        assert BANDED_SINGLE.price(1, 2) == D("6.50")
        assert MOSCOW_TWO_ZONE.price(2) == D("4.08")


class TestBands:
    @pytest.mark.parametrize(
        ("total", "months", "expected"),
        [
            (D(100), 1, [D(100), D(0), D(0)]),
            (D(150), 1, [D(150), D(0), D(0)]),
            (D(151), 1, [D(150), D(1), D(0)]),
            (D(600), 1, [D(150), D(450), D(0)]),
            (D(800), 1, [D(150), D(450), D(200)]),
            (D(800), 2, [D(300), D(500), D(0)]),
            (D(2000), 3, [D(450), D(1350), D(200)]),
            (D(0), 1, [D(0), D(0), D(0)]),
        ],
    )
    def test_split_into_bands(self, total, months, expected):
        assert split_into_bands(total, BANDS, D(months)) == expected

    def test_single_zone_across_three_bands(self):
        lines = price_volumes(BANDED_SINGLE, [D(800)])
        # 150 × 5.00 = 750.00; 450 × 6.50 = 2925.00; 200 × 9.10 = 1820.00
        assert parts(lines) == [
            (1, 1, D(150), D("5.00"), D("750.00")),
            (1, 2, D(450), D("6.50"), D("2925.00")),
            (1, 3, D(200), D("9.10"), D("1820.00")),
        ]
        assert total_amount(lines) == D("5495.00")

    def test_within_the_first_band_only_one_line(self):
        lines = price_volumes(BANDED_SINGLE, [D(120)])
        assert parts(lines) == [(1, 1, D(120), D("5.00"), D("600.00"))]

    def test_band_limits_scale_with_months(self):
        # Three months: band 1 is 450 kWh, band 2 up to 1800.
        lines = price_volumes(BANDED_SINGLE, [D(800)], months=3)
        assert parts(lines) == [
            (1, 1, D(450), D("5.00"), D("2250.00")),
            (1, 2, D(350), D("6.50"), D("2275.00")),
        ]
        assert total_amount(lines) == D("4525.00")

    def test_two_zones_share_each_band_in_proportion(self):
        # 200 + 100 = 300 kWh: band 1 (150) is 100 + 50, band 2 (the other 150) is 100 + 50.
        lines = price_volumes(BANDED_TWO_ZONE, [D(200), D(100)])
        assert parts(lines) == [
            (1, 1, D(100), D("6.00"), D("600.00")),
            (2, 1, D(50), D("3.00"), D("150.00")),
            (1, 2, D(100), D("7.50"), D("750.00")),
            (2, 2, D(50), D("3.50"), D("175.00")),
        ]
        assert total_amount(lines) == D("1675.00")

    def test_two_zones_with_rounded_shares(self):
        # 233 + 100 = 333 kWh. Band 1 (150): T1 150 × 233/333 = 104.954954… → 104.955, T2 45.045.
        # Band 2 (183): T1 233 − 104.955 = 128.045, T2 183 − 128.045 = 54.955.
        lines = price_volumes(BANDED_TWO_ZONE, [D(233), D(100)])
        assert parts(lines) == [
            (1, 1, D("104.955"), D("6.00"), D("629.73")),
            (2, 1, D("45.045"), D("3.00"), D("135.14")),  # 135.135 → 135.14
            (1, 2, D("128.045"), D("7.50"), D("960.34")),  # 960.3375 → 960.34
            (2, 2, D("54.955"), D("3.50"), D("192.34")),  # 192.3425 → 192.34
        ]
        assert total_amount(lines) == D("1917.55")

    def test_zone_parts_add_up_to_the_zone_volume(self):
        # Rounding each band's share on its own used to give T1 57.999 kWh here.
        lines = price_volumes(BANDED_TWO_ZONE, [D(58), D(1897)])
        assert sum(line.volume for line in lines if line.zone == 1) == D(58)
        assert sum(line.volume for line in lines if line.zone == 2) == D(1897)

    def test_zone_without_consumption_never_gets_a_line(self):
        # The last zone used to take each band's rounding remainder: with nothing consumed in T3 it
        # got −0.001 kWh in band 1 and +0.001 in band 2 here.
        spec = TariffSpec(
            zones=3,
            prices={(zone, band): D("5.00") for zone in (1, 2, 3) for band in (1, 2, 3)},
            band_limits=BANDS,
        )
        lines = price_volumes(spec, [D(890), D(710), D(0)])
        assert {line.zone for line in lines} == {1, 2}
        assert all(line.volume > 0 for line in lines)
        assert sum(line.volume for line in lines if line.zone == 1) == D(890)
        assert sum(line.volume for line in lines if line.zone == 2) == D(710)
        assert [sum(line.volume for line in lines if line.band == band) for band in (1, 2, 3)] == [
            D(150),
            D(450),
            D(1000),
        ]

    def test_zero_total_with_bands(self):
        lines = price_volumes(BANDED_TWO_ZONE, [D(0), D(0)])
        assert total_amount(lines) == D("0.00")
        assert all(line.volume == 0 for line in lines)

    def test_zone_without_consumption_gets_no_band_lines(self):
        lines = price_volumes(BANDED_TWO_ZONE, [D(0), D(700)])
        assert {line.zone for line in lines} == {2}
        assert [line.volume for line in lines] == [D(150), D(450), D(100)]


volumes_3dp = st.decimals(min_value=0, max_value=99_999, places=3, allow_nan=False, allow_infinity=False)
prices_2dp = st.decimals(min_value=0, max_value=50, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def tariffs(draw):
    zones = draw(st.integers(1, 3))
    limits = sorted(set(draw(st.lists(st.integers(1, 5000), max_size=3))))
    band_limits = (*(D(limit) for limit in limits), None)
    prices = {
        (zone, band): draw(prices_2dp)
        for zone in range(1, zones + 1)
        for band in range(1, len(band_limits) + 1)
    }
    return TariffSpec(zones=zones, prices=prices, band_limits=band_limits)


@st.composite
def tariff_and_volumes(draw):
    tariff = draw(tariffs())
    volumes = draw(st.lists(volumes_3dp, min_size=tariff.zones, max_size=tariff.zones))
    months = draw(st.integers(1, 12))
    return tariff, volumes, months


@settings(max_examples=200, deadline=None)
@given(tariff_and_volumes())
def test_band_parts_add_up_exactly_per_zone_and_in_total(case):
    tariff, volumes, months = case
    lines = price_volumes(tariff, volumes, months=months)
    for zone, volume in enumerate(volumes, start=1):
        assert sum((line.volume for line in lines if line.zone == zone), D(0)) == volume
    assert sum((line.volume for line in lines), D(0)) == sum(volumes, D(0))
    assert all(line.volume >= 0 for line in lines)


@settings(max_examples=200, deadline=None)
@given(tariff_and_volumes())
def test_band_totals_follow_the_scaled_limits(case):
    tariff, volumes, months = case
    lines = price_volumes(tariff, volumes, months=months)
    expected = split_into_bands(sum(volumes, D(0)), tariff.band_limits, D(months))
    for band, band_total in enumerate(expected, start=1):
        if sum(volumes, D(0)) > 0:
            assert sum((line.volume for line in lines if line.band == band), D(0)) == band_total
    for line in lines:
        limit = tariff.band_limits[line.band - 1]
        if limit is not None:
            assert line.volume <= limit * months


@settings(max_examples=200, deadline=None)
@given(tariff_and_volumes())
def test_amounts_are_kopeck_rounded_products(case):
    tariff, volumes, months = case
    lines = price_volumes(tariff, volumes, months=months)
    for line in lines:
        assert isinstance(line, PricedLine)
        assert line.price == tariff.price(line.zone, line.band)
        assert line.amount == round_money(line.volume * line.price)
        assert line.amount.as_tuple().exponent == -2
    assert total_amount(lines) == sum((line.amount for line in lines), D("0.00"))


@settings(max_examples=200, deadline=None)
@given(st.lists(volumes_3dp, min_size=2, max_size=2))
def test_without_bands_one_line_per_zone_at_its_price(volumes):
    lines = price_volumes(MOSCOW_TWO_ZONE, volumes)
    assert [(line.zone, line.band, line.volume) for line in lines] == [(1, 1, volumes[0]), (2, 1, volumes[1])]
    assert [line.amount for line in lines] == [
        round_money(volumes[0] * D("9.45")),
        round_money(volumes[1] * D("4.08")),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=3, max_size=3),
    st.integers(1, 3),
)
@example(kwh=[890, 710, 0], months=1)
@example(kwh=[1639, 1177, 0], months=2)
@example(kwh=[0, 0, 0], months=1)
def test_whole_kwh_on_a_three_zone_banded_tariff_never_gives_a_negative_part(kwh, months):
    spec = TariffSpec(
        zones=3,
        prices={(zone, band): D("5.00") for zone in (1, 2, 3) for band in (1, 2, 3)},
        band_limits=BANDS,
    )
    volumes = [D(v) for v in kwh]
    lines = price_volumes(spec, volumes, months=months)
    assert all(line.volume >= 0 for line in lines)
    assert {line.zone for line in lines if line.volume != 0} == {z for z, v in enumerate(kwh, 1) if v}
    for zone, volume in enumerate(volumes, start=1):
        assert sum((line.volume for line in lines if line.zone == zone), D(0)) == volume
