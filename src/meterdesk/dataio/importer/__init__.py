"""`meterdesk import`: load a utility's data from its old system (docs/import-format.md).

Two passes over the dataset. **Validation** reads every file and collects every problem, each with
its file, row and column; it writes nothing. If there is no problem, **loading** reads the files
again and writes everything in one transaction, in batches (``bulk_create``), so that an error
half-way (a concurrent change, a full disk) leaves the database as it was.

The large sections (readings, and payments) are streamed: what validation keeps of a reading is a
few integers in its meter's ``ReadingSlots`` (enough to find duplicates and values below the
previous ones), not the row, so that a large utility's years of readings fit in memory.

Re-importing a dataset changes nothing: every record has a key (below). A record whose key is
already stored with the same data is skipped and counted; with different data it is an error (an
import loads history; it does not silently change what is stored).

| section       | key                                              |
|---------------|--------------------------------------------------|
| utility       | (one row: the given settings are set)            |
| tariffs       | region, category, kind, valid_from               |
| norms         | region, category, rooms, residents, valid_from   |
| accounts      | number                                           |
| residents     | account, effective_from                          |
| meters        | account, serial                                  |
| verifications | account + serial (the meter), verified_on        |
| readings      | account + serial (the meter), period, kind       |
| balances      | account, period                                  |
| payments      | external_id                                      |

The modules: ``run`` (the two passes and the transaction), ``core`` (what the sections share:
the run's rows, problems, progress and results), ``records`` (the accounts and meters rows refer
to), one module per section with its check and its load, ``history`` (the readings' meter pass),
``packed`` (what the readings check keeps, as integers) and ``coverage`` (the prices' warnings).
"""

from meterdesk.dataio.importer.core import ImportAborted, ImportResult, Progress, SectionResult
from meterdesk.dataio.importer.run import Importer, dataset_import
from meterdesk.dataio.source import Problem

__all__ = [
    "ImportAborted",
    "ImportResult",
    "Importer",
    "Problem",
    "Progress",
    "SectionResult",
    "dataset_import",
]
