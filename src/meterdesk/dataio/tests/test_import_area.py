"""accounts.csv's optional ``area`` column: the premises' total area, which the bill prints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterdesk.customers.models import Account
from meterdesk.dataio.tests.data import base, counts, write


def test_the_area_is_stored_with_a_comma_or_a_point_and_may_be_left_out(run_import, tmp_path):
    ds = base()
    ds["accounts"][0]["area"] = "54,3"
    ds["accounts"][1]["area"] = ""
    result = run_import(write(tmp_path / "ds", ds))
    assert result.loaded, [str(p) for p in result.problems]
    areas = dict(Account.objects.values_list("number", "area"))
    assert areas == {"5000000001": Decimal("54.30"), "5000000002": None}


@pytest.mark.parametrize(
    ("value", "code"),
    [("0", "not_positive"), ("-12", "negative"), ("54.305", "too_many_decimals"), ("сорок", "not_a_number")],
)
def test_a_bad_area_is_a_listed_problem_and_nothing_is_loaded(run_import, tmp_path, value, code):
    ds = base()
    ds["accounts"][1]["area"] = value
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    assert not result.loaded
    assert [(p.file, p.row, p.field, p.code) for p in result.problems] == [("accounts.csv", 3, "area", code)]
    assert counts() == before


def test_a_stored_account_imported_again_with_another_area_is_not_changed(run_import, tmp_path):
    ds = base()
    ds["accounts"][0]["area"] = "54.30"
    assert run_import(write(tmp_path / "first", ds)).loaded
    ds["accounts"][0]["area"] = "60"
    result = run_import(write(tmp_path / "second", {"accounts": ds["accounts"]}))
    assert [p.code for p in result.problems] == ["stored_with_other_data"]
    assert Account.objects.get(number="5000000001").area == Decimal("54.30")
