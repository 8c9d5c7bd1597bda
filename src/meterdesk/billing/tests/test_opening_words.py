"""A balance carried over from the previous system (``meterdesk import``, balances.csv) has its
own words wherever a ledger line's basis is put into words, not "charge for electricity"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from meterdesk.billing.messages import entry_words, line_words, penalty_words
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.dataio.importer.balances import OPENING_BASIS, OPENING_REASON

CARRIED = {
    "en": "balance carried over from the previous system",
    "ru": "остаток, перенесённый из прежней системы расчётов",
}
PENALTY = {
    "en": "penalty carried over from the previous system",
    "ru": "пени, перенесённые из прежней системы расчётов",
}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_carried_balance_is_named_as_such(language):
    """As the import posts it: a charge (a debt, or a credit when negative) with basis opening."""
    debt = LedgerEntry(
        kind=EntryKind.CHARGE,
        basis=OPENING_BASIS,
        reason=OPENING_REASON,
        amount=Decimal("500.00"),
        period=date(2026, 7, 1),
        detail={"import_row": 2},
    )
    credit = LedgerEntry(
        kind=EntryKind.CHARGE,
        basis=OPENING_BASIS,
        reason=OPENING_REASON,
        amount=Decimal("-250.50"),
        period=date(2026, 9, 1),
        detail={"import_row": 3},
    )
    with translation.override(language):
        assert entry_words(debt) == entry_words(credit) == CARRIED[language]
        assert line_words(OPENING_BASIS, OPENING_REASON, {"import_row": 2}) == CARRIED[language]
        # Not the words of an ordinary charge.
        assert line_words("", "") != CARRIED[language]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_carried_penalty_says_where_it_comes_from(language):
    """The old system's penalty is carried as it was, without the parts a penalty accrued here has."""
    with translation.override(language):
        assert penalty_words({"import_row": 3, "opening": True}) == [PENALTY[language]]
        assert line_words("", "late_payment", {"import_row": 3, "opening": True}) == PENALTY[language]
        assert penalty_words({"parts": []}) == []
