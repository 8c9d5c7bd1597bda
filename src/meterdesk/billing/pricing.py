"""Prices and norms from the database, loaded once and answered from memory: once per run of the
monthly close, and once per change of the reference data for the readings (``pricing_get``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from meterdesk.domain.tariffs import TariffSpec
from meterdesk.tariffs.models import ZONES_KIND, Norm, Tariff
from meterdesk.tariffs.selectors import tariff_spec
from meterdesk.utility.selectors import Reference, reference_get


class MissingPrice(LookupError):
    """No tariff or norm is in force for what the engine asked."""


class DbPricing:
    """The ``domain.billing.Pricing`` of one region, read from the tariffs and norms tables."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._tariffs: dict[tuple[str, str], list[tuple[date, date | None, TariffSpec, Tariff]]] = (
            defaultdict(list)
        )
        for tariff in Tariff.objects.filter(region=region).prefetch_related("prices", "bands"):
            self._tariffs[(tariff.category, tariff.kind)].append(
                (tariff.valid_from, tariff.valid_to, tariff_spec(tariff), tariff)
            )
        for rows in self._tariffs.values():
            rows.sort(key=lambda r: r[0], reverse=True)
        self._norms: dict[str, list[tuple[date, date | None, int, int, Decimal]]] = defaultdict(list)
        for norm in Norm.objects.filter(region=region):
            self._norms[norm.category].append(
                (norm.valid_from, norm.valid_to, norm.rooms, norm.residents, norm.kwh_per_person)
            )
        self._cache: dict[tuple[str, int, date], TariffSpec] = {}
        self._norm_cache: dict[tuple[str, int, int, date], Decimal] = {}

    def tariff(self, category: str, zones: int, period: date) -> TariffSpec:
        key = (category, zones, period)
        spec = self._cache.get(key)
        if spec is None:
            spec = self.tariff_record(category, zones, period)[0]
            self._cache[key] = spec
        return spec

    def tariff_record(self, category: str, zones: int, period: date) -> tuple[TariffSpec, Tariff]:
        """The tariff in force on ``period`` (the latest that starts on or before it and has not
        ended), with its prices; as ``tariffs.selectors.tariff_in_force`` finds it."""
        for start, end, spec, tariff in self._tariffs.get((category, str(ZONES_KIND[zones])), ()):
            if start <= period and (end is None or period <= end):
                return spec, tariff
        raise MissingPrice(f"no {zones}-zone tariff for {category} in {self.region} on {period}")

    def norm(self, category: str, rooms: int, residents: int, period: date) -> Decimal:
        key = (category, rooms, residents, period)
        value = self._norm_cache.get(key)
        if value is None:
            rows = [
                r
                for r in self._norms.get(category, ())
                if r[0] <= period and (r[1] is None or period <= r[1])
            ]
            if not rows:
                raise MissingPrice(f"no consumption norm for {category} in {self.region} on {period}")
            max_rooms = max(r[2] for r in rows)
            max_residents = max(r[3] for r in rows)
            want = (min(max(rooms, 1), max_rooms), min(max(residents, 1), max_residents))
            matches = [r for r in rows if (r[2], r[3]) == want]
            if not matches:
                raise MissingPrice(
                    f"no norm for {category}, {want[0]} rooms, {want[1]} residents on {period}"
                )
            value = max(matches, key=lambda r: r[0])[4]
            self._norm_cache[key] = value
        return value


def pricing_get(region: str, reference: Reference | None = None) -> DbPricing:
    """The prices and norms of ``region`` as of the current reference data: loaded once per process
    and per change of tariffs, prices, bands or norms (see ``utility.selectors``). Read-only: the
    same object serves every thread of the process until the data changes."""
    ref = reference or reference_get()
    return ref.cached(("pricing", region), lambda: DbPricing(region))
