"""tariffs.csv: tariffs with their dates, zone prices and volume bands (a tariff with bands is one
row per band, grouped by the tariff's key: region, category, kind, valid_from). A stored tariff
is never changed; tariffs of one kind must not overlap in time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import CATEGORY, Adding, ImportRun, Spec, fmt
from meterdesk.dataio.importer.records import Records
from meterdesk.tariffs.models import KIND_ZONES, Tariff, TariffBand, TariffKind, TariffPrice

TariffKey = tuple[str, str, str, date]  # region, category, kind, valid_from


@dataclass(slots=True)
class TariffRec:
    key: TariffKey
    row: int
    valid_to: date | None
    bands: list[tuple[int, Decimal | None]]
    prices: dict[tuple[int, int], Decimal]


class Tariffs(Adding[TariffRec]):
    name = "tariffs"

    def __init__(self, run: ImportRun, records: Records) -> None:
        super().__init__(run, records)
        self.tariffs: dict[TariffKey, TariffRec] = {}

    def check(self) -> None:
        price = f.decimal(2, max_integer_digits=6)
        spec: Spec = {
            "region": (f.text(40), False),
            "category": (CATEGORY, True),
            "kind": (f.choice(TariffKind.values), True),
            "valid_from": (f.a_date, True),
            "valid_to": (f.a_date, False),
            "band": (f.integer(1, 20), False),
            "band_upper_kwh": (f.decimal(3, max_integer_digits=7, positive=True), False),
            "price_t1": (price, True),
            "price_t2": (price, False),
            "price_t3": (price, False),
        }
        groups: dict[TariffKey, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        bad: set[TariffKey] = set()
        for row, values in self.run.rows("tariffs", spec):
            parsed, ok = self.run.clean("tariffs", row, values, spec)
            zones = KIND_ZONES.get(TariffKind(parsed["kind"])) if "kind" in parsed else None
            if zones is not None:
                for zone in (1, 2, 3):
                    column = f"price_t{zone}"
                    if zone <= zones and column not in parsed and column in values:
                        continue  # reported by the parser
                    if zone <= zones and column not in values and zone > 1:  # t1: reported as required
                        self.run.problem(
                            "tariffs",
                            row,
                            column,
                            f"required: a {parsed['kind']} tariff has {zones} zone(s)",
                            code="required",
                        )
                        ok = False
                    elif zone > zones and column in values:
                        self.run.problem(
                            "tariffs",
                            row,
                            column,
                            f"a {parsed['kind']} tariff has {zones} zone(s)",
                            values[column],
                            code="wrong_zone_count",
                        )
                        ok = False
            if not self.run.dates_in_order(
                "tariffs", row, values, parsed, "valid_from", "valid_to", code="before_valid_from"
            ):
                ok = False
            if {"category", "kind", "valid_from"} <= parsed.keys():
                key = (
                    parsed.get("region", self.run.region),
                    parsed["category"],
                    parsed["kind"],
                    parsed["valid_from"],
                )
                groups[key].append((row, parsed))
                if not ok:
                    bad.add(key)
        for key, rows in groups.items():
            if key in bad:
                continue
            rec = self._group(key, rows)
            if rec is not None:
                self.tariffs[key] = rec
        self._against_stored()

    def _group(self, key: TariffKey, rows: list[tuple[int, dict[str, Any]]]) -> TariffRec | None:
        """One tariff from its rows (one row per volume band)."""
        first_row, first = rows[0]
        ok = True
        for row, parsed in rows[1:]:
            if parsed.get("valid_to") != first.get("valid_to"):
                self.run.problem(
                    "tariffs",
                    row,
                    "valid_to",
                    f"differs from row {first_row} of the same tariff",
                    fmt(parsed.get("valid_to")),
                    code="differs_within_tariff",
                )
                ok = False
        by_band: dict[int, tuple[int, dict[str, Any]]] = {}
        for row, parsed in rows:
            band = parsed.get("band", 1)
            if band in by_band:
                if "band" in parsed:
                    message = f"band {band} of this tariff is already in row {by_band[band][0]}"
                else:
                    message = (
                        f"the same tariff (region, category, kind, valid_from) as row {by_band[band][0]}"
                    )
                self.run.problem(
                    "tariffs",
                    row,
                    "band" if "band" in parsed else "valid_from",
                    message,
                    code="duplicate_tariff",
                )
                ok = False
                continue
            by_band[band] = (row, parsed)
        if not ok:
            return None
        numbers = sorted(by_band)
        if numbers != list(range(1, len(numbers) + 1)):
            self.run.problem(
                "tariffs",
                first_row,
                "band",
                f"bands must be numbered 1, 2, … without gaps; found {numbers}",
                code="band_gap",
            )
            return None
        zones = KIND_ZONES[TariffKind(key[2])]
        bands: list[tuple[int, Decimal | None]] = []
        prices: dict[tuple[int, int], Decimal] = {}
        previous_upper = Decimal(0)
        for band in numbers:
            row, parsed = by_band[band]
            upper = parsed.get("band_upper_kwh")
            last = band == numbers[-1]
            if last and upper is not None:
                message = (
                    "a tariff without bands has no upper limit"
                    if len(numbers) == 1
                    else "the last band is open: leave its upper limit empty"
                )
                self.run.problem("tariffs", row, "band_upper_kwh", message, fmt(upper), code="band_limit")
                ok = False
            elif not last and upper is None:
                self.run.problem(
                    "tariffs", row, "band_upper_kwh", "required for every band but the last", code="required"
                )
                ok = False
            elif not last and upper is not None and upper <= previous_upper:
                self.run.problem(
                    "tariffs",
                    row,
                    "band_upper_kwh",
                    f"must be above the previous band's {fmt(previous_upper)}",
                    fmt(upper),
                    code="band_limit",
                )
                ok = False
            if upper is not None:
                previous_upper = upper
            if len(numbers) > 1:
                bands.append((band, upper))
            for zone in range(1, zones + 1):
                prices[(zone, band)] = parsed[f"price_t{zone}"]
        if not ok:
            return None
        return TariffRec(key, first_row, first.get("valid_to"), bands, prices)

    def _against_stored(self) -> None:
        stored: dict[tuple[str, str, str], list[tuple[date, date | None, str]]] = defaultdict(list)
        kinds = {(k[0], k[1], k[2]) for k in self.tariffs}
        for region, category, kind in kinds:
            for tariff in Tariff.objects.filter(region=region, category=category, kind=kind).prefetch_related(
                "prices", "bands"
            ):
                key = (region, category, kind, tariff.valid_from)
                rec = self.tariffs.get(key)
                if rec is None:
                    stored[(region, category, kind)].append(
                        (tariff.valid_from, tariff.valid_to, "a stored tariff")
                    )
                    continue
                same = (
                    rec.valid_to == tariff.valid_to
                    and rec.bands == [(b.band, b.upper_kwh) for b in tariff.bands.all()]
                    and rec.prices == {(p.zone, p.band): p.price for p in tariff.prices.all()}
                )
                if same:
                    self.result.skipped += 1
                    stored[(region, category, kind)].append(
                        (tariff.valid_from, tariff.valid_to, "a stored tariff")
                    )
                    del self.tariffs[key]
                else:
                    self.run.problem(
                        "tariffs",
                        rec.row,
                        "valid_from",
                        "this tariff (region, category, kind, valid_from) is already stored with other prices, "
                        "bands or valid_to; an import does not change stored tariffs",
                        fmt(key[3]),
                        code="stored_with_other_data",
                    )
                    del self.tariffs[key]
        for rec in self.tariffs.values():
            stored[rec.key[:3]].append((rec.key[3], rec.valid_to, f"row {rec.row}"))
        for (region, category, kind), spans in stored.items():
            spans.sort(key=lambda s: s[0])
            for (start_a, end_a, where_a), (start_b, _end_b, where_b) in pairwise(spans):
                if end_a is not None and end_a >= start_b:
                    rows = [w for w in (where_a, where_b) if w.startswith("row ")]
                    row = int(rows[-1][4:]) if rows else None
                    self.run.problem(
                        "tariffs",
                        row,
                        "valid_from",
                        f"the {kind} tariff of {category} in {region} from {start_b} overlaps {where_a} "
                        f"(valid {start_a} to {end_a})",
                        code="overlapping_tariffs",
                    )
        self.new = list(self.tariffs.values())

    def load(self) -> None:
        if not self.new:
            return
        prices = bands = 0
        for rec in self.new:
            region, category, kind, start = rec.key
            tariff = Tariff.objects.create(
                region=region, category=category, kind=kind, valid_from=start, valid_to=rec.valid_to
            )
            TariffBand.objects.bulk_create(
                TariffBand(tariff=tariff, band=b, upper_kwh=u) for b, u in rec.bands
            )
            TariffPrice.objects.bulk_create(
                TariffPrice(tariff=tariff, zone=z, band=b, price=p)
                for (z, b), p in sorted(rec.prices.items())
            )
            prices += len(rec.prices)
            bands += len(rec.bands)
        result = self.result
        result.created = len(self.new)
        result.extra.update(prices=prices, bands=bands)
