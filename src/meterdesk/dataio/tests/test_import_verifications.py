"""A meter's verification history (verifications.csv): stored as it is, and the meter's
verification_due follows the latest verification."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from meterdesk.dataio.tests.data import base, counts, write
from meterdesk.metering.models import Meter, MeterVerification, VerificationResult
from meterdesk.testing import UserFactory

S1 = {"account": "5000000001", "serial": "S-1"}
HISTORY = [
    {**S1, "verified_on": "2023-12-20", "result": "passed", "next_due": "2039-12-20", "verified_by": "Завод"},
    {
        **S1,
        "verified_on": "2026-03-02",
        "result": "passed",
        "next_due": "2042-03-02",
        "verified_by": "ФБУ «Ростест-Москва»",
        "note": "свидетельство № С-ГШФ/02-03-2026/123",
    },
]


def _with_history(rows=HISTORY):
    ds = base()
    ds["meters"][0].pop("verification_due")  # from the history
    ds["verifications"] = [dict(r) for r in rows]
    return ds


def test_the_history_is_stored_and_the_due_date_follows_the_latest(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", _with_history()))
    assert result.problems == []
    assert result.sections["verifications"].created == 2
    meter = Meter.objects.get(serial="S-1")
    assert meter.verification_due == date(2042, 3, 2)
    latest = meter.verifications.order_by("verified_on").last()
    assert latest is not None
    assert (latest.verified_on, latest.result, latest.next_due, latest.verified_by, latest.note) == (
        date(2026, 3, 2),
        VerificationResult.PASSED,
        date(2042, 3, 2),
        "ФБУ «Ростест-Москва»",
        "свидетельство № С-ГШФ/02-03-2026/123",
    )


def test_after_a_failed_verification_the_meter_counts_as_failed_from_that_day(run_import, tmp_path):
    failed = {**S1, "verified_on": "2026-05-14", "result": "failed", "note": "погрешность выше допустимой"}
    assert run_import(write(tmp_path / "ds", _with_history([*HISTORY, failed]))).problems == []
    meter = Meter.objects.get(serial="S-1")
    assert meter.verification_due == date(2026, 5, 13)
    assert meter.failed_from == date(2026, 5, 14)


def test_a_due_date_given_for_the_meter_must_agree_with_its_history(run_import, tmp_path):
    ds = _with_history()
    ds["meters"][0]["verification_due"] = "2040-01-01"
    before = counts()
    [problem] = run_import(write(tmp_path / "ds", ds)).problems
    assert (problem.file, problem.row, problem.field, problem.code) == (
        "meters.csv",
        2,
        "verification_due",
        "verification_due_mismatch",
    )
    assert "2042-03-02 (verifications.csv row 3)" in problem.message
    assert counts() == before


def test_a_meter_without_a_due_date_nor_history_is_an_error(run_import, tmp_path):
    ds = _with_history([dict(HISTORY[0], account="5000000002", serial="S-2", next_due="2040-01-01")])
    [problem] = run_import(write(tmp_path / "ds", ds)).problems
    assert (problem.file, problem.row, problem.field, problem.code) == (
        "meters.csv",
        2,
        "verification_due",
        "required",
    )


def test_a_stored_meter_takes_the_due_date_of_a_later_verification(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", base())).problems == []
    assert Meter.objects.get(serial="S-1").verification_due == date(2040, 1, 1)
    result = run_import(write(tmp_path / "two", {"verifications": HISTORY}))
    assert result.problems == []
    assert result.sections["verifications"].extra == {"stored meters' due dates moved": 1}
    assert Meter.objects.get(serial="S-1").verification_due == date(2042, 3, 2)
    # The whole dataset again: the meter's row gives no due date, so the moved one is not a conflict.
    again = _with_history()
    before = counts()
    result = run_import(write(tmp_path / "three", again))
    assert result.problems == []
    assert result.sections["verifications"].skipped == 2
    assert counts() == before


def test_an_older_verification_does_not_move_the_due_date(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", _with_history(HISTORY[1:]))).problems == []
    assert run_import(write(tmp_path / "two", {"verifications": HISTORY[:1]})).problems == []
    assert Meter.objects.get(serial="S-1").verification_due == date(2042, 3, 2)
    assert MeterVerification.objects.count() == 2


def test_a_stored_verification_with_other_data_is_an_error(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", _with_history())).problems == []
    changed = [HISTORY[0], {**HISTORY[1], "next_due": "2041-03-02"}]
    [problem] = run_import(write(tmp_path / "two", {"verifications": changed})).problems
    assert (problem.row, problem.field, problem.code) == (3, "verified_on", "stored_with_other_data")
    assert "next_due '2042-03-02' stored, '2041-03-02' in the file" in problem.message


@pytest.mark.parametrize(
    ("change", "column", "code"),
    [
        ({"next_due": ""}, "next_due", "required"),
        ({"result": "failed"}, "next_due", "not_expected"),
        ({"next_due": "2025-06-01"}, "next_due", "too_early"),
        ({"verified_on": "2030-01-01", "next_due": "2046-01-01"}, "verified_on", "in_the_future"),
        ({"verified_on": "2026-03-02"}, "verified_on", "duplicate_verification"),
        ({"result": "ok"}, "result", "not_one_of_the_choices"),
        ({"serial": "S-9"}, "serial", "unknown_meter"),
        ({"verified_by": "Лаб\x00"}, "verified_by", "control_character"),
    ],
)
def test_a_bad_verification_row_is_reported_and_nothing_is_loaded(run_import, tmp_path, change, column, code):
    row = {**HISTORY[0], "verified_on": "2025-06-01", **change}
    before = counts()
    result = run_import(write(tmp_path / "ds", _with_history([*HISTORY, row])))
    assert [(p.file, p.row, p.field, p.code) for p in result.problems] == [
        ("verifications.csv", 4, column, code)
    ]
    assert counts() == before


def test_the_back_office_shows_a_meters_history(run_import, tmp_path, client):
    assert run_import(write(tmp_path / "ds", _with_history())).problems == []
    client.force_login(UserFactory(email="boss@example.com", is_staff=True, is_superuser=True))
    meter = Meter.objects.get(serial="S-1")
    page = client.get(reverse("admin:metering_meter_change", args=[meter.pk]))
    assert page.status_code == 200
    assert "ФБУ «Ростест-Москва»" in page.content.decode()
    listing = client.get(reverse("admin:metering_meterverification_changelist"), {"q": "S-1"})
    assert listing.status_code == 200
    assert "2042" in listing.content.decode()
