"""The progress bars of `meterdesk bill` and `meterdesk seed` count accounts (not chunks or
batches), on standard error, with the rate; standard output keeps the result alone."""

from __future__ import annotations

import io
import re

import click._termui_impl
import pytest
from click.testing import CliRunner

from meterdesk import cli
from meterdesk.cli import main
from meterdesk.cliutil import accounts_progress
from meterdesk.testing import AccountFactory


class Terminal(io.StringIO):
    """Output that says it is a terminal, so that click draws the bar (to a pipe it only labels)."""

    def isatty(self) -> bool:
        return True


def test_the_bar_counts_accounts_with_the_rate():
    out = Terminal()
    with accounts_progress("Closing 2025-08", 5000, done=1000, file=out) as advance:
        advance(2000)
        advance(2000)
    lines = out.getvalue().replace("\r", "\n")
    assert "Closing 2025-08" in lines
    assert "3000/5000" in lines
    assert "5000/5000" in lines
    assert re.search(r"\d[\d,]* accounts/s", lines)


@pytest.mark.django_db
def test_bill_shows_accounts_done_of_all_on_stderr(prices, monkeypatch):
    monkeypatch.setattr(click._termui_impl, "isatty", lambda _file: True)
    monkeypatch.setattr(cli, "_terminal", lambda: True)
    for _ in range(3):
        AccountFactory(meter_required=False)
    # Chunks of two: two chunks, three accounts; the bar counts the three.
    result = CliRunner().invoke(main, ["bill", "--period", "2025-08", "--workers", "0", "--chunk-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Month 2025-08: 3 accounts closed (3 now)." in result.stdout
    assert "3/3" in result.stderr
    assert "2/2" not in result.stderr
    assert "accounts/s" in result.stderr
    assert "Closing 2025-08" not in result.stdout


@pytest.mark.django_db
def test_bill_to_a_file_labels_the_bar_and_closes_the_same(prices):
    """To a pipe or a file (a log, a benchmark) click prints the bar's label only, and the accounts
    of each chunk are not counted for it; the close is the same."""
    for _ in range(3):
        AccountFactory(meter_required=False)
    result = CliRunner().invoke(main, ["bill", "--period", "2025-08", "--workers", "0", "--chunk-size", "2"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "Closing 2025-08\n"
    assert "Month 2025-08: 3 accounts closed (3 now)." in result.stdout
