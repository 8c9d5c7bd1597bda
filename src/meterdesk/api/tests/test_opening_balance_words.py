"""The API's ledger names a balance carried over from the previous system as such."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.dataio.importer.balances import OPENING_BASIS, OPENING_REASON, opening_id

pytestmark = pytest.mark.django_db


def test_the_ledger_names_a_carried_balance(api, meter):
    account = meter.account
    common = {"account": account, "period": date(2026, 7, 1), "posted_on": date(2026, 7, 31)}
    LedgerEntry.objects.create(
        **common,
        kind=EntryKind.CHARGE,
        basis=OPENING_BASIS,
        reason=OPENING_REASON,
        amount=Decimal("500.00"),
        detail={"import_row": 2},
        external_id=opening_id(account.number, date(2026, 7, 1)),
    )
    LedgerEntry.objects.create(
        **common,
        kind=EntryKind.PENALTY,
        reason="late_payment",
        amount=Decimal("12.34"),
        detail={"import_row": 2, "opening": True},
        external_id=opening_id(account.number, date(2026, 7, 1), penalty=True),
    )
    for language, charge, penalty in (
        (
            "en",
            "balance carried over from the previous system",
            "penalty carried over from the previous system",
        ),
        (
            "ru",
            "остаток, перенесённый из прежней системы расчётов",
            "пени, перенесённые из прежней системы расчётов",
        ),
    ):
        body = api.get_api(f"/accounts/{account.number}/charges", HTTP_ACCEPT_LANGUAGE=language).json()
        by_kind = {item["kind"]: item for item in body["items"]}
        assert by_kind["charge"]["basis"] == "opening"
        assert (by_kind["charge"]["words"], by_kind["penalty"]["words"]) == (charge, penalty)
