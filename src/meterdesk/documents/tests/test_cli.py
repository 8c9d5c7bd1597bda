"""`meterdesk export bill`: a closed month's bill as a PDF file; clear errors otherwise."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meterdesk.cli import main
from meterdesk.documents.tests.helpers import pdf_payload, pdf_text

pytestmark = pytest.mark.django_db


def test_export_bill(history, tmp_path):
    _user, meter = history
    number = meter.account.number
    output = tmp_path / "bill.pdf"
    result = CliRunner().invoke(
        main, ["export", "bill", "--account", number, "--period", "2025-09", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    content = output.read_bytes()
    assert content.startswith(b"%PDF-")
    assert f"written to {output}" in result.output
    fields = pdf_payload(content).as_dict()
    assert fields["PersAcc"] == number
    assert fields["PaymPeriod"] == "092025"
    assert "сентябрь 2025" in pdf_text(content)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "9999999999", "--period", "2025-09"], "there is no account 9999999999"),
        (["--account", "ACCOUNT", "--period", "2025-09"], "an account number has exactly 10 digits"),
        (["--period", "2025-10"], "2025-10 is not closed (the last closed month is 2025-09)"),
        (["--period", "2025-13"], "expected a month YYYY-MM"),
    ],
)
def test_export_bill_errors(history, tmp_path, args, message):
    _user, meter = history
    if "--account" not in args:
        args = ["--account", meter.account.number, *args]
    output = tmp_path / "bill.pdf"
    result = CliRunner().invoke(main, ["export", "bill", *args, "-o", str(output)])
    assert result.exit_code != 0
    assert message in result.output
    assert not output.exists()


def test_an_account_opened_after_the_month_has_no_bill(history, tmp_path):
    from datetime import date

    from meterdesk.testing import AccountFactory

    late = AccountFactory(opened_on=date(2026, 1, 1))
    result = CliRunner().invoke(
        main,
        ["export", "bill", "--account", late.number, "--period", "2025-09", "-o", str(tmp_path / "b.pdf")],
    )
    assert result.exit_code != 0
    assert f"account {late.number} has no statement for 2025-09" in result.output
