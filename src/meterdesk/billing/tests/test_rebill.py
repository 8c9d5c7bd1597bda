"""``account_rebill``: a closed month billed again with today's data; the difference is posted as
correction entries, at that month's prices, in the first open month. Nothing is edited. (How it
carries through the later months: test_rebill_cascade.py; their penalties: test_rebill_penalties.py.)"""

from __future__ import annotations

from datetime import date

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance, statement_get
from meterdesk.billing.services import R_REBILL, RebillError, account_rebill
from meterdesk.billing.tests.helpers import D, closes_snapshot, ledger_snapshot, lines, month, reading
from meterdesk.customers.models import ResidentsChange
from meterdesk.metering.models import Reading, ReadingKind, ReadingStatus
from meterdesk.tariffs.models import TariffPrice
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory

pytestmark = pytest.mark.django_db

MAY, JUN, JUL, AUG, SEP = (month(2025, m) for m in (5, 6, 7, 8, 9))


@pytest.fixture
def june_and_july(prices):
    """A one-zone meter: 150 kWh in June 2025 (6.99 ₽/kWh), 100 in July (7.87), both closed."""
    meter = MeterFactory(zones=1)
    reading(meter, MAY, 1150)
    reading(meter, JUN, 1300)
    reading(meter, JUL, 1400)
    billing_close(JUN)
    billing_close(JUL)
    return meter


class TestControlReadingFoundLater:
    def test_the_difference_is_posted_at_that_months_price(self, june_and_july):
        meter = june_and_july
        account = meter.account
        original = LedgerEntry.objects.get(account=account, period=JUN)
        assert (original.basis, original.volume, original.price, original.amount) == (
            "actual",
            D("150.000"),
            D("6.99"),
            D("1048.50"),
        )
        before = (ledger_snapshot(), closes_snapshot())
        balance = account_balance(account)
        assert balance == D("1048.50") + D("787.00")
        staff = UserFactory(email="billing@example.com", is_staff=True)
        # The inspector read 1250 on 24 June: the customer over-reported by 50 kWh.
        reading(meter, JUN, 1250, kind=ReadingKind.CONTROL)

        entries = account_rebill(
            account=account,
            period=date(2025, 6, 17),
            reason="control reading of 24.06 found late",
            user=staff,
        )

        # The customer's 150 kWh are withdrawn, the inspector's 100 billed instead, both at 6.99
        # (June's price, not July's 7.87): -1048.50 + 699.00 = -349.50 = -50 × 6.99. July goes on
        # from 1250, not 1300: 150 kWh, 50 more than billed, at July's 7.87: +393.50.
        july = LedgerEntry.objects.get(account=account, period=JUL)
        assert [
            (
                e.detail["period"],
                e.detail["basis"],
                e.meter_id,
                e.zone,
                e.band,
                e.volume,
                e.price,
                e.amount,
                e.corrects_id,
            )
            for e in entries
        ] == [
            ("2025-06", "actual", meter.pk, 1, 1, D("-150.000"), D("6.99"), D("-1048.50"), original.pk),
            ("2025-06", "control", meter.pk, 1, 1, D("100.000"), D("6.99"), D("699.00"), None),
            ("2025-07", "actual", meter.pk, 1, 1, D("50.000"), D("7.87"), D("393.50"), july.pk),
        ]
        for entry in entries:
            entry.refresh_from_db()
            assert entry.kind == EntryKind.CORRECTION
            assert entry.basis == "correction"
            assert entry.reason == R_REBILL
            assert entry.period == AUG  # the first open month (June and July are closed)
            assert entry.run is None
            assert entry.external_id is None
            assert entry.detail["rebill_of"] == "2025-06"
            assert entry.detail["cause"] == "other"
            assert entry.detail["reason"] == "control reading of 24.06 found late"
            assert entry.detail["by"] == staff.pk
        assert entries[0].detail["billed"] == {"volume": "150.000", "amount": "1048.50"}
        assert entries[0].detail["rebilled"] == {"volume": "0", "amount": "0.00"}
        assert entries[2].detail["billed"] == {"volume": "100.000", "amount": "787.00"}
        assert entries[2].detail["rebilled"] == {"volume": "150.000", "amount": "1180.50"}
        assert account_balance(account) == balance - D("349.50") + D("393.50")
        # Nothing was edited: every earlier line and statement is as it was.
        after = ledger_snapshot()
        assert not before[0] - after
        assert sum((after - before[0]).values()) == 3
        assert closes_snapshot() == before[1]

    def test_the_next_close_shows_the_correction_and_a_second_rebill_posts_nothing(self, june_and_july):
        meter = june_and_july
        account = meter.account
        reading(meter, JUN, 1250, kind=ReadingKind.CONTROL)
        account_rebill(account=account, period=JUN, reason="control reading")
        assert account_rebill(account=account, period=JUN, reason="control reading") == []
        assert LedgerEntry.objects.filter(kind=EntryKind.CORRECTION).count() == 3

        reading(meter, AUG, 1500)
        billing_close(AUG)
        july = AccountClose.objects.get(account=account, period=JUL)
        august = AccountClose.objects.get(account=account, period=AUG)
        assert august.opening_balance == july.closing_balance
        assert august.recalculations == D("-349.50") + D("393.50")
        assert august.charges == D("787.00")  # 100 kWh × 7.87
        assert august.closing_balance == july.closing_balance + D("787.00") + D("44.00") + august.penalty
        assert account_balance(account) == august.closing_balance
        statement = statement_get(account, AUG)
        assert statement is not None
        assert {e.kind for e in statement.lines} == {EntryKind.CHARGE, EntryKind.CORRECTION}
        # Corrections posted after the close of August go to September.
        TariffPrice.objects.filter(tariff__valid_from=date(2024, 7, 1), tariff__kind="single").update(
            price=D("7.00")
        )
        (entry,) = account_rebill(account=account, period=JUN, reason="price order corrected")
        assert entry.period == SEP
        assert (entry.detail["basis"], entry.volume, entry.price, entry.amount) == (
            "control",
            D("0.000"),
            D("7.00"),
            D("1.00"),  # 100 kWh × (7.00 − 6.99)
        )
        assert entry.corrects is None  # the close had no control line in June


class TestResidentsCorrected:
    def test_norm_month_with_more_residents(self, prices):
        account = AccountFactory(rooms=2, residents=2, meter_required=False)
        billing_close(AUG)
        (original,) = LedgerEntry.objects.filter(account=account)
        # 78 kWh × 2 = 156 × 7.87 = 1227.72
        assert (original.volume, original.amount) == (D("156.000"), D("1227.72"))
        ResidentsChange.objects.create(account=account, effective_from=date(2024, 1, 1), residents=2)
        ResidentsChange.objects.create(account=account, effective_from=date(2025, 8, 1), residents=3)

        (entry,) = account_rebill(account=account, period=AUG, reason="a third resident since 1 August")
        # 61 kWh × 3 = 183 kWh × 7.87 = 1440.21: +27 kWh, +212.49
        assert (
            entry.detail["basis"],
            entry.meter_id,
            entry.zone,
            entry.volume,
            entry.price,
            entry.amount,
        ) == (
            "norm",
            None,
            0,
            D("27.000"),
            D("7.87"),
            D("212.49"),
        )
        assert entry.corrects == original
        assert entry.period == SEP

        # Corrected again (3 rooms): only the new difference is posted, the first correction counts.
        account.rooms = 3
        account.save()
        (second,) = account_rebill(account=account, period=AUG, reason="three rooms, not two")
        # 69 kWh × 3 = 207 kWh × 7.87 = 1629.09: +24 kWh and +188.88 over the corrected 183 kWh
        assert (second.volume, second.amount, second.corrects) == (D("24.000"), D("188.88"), original)
        assert second.detail["billed"] == {"volume": "183.000", "amount": "1440.21"}

        billing_close(SEP)
        september = AccountClose.objects.get(account=account, period=SEP)
        assert september.recalculations == D("212.49") + D("188.88")
        assert lines(account, SEP, kind=EntryKind.CHARGE) == [
            ("norm", None, 0, 1, D("207.000"), D("7.87"), D("1629.09"))
        ]
        assert account_balance(account) == september.closing_balance


class TestRefused:
    def test_a_month_that_is_not_closed(self, prices):
        account = AccountFactory(meter_required=False)
        with pytest.raises(RebillError, match="2025-08 is not closed"):
            account_rebill(account=account, period=AUG, reason="why not")
        billing_close(AUG)
        with pytest.raises(RebillError, match="2025-09 is not closed"):
            account_rebill(account=account, period=SEP, reason="why not")
        assert not LedgerEntry.objects.filter(kind=EntryKind.CORRECTION).exists()

    def test_a_reason_is_required(self, prices):
        account = AccountFactory(meter_required=False)
        billing_close(AUG)
        with pytest.raises(RebillError, match="reason"):
            account_rebill(account=account, period=AUG, reason="  ")

    def test_nothing_changed_posts_nothing(self, june_and_july):
        before = ledger_snapshot()
        assert account_rebill(account=june_and_july.account, period=JUN, reason="check") == []
        assert account_rebill(account=june_and_july.account, period=JUL, reason="check") == []
        assert ledger_snapshot() == before


def test_the_first_close_of_a_meter_is_rebilled_from_its_reading_history(prices):
    """June was the meter's first close (its state was built from the readings): so is the rebill."""
    meter = MeterFactory(zones=2)
    reading(meter, MAY, 1200, 580)
    reading(meter, JUN, 1400, 650)
    billing_close(JUN)
    # The May reading was wrong; corrected in the history (a later submission replaces it).
    Reading.objects.filter(meter=meter, period=MAY).update(status=ReadingStatus.SUPERSEDED)
    reading(meter, MAY, 1250, 600)
    entries = account_rebill(account=meter.account, period=JUN, reason="May reading corrected")
    # Was 200 × 8.47 and 70 × 3.43; now 150 and 50: -50 × 8.47 = -423.50, -20 × 3.43 = -68.60
    assert [(e.zone, e.volume, e.price, e.amount) for e in entries] == [
        (1, D("-50.000"), D("8.47"), D("-423.50")),
        (2, D("-20.000"), D("3.43"), D("-68.60")),
    ]
