"""After a clean check: warnings of prices the first close will need and the dataset neither has
nor finds stored."""

from __future__ import annotations

from collections import defaultdict

from meterdesk.dataio.importer.core import ImportRun
from meterdesk.dataio.importer.norms import Norms
from meterdesk.dataio.importer.records import Records
from meterdesk.dataio.importer.tariffs import Tariffs
from meterdesk.tariffs.models import ZONES_KIND, Norm, Tariff, TariffKind


def coverage_warnings(run: ImportRun, records: Records, tariffs: Tariffs, norms: Norms) -> None:
    """Prices the first close will need: a tariff for every category and meter kind loaded,
    and a single-rate tariff and norms for every category (the norm basis)."""
    needed: dict[tuple[str, str], int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    for account in records.accounts.values():
        if account.new is not None:
            needed[(account.category, TariffKind.SINGLE.value)] += 0
            categories[account.category] += 1
    for meter in records.meters.values():
        if meter.new is not None:
            needed[(meter.account.category, str(ZONES_KIND[meter.shape.zones]))] += 1
    if not needed:
        return
    have = {(k[1], k[2]) for k in tariffs.tariffs if k[0] == run.region}
    have |= set(Tariff.objects.filter(region=run.region).values_list("category", "kind").distinct())
    for (category, kind), meters in sorted(needed.items()):
        if (category, kind) not in have:
            what = f"{meters} meter(s)" if meters else f"the norm basis of {categories[category]} account(s)"
            run.warnings.append(
                f"no {kind} tariff of {category} in region {run.region}: {what} cannot be billed until one is loaded"
            )
    normed = {n.category for n in norms.new if n.region == run.region}
    normed |= set(Norm.objects.filter(region=run.region).values_list("category", flat=True).distinct())
    for category, count in sorted(categories.items()):
        if category not in normed:
            run.warnings.append(
                f"no consumption norm of {category} in region {run.region}: {count} account(s) cannot be "
                "billed by norm until one is loaded"
            )
