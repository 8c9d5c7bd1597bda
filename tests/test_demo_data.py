"""The demo's data: its utility is invented (valid numbers, no real company's), and its people,
the demo's and the synthetic ones, are each a man or a woman in all three parts of the name."""

from __future__ import annotations

import random

import pytest

from meterdesk.customers.models import Account
from meterdesk.seed import DEMO_UTILITY_DETAILS, demo_load, person_name, reference_load, seed_accounts

#: The real company and bank the demo used to name: its bills must never be payable to them.
REAL = {"7736520080", "997650001", "044525225", "30101810400000000225", "+74959810819"}
FEMALE_SURNAME = ("ова", "ева", "ина", "ая")
MALE_SURNAME = ("ов", "ев", "ин", "ий")


def _inn_valid(inn: str) -> bool:
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return len(inn) == 10 and sum(int(d) * w for d, w in zip(inn, weights, strict=False)) % 11 % 10 == int(
        inn[9]
    )


def _account_key_valid(prefix: str, account: str) -> bool:
    """The Bank of Russia's control key of an account: the 23 digits of the prefix (for a
    settlement account the BIC's last three; for a correspondent account 0 and the BIC's fifth
    and sixth) and the account, weighted 7, 1, 3 …, sum to a multiple of 10."""
    digits = prefix + account
    return sum(int(d) * (7, 1, 3)[i % 3] % 10 for i, d in enumerate(digits)) % 10 == 0


def test_the_demo_utility_is_invented_with_valid_numbers():
    d = DEMO_UTILITY_DETAILS
    assert not REAL & set(d.values())
    assert "Мосэнергосбыт" not in d["name"] and "Сбербанк" not in d["bank_name"]
    assert _inn_valid(d["inn"])
    assert not _inn_valid(d["inn"][:9] + str((int(d["inn"][9]) + 1) % 10))  # the check can fail
    assert len(d["kpp"]) == 9 and d["kpp"].isdigit()
    bic = d["bic"]
    assert len(bic) == 9 and bic.startswith("04")
    assert d["correspondent_account"].startswith("30101810") and d["correspondent_account"].endswith(bic[-3:])
    assert _account_key_valid("0" + bic[4:6], d["correspondent_account"])
    assert d["settlement_account"].startswith("40702810")
    assert _account_key_valid(bic[-3:], d["settlement_account"])
    assert not _account_key_valid(bic[-3:], "40702810700000012345")  # another key digit fails


@pytest.mark.django_db
def test_the_demo_loads_the_invented_utility():
    utility = reference_load()
    assert (utility.name, utility.short_name, utility.inn, utility.bic) == (
        "АО «Метердеск Энергосбыт»",
        "Метердеск",
        "7700543213",
        "044525638",
    )


def _is_woman(full_name: str) -> bool:
    """Whether a "Surname First-name Patronymic" is a woman's, checking that all three parts say
    the same (a Russian woman's first name ends in -а or -я, a man's here does not)."""
    surname, first, patronymic = full_name.split()
    woman = patronymic.endswith(("овна", "евна"))
    assert woman or patronymic.endswith(("ович", "евич")), full_name
    assert surname.endswith(FEMALE_SURNAME if woman else MALE_SURNAME), full_name
    assert first.endswith(("а", "я")) == woman, full_name
    return woman


def test_synthetic_people_are_one_gender_in_every_part():
    rng = random.Random(7)
    names = [person_name(rng) for _ in range(2000)]
    women = sum(_is_woman(name) for name in names)
    assert 800 < women < 1200  # about half
    assert len(set(names)) > 1500  # and varied


@pytest.mark.django_db
def test_seeded_and_demo_accounts_have_matching_names():
    demo_load("demo-pass-123", "adm-pass-4567", open_window=False)
    seed_accounts(60, seed=3, months=2)
    names = list(Account.objects.values_list("holder_name", flat=True))
    assert len(names) == 63
    women = [_is_woman(name) for name in names]
    assert any(women) and not all(women)


@pytest.mark.django_db
def test_seeded_and_demo_flats_have_an_area_that_fits_their_rooms():
    """The bill prints the premises' area: every demo and synthetic flat has one."""
    demo_load("demo-pass-123", "adm-pass-4567", open_window=False)
    seed_accounts(60, seed=3, months=2)
    rows = list(Account.objects.values_list("rooms", "area"))
    assert len(rows) == 63 and all(area is not None for _, area in rows)
    for rooms, area in rows:
        assert 10 * rooms + 10 <= area <= 30 * rooms + 20, (rooms, area)
    assert len({area for _, area in rows}) > 40  # varied, not one size for all
