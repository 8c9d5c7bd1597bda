"""The commands, through click's runner on the test database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.cli import main
from meterdesk.registries.models import Registry, RegistryRow, RowStatus
from meterdesk.registries.tests.conftest import line, sber_file
from meterdesk.testing import UserFactory

pytestmark = pytest.mark.django_db

# Dates well in the past: the command checks them against the real today.
LINES = [
    line("1", "7701000001", "1770,54", "17,71"),
    line("2", "7701000002", "500,00", "5,00"),
    line("3", "7701000077", "850,00", "8,50", payer="Васильев Игорь Олегович"),
]


def run(*args: str):
    return CliRunner().invoke(main, ["payments", *args])


@pytest.fixture
def registry_file(tmp_path):
    path = tmp_path / "sber-20251120.txt"
    path.write_bytes(sber_file(LINES))
    return path


def test_import_registry_loads_and_summarises(accounts, registry_file):
    result = run("import-registry", str(registry_file), "--format", "sberbank")
    assert result.exit_code == 0, result.output
    registry = Registry.objects.get()
    assert f"Loaded as registry #{registry.pk}:" in result.stdout
    assert "  rows                   3           3,120.54\u00a0₽" in result.stdout
    assert "  matched                2           2,270.54\u00a0₽" in result.stdout
    assert "  unmatched              1             850.00\u00a0₽" in result.stdout
    assert "  bank commission                       31.21\u00a0₽" in result.stdout
    assert "    unknown account number: 1" in result.stdout
    assert "Loading sber-20251120.txt as sberbank" in result.stderr
    assert account_balance(accounts[0]) == Decimal("-1770.54")

    again = run("import-registry", str(registry_file), "--format", "sberbank")
    assert again.exit_code == 1
    assert f"as registry #{registry.pk} (sber-20251120.txt); nothing was loaded" in again.stderr
    assert "1 problem(s). Nothing was loaded." in again.stderr
    assert LedgerEntry.objects.count() == 2


def test_import_registry_dry_run_keeps_nothing(accounts, registry_file):
    result = run("import-registry", str(registry_file), "--format", "sberbank", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: the file is good; nothing was kept. It would load:" in result.stdout
    assert "  matched                2" in result.stdout
    assert not Registry.objects.exists() and not LedgerEntry.objects.exists()


def test_import_registry_lists_every_problem_and_loads_nothing(accounts, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(sber_file([LINES[0], line("2", amount="5x"), line("3", day="32-11-2025")], count=4))
    report = tmp_path / "problems.csv"
    result = run("import-registry", str(path), "--format", "sberbank", "--report", str(report))
    assert result.exit_code == 1
    assert "bad.txt:2: amount: not an amount (got '5x')" in result.stderr
    assert "bad.txt:3: date: not a date: expected DD-MM-YYYY (got '32-11-2025')" in result.stderr
    assert "bad.txt:4: footer count: the footer says 4 payments, the file has 3 (got '4')" in result.stderr
    assert "3 problem(s) in 3 line(s). Nothing was loaded." in result.stderr
    assert report.read_text(encoding="utf-8-sig").splitlines()[1] == "bad.txt;2;amount;5x;not an amount"
    assert not Registry.objects.exists() and not LedgerEntry.objects.exists()


def test_an_unknown_format_is_refused(registry_file):
    result = run("import-registry", str(registry_file), "--format", "alfa")
    assert result.exit_code == 1
    assert "no registry layout 'alfa'; known: sberbank" in result.output


def test_registry_formats_lists_the_layouts():
    result = run("registry-formats")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sberbank             cp1251   Sberbank-style daily registry")


def test_unmatched_and_resolve(accounts, registry_file):
    staff = UserFactory(email="billing@example.com", is_staff=True)
    assert run("unmatched").stdout == "No unmatched rows.\n"
    assert run("import-registry", str(registry_file), "--format", "sberbank").exit_code == 0
    row = RegistryRow.objects.get(status=RowStatus.UNMATCHED)
    listed = run("unmatched")
    assert listed.exit_code == 0, listed.output
    assert f"{row.pk:>7}  #{row.registry_id} sber-20251120.txt" in listed.stdout
    assert (
        "20.11.2025  7701000077         850.00\u00a0₽  unknown account number, Васильев Игорь Олегович"
        in listed.stdout
    )
    assert "1 row(s), 850.00\u00a0₽." in listed.stdout

    assigned = run("resolve", str(row.pk), "--account", "7701000003", "--by", staff.email)
    assert assigned.exit_code == 0, assigned.output
    assert (
        f"Row {row.pk} (line 3 of registry #{row.registry_id}): 850.00\u00a0₽ posted to account 7701000003"
        in assigned.stdout
    )
    assert account_balance(accounts[2]) == Decimal("-850.00")
    row.refresh_from_db()
    assert (row.status, row.resolved_by) == (RowStatus.ASSIGNED, staff)

    twice = run("resolve", str(row.pk), "--account", "7701000002")
    assert twice.exit_code == 1
    assert "is not waiting for an account: it is assigned by staff" in twice.output
    assert LedgerEntry.objects.filter(external_id=row.external_id).count() == 1
    assert run("unmatched").stdout == "No unmatched rows.\n"


def test_resolve_by_rejecting(accounts, registry_file):
    run("import-registry", str(registry_file), "--format", "sberbank")
    row = RegistryRow.objects.get(status=RowStatus.UNMATCHED)
    result = run("resolve", str(row.pk), "--reject", "no such account")
    assert result.exit_code == 0, result.output
    assert "rejected: 850.00\u00a0₽ to be returned to the bank." in result.stdout
    row.refresh_from_db()
    assert (row.status, row.resolution_note) == (RowStatus.REJECTED, "no such account")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["1"], "give either --account N or --reject REASON"),
        (["1", "--account", "7701000001", "--reject", "x"], "give either --account N or --reject REASON"),
        (["999999", "--reject", "x"], "no registry row 999999"),
    ],
)
def test_resolve_refuses_what_it_cannot_do(args, message):
    result = run("resolve", *args)
    assert result.exit_code != 0
    assert message in result.output


def test_resolve_to_an_unknown_account_or_by_an_unknown_person(accounts, registry_file):
    run("import-registry", str(registry_file), "--format", "sberbank")
    row = RegistryRow.objects.get(status=RowStatus.UNMATCHED)
    result = run("resolve", str(row.pk), "--account", "7709999999")
    assert result.exit_code == 1
    assert "no account 7709999999" in result.output
    result = run("resolve", str(row.pk), "--account", "7701000001", "--by", "nobody@example.com")
    assert result.exit_code == 2
    assert "no active member of staff with the e-mail 'nobody@example.com'" in result.output
    row.refresh_from_db()
    assert row.status == RowStatus.UNMATCHED


def test_a_report_that_cannot_be_written_stops_before_anything_loads(accounts, registry_file, tmp_path):
    result = run(
        "import-registry",
        str(registry_file),
        "--format",
        "sberbank",
        "--report",
        str(tmp_path / "no" / "r.csv"),
    )
    assert result.exit_code == 1
    assert f"cannot write {tmp_path / 'no' / 'r.csv'}: No such file or directory" in result.output
    assert "Traceback" not in result.output
    assert not Registry.objects.exists()
    assert not LedgerEntry.objects.exists()
