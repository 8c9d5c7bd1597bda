"""`meterdesk import`: a reading for a month already closed for its account (here the current
month, closed early with --force) is a row problem, and nothing is loaded."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meterdesk.billing.close import billing_close
from meterdesk.cli import main
from meterdesk.dataio.tests.data import base, counts, write
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def test_a_reading_for_a_force_closed_current_month_is_a_row_problem(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", base())).problems == []
    month = utility_now().date().replace(day=1)
    billing_close(month, force=True, reason="closed early for the test")
    later = base()
    later["readings"].append(
        {"account": "5000000001", "serial": "S-1", "period": f"{month:%Y-%m}", "t1": "1400", "t2": "700"}
    )
    directory = write(tmp_path / "two", later)
    before = counts()
    result = CliRunner().invoke(main, ["import", str(directory)])
    assert result.exit_code == 1, result.output
    row = len(later["readings"]) + 1  # the header is row 1
    assert (
        f"readings.csv:{row}: period: {month:%Y-%m} is already closed for account 5000000001 "
        f"(the last closed month is {month:%Y-%m}); a reading cannot change a closed month"
    ) in result.output
    assert "Nothing was loaded." in result.output
    assert counts() == before
