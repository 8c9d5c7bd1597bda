from __future__ import annotations

import pytest

from meterdesk.billing import close as close_module
from meterdesk.dataio.importer import ImportResult, dataset_import
from meterdesk.dataio.source import dataset_open


@pytest.fixture
def run_import(db):
    """Import a dataset (a path) and return the result."""

    def run(path, **options) -> ImportResult:
        with dataset_open(path) as dataset:
            return dataset_import(dataset, **options)

    return run


@pytest.fixture(autouse=True)
def _fresh_pricing_cache():
    """The close caches prices per run id; ids are reused when a test's transaction rolls back."""
    close_module._PRICING.clear()
    yield
    close_module._PRICING.clear()
