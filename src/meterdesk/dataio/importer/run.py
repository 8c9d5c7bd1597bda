"""The two passes of an import over its sections, in the order of ``source.SECTIONS``, and the one
transaction the second runs in."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction

from meterdesk.dataio.importer.accounts import Accounts
from meterdesk.dataio.importer.balances import Balances
from meterdesk.dataio.importer.core import (
    ImportAborted,
    ImportResult,
    ImportRun,
    Progress,
    Section,
    SectionResult,
)
from meterdesk.dataio.importer.coverage import coverage_warnings
from meterdesk.dataio.importer.meters import Meters
from meterdesk.dataio.importer.norms import Norms
from meterdesk.dataio.importer.payments import Payments
from meterdesk.dataio.importer.readings import Readings
from meterdesk.dataio.importer.records import Records
from meterdesk.dataio.importer.residents import Residents
from meterdesk.dataio.importer.tariffs import Tariffs
from meterdesk.dataio.importer.utility import Utility
from meterdesk.dataio.importer.verifications import Verifications
from meterdesk.dataio.source import SECTIONS, Dataset, Problem


class Importer:
    """Validate the run's dataset (``validate``), then load it (``load``, inside a transaction)."""

    def __init__(self, run: ImportRun) -> None:
        self.run = run
        self.records = records = Records(run)
        self.tariffs, self.norms = Tariffs(run, records), Norms(run, records)
        residents, meters = Residents(run, records), Meters(run, records)
        sections: list[Section] = [
            Utility(run, records),
            self.tariffs,
            self.norms,
            Accounts(run, records, residents),
            residents,
            meters,
            Verifications(run, records, meters),
            Readings(run, records),
            Balances(run, records),
            Payments(run, records),
        ]
        by_name = {s.name: s for s in sections}
        self.sections = {name: by_name[name] for name in SECTIONS}  # checked and loaded in this order

    @property
    def warnings(self) -> list[str]:
        return self.run.warnings

    @property
    def results(self) -> dict[str, SectionResult]:
        return self.run.results

    def validate(self) -> list[Problem]:
        """Check the whole dataset; returns every problem (empty: ready to load)."""
        run = self.run
        for name, section in self.sections.items():
            if name in run.ds.files:
                section.check()
        if not run.problems:
            coverage_warnings(run, self.records, self.tariffs, self.norms)
        order = {run.ds.display(section): n for n, section in enumerate(SECTIONS)}
        run.problems.sort(key=lambda p: (order.get(p.file, -1), p.row or 0))
        return run.problems

    def load(self) -> dict[str, SectionResult]:
        """Write what ``validate`` accepted. Call inside ``transaction.atomic()``."""
        if self.run.problems:
            raise RuntimeError("the dataset has problems; nothing may be loaded")
        for name, section in self.sections.items():
            if name in self.run.results:
                section.load()
        return self.run.results


def dataset_import(
    dataset: Dataset,
    *,
    dry_run: bool = False,
    today: date | None = None,
    batch_size: int = 2000,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate ``dataset`` and, if it has no problem, load it in one transaction (rolled back at
    the end with ``dry_run``). Nothing is loaded if there is any problem."""
    importer = Importer(ImportRun(dataset, today=today, batch_size=batch_size, progress=progress))
    problems = importer.validate()
    if problems:
        return ImportResult(problems, importer.warnings, importer.results, loaded=False, dry_run=dry_run)
    try:
        with transaction.atomic():
            results = importer.load()
            if dry_run:
                transaction.set_rollback(True)
    except ImportAborted as exc:
        return ImportResult([exc.problem], importer.warnings, importer.results, loaded=False, dry_run=dry_run)
    except IntegrityError as exc:
        problem = Problem(
            str(dataset.path.name),
            None,
            "",
            f"the database changed while the dataset was loading ({exc}); nothing was loaded: run the import again",
            code="database_changed",
        )
        return ImportResult([problem], importer.warnings, importer.results, loaded=False, dry_run=dry_run)
    return ImportResult([], importer.warnings, results, loaded=not dry_run, dry_run=dry_run)
