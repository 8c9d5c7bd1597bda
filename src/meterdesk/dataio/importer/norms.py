"""norms.csv: consumption norms (kWh per person a month) by region, category, rooms and residents,
from a date. A stored norm is never changed."""

from __future__ import annotations

from typing import Any

from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import CATEGORY, Adding, Spec, fmt
from meterdesk.tariffs.models import Norm


class Norms(Adding[Norm]):
    name = "norms"

    def check(self) -> None:
        spec: Spec = {
            "region": (f.text(40), False),
            "category": (CATEGORY, True),
            "rooms": (f.integer(1, 20), True),
            "residents": (f.integer(1, 20), True),
            "kwh_per_person": (f.decimal(3, max_integer_digits=5), True),
            "valid_from": (f.a_date, True),
            "valid_to": (f.a_date, False),
        }
        seen: dict[tuple[Any, ...], tuple[int, Norm]] = {}
        for row, values in self.run.rows("norms", spec):
            parsed, ok = self.run.clean("norms", row, values, spec)
            if not self.run.dates_in_order(
                "norms", row, values, parsed, "valid_from", "valid_to", code="before_valid_from"
            ):
                ok = False
            if not ok:
                continue
            parsed["region"] = parsed.get("region", self.run.region)
            key = (
                parsed["region"],
                parsed["category"],
                parsed["rooms"],
                parsed["residents"],
                parsed["valid_from"],
            )
            if key in seen:
                self.run.problem(
                    "norms",
                    row,
                    "valid_from",
                    f"the same norm (region, category, rooms, residents, valid_from) as row {seen[key][0]}",
                    code="duplicate_norm",
                )
                continue
            seen[key] = (row, Norm(**parsed))
        regions = {k[0] for k in seen}
        for norm in Norm.objects.filter(region__in=regions) if seen else ():
            key = (norm.region, norm.category, norm.rooms, norm.residents, norm.valid_from)
            if key in seen:
                row, new = seen.pop(key)
                if new.kwh_per_person == norm.kwh_per_person and new.valid_to == norm.valid_to:
                    self.result.skipped += 1
                else:
                    self.run.problem(
                        "norms",
                        row,
                        "kwh_per_person",
                        f"this norm is already stored with {fmt(norm.kwh_per_person)} kWh, valid to "
                        f"{fmt(norm.valid_to)}; an import does not change stored norms",
                        fmt(new.kwh_per_person),
                        code="stored_with_other_data",
                    )
        self.new = [n for _row, n in seen.values()]

    def load(self) -> None:
        if self.new:
            Norm.objects.bulk_create(self.new, batch_size=self.run.batch_size)
            self.result.created = len(self.new)
