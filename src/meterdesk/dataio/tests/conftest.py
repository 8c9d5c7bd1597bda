from __future__ import annotations

import pytest

from meterdesk.dataio.importer import ImportResult, dataset_import
from meterdesk.dataio.source import dataset_open


@pytest.fixture
def run_import(db):
    """Import a dataset (a path) and return the result."""

    def run(path, **options) -> ImportResult:
        with dataset_open(path) as dataset:
            return dataset_import(dataset, **options)

    return run
