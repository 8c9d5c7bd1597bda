"""The monthly close on the database: hand-computed ledger lines and statements, idempotency,
chunk independence, month sequencing and states carried from month to month.

Prices (conftest): gas stoves from 2025-07-01 single 7.87, day/night 9.45/4.08, peak/night/semi-peak
11.24/4.08/7.87; rural two-zone with bands: up to 100 kWh a month T1 6.00 / T2 3.00, above T1 8.00 /
T2 4.00. Norm (illustrative): 2 rooms, 2 residents 78 kWh per resident; 3 residents 61.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest

from meterdesk.billing.close import CloseError, billing_close, chunk_close
from meterdesk.billing.codec import state_loads
from meterdesk.billing.models import (
    AccountClose,
    BillingChunk,
    BillingRun,
    EntryKind,
    LedgerEntry,
    MeterBillingState,
    RunStatus,
)
from meterdesk.billing.selectors import account_balance
from meterdesk.billing.tests.helpers import (
    GAS,
    RURAL,
    D,
    closes_snapshot,
    counts,
    ledger_snapshot,
    lines,
    month,
    reading,
    states_snapshot,
    wipe_billing,
)
from meterdesk.customers.models import ResidentsChange
from meterdesk.metering.models import MeterStatus, ReadingKind, ReadingStatus
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory

pytestmark = pytest.mark.django_db

JUL, AUG, SEP, OCT, NOV = (month(2025, m) for m in (7, 8, 9, 10, 11))


@pytest.fixture
def august(prices):
    """Five accounts to close for August 2025: 1-, 2-, 3-zone meters, no meter, a band tariff."""
    one = MeterFactory(zones=1)
    reading(one, JUL, 1150)
    reading(one, AUG, 1300)
    two = MeterFactory(zones=2)
    reading(two, JUL, 1200, 580)
    reading(two, AUG, 1400, 650)
    three = MeterFactory(zones=3)
    reading(three, JUL, 1100, 560, 760)
    reading(three, AUG, 1150, 600, 800)
    no_meter = AccountFactory(rooms=2, residents=2)
    band = MeterFactory(zones=2, account=AccountFactory(category=RURAL))
    reading(band, JUL, 1100, 540)
    reading(band, AUG, 1220, 600)
    return {"one": one, "two": two, "three": three, "no_meter": no_meter, "band": band}


class TestOneMonth:
    def test_ledger_lines_are_the_hand_computed_ones(self, august):
        summary = billing_close(AUG)
        one, two, three, band = august["one"], august["two"], august["three"], august["band"]
        # 1 zone: 1300 - 1150 = 150 kWh × 7.87 = 1180.50
        assert lines(one.account, AUG) == [("actual", one.pk, 1, 1, D("150.000"), D("7.87"), D("1180.50"))]
        # 2 zones: 200 × 9.45 = 1890.00; 70 × 4.08 = 285.60
        assert lines(two.account, AUG) == [
            ("actual", two.pk, 1, 1, D("200.000"), D("9.45"), D("1890.00")),
            ("actual", two.pk, 2, 1, D("70.000"), D("4.08"), D("285.60")),
        ]
        # 3 zones (T1 peak, T2 night, T3 semi-peak): 50 × 11.24; 40 × 4.08; 40 × 7.87
        assert lines(three.account, AUG) == [
            ("actual", three.pk, 1, 1, D("50.000"), D("11.24"), D("562.00")),
            ("actual", three.pk, 2, 1, D("40.000"), D("4.08"), D("163.20")),
            ("actual", three.pk, 3, 1, D("40.000"), D("7.87"), D("314.80")),
        ]
        # No meter where one is required: 78 kWh × 2 residents × 1.5 = 234 kWh × 7.87 = 1841.58
        assert lines(august["no_meter"], AUG) == [
            ("norm_increased", None, 0, 1, D("234.000"), D("7.87"), D("1841.58"))
        ]
        # Bands: 120 + 60 = 180 kWh, 100 in band 1 and 80 in band 2, shared 2:1 between the zones:
        # band 1: T2 100 × 60/180 = 33.333, T1 takes the rest 66.667; up to band 2 T2 has 60 in all,
        # so 26.667 in band 2 and T1 80 - 26.667 = 53.333.
        # 66.667 × 6.00 = 400.002; 33.333 × 3.00 = 99.999; 53.333 × 8.00 = 426.664; 26.667 × 4.00 = 106.668
        assert lines(band.account, AUG) == [
            ("actual", band.pk, 1, 1, D("66.667"), D("6.00"), D("400.00")),
            ("actual", band.pk, 1, 2, D("53.333"), D("8.00"), D("426.66")),
            ("actual", band.pk, 2, 1, D("33.333"), D("3.00"), D("100.00")),
            ("actual", band.pk, 2, 2, D("26.667"), D("4.00"), D("106.67")),
        ]
        assert summary.accounts == 5
        assert summary.closed_now == 5
        assert summary.by_basis == {"actual": 4, "norm_increased": 1}
        assert summary.charges == D("1180.50") + D("2175.60") + D("1040.00") + D("1841.58") + D("1033.33")
        assert summary.recalculations == summary.penalty == summary.payments == D("0.00")
        assert not summary.already_closed

    def test_line_details(self, august):
        billing_close(AUG)
        run = BillingRun.objects.get(period=AUG)
        entry = LedgerEntry.objects.get(account=august["one"].account)
        assert entry.kind == EntryKind.CHARGE
        assert entry.posted_on == date(2025, 8, 31)
        assert entry.run == run
        assert entry.reason == "readings"
        assert entry.detail == {"since": "2025-07", "months": "1"}
        assert entry.corrects is None
        assert entry.external_id is None
        norm = LedgerEntry.objects.get(account=august["no_meter"])
        assert norm.reason == "no_meter"
        assert norm.detail == {"residents": "2×78.000", "coefficient": "1.5"}

    def test_statements(self, august):
        billing_close(AUG)
        expected = {
            august["one"].account_id: (D("1180.50"), "actual"),
            august["two"].account_id: (D("2175.60"), "actual"),
            august["three"].account_id: (D("1040.00"), "actual"),
            august["no_meter"].pk: (D("1841.58"), "norm_increased"),
            august["band"].account_id: (D("1033.33"), "actual"),
        }
        assert AccountClose.objects.count() == len(expected)
        for account_id, (total, basis) in expected.items():
            close = AccountClose.objects.get(account_id=account_id, period=AUG)
            assert close.basis == basis
            assert close.opening_balance == D("0.00")
            assert close.charges == total
            assert close.recalculations == D("0.00")
            assert close.payments == D("0.00")
            assert close.penalty == D("0.00")
            assert close.closing_balance == total
            assert close.due_date == date(2025, 9, 10)
            assert close.run == BillingRun.objects.get(period=AUG)
            assert account_balance(close.account) == close.closing_balance

    def test_meter_states_after_the_month(self, august):
        billing_close(AUG)
        two = august["two"]
        state = state_loads(MeterBillingState.objects.get(meter=two, period=AUG).data)
        assert state.raw == (D(1400), D(650))
        assert state.last.period == AUG
        # Cumulative since installation (1000/500): 400 and 150.
        assert state.last.totals == (D(400), D(150))
        assert state.estimated_periods == ()
        assert MeterBillingState.objects.filter(period=AUG).count() == 4  # every meter, none for no meter

    def test_run_and_chunks_are_done(self, august):
        billing_close(AUG, chunk_size=2)
        run = BillingRun.objects.get(period=AUG)
        assert run.status == RunStatus.DONE
        assert run.finished_at is not None
        assert run.rules_profile == "ru-354-current"
        chunks = list(run.chunks.order_by("first_account_id"))
        assert [c.status for c in chunks] == ["done"] * 3
        assert sum(c.accounts_closed for c in chunks) == 5

    def test_norm_without_a_required_meter_and_residents_changing_in_the_month(self, prices):
        plain = AccountFactory(rooms=2, residents=2, meter_required=False)
        moved = AccountFactory(rooms=2, residents=2, meter_required=False)
        ResidentsChange.objects.create(account=moved, effective_from=date(2024, 1, 1), residents=2)
        ResidentsChange.objects.create(account=moved, effective_from=date(2025, 8, 16), residents=3)
        billing_close(AUG)
        # 78 × 2 = 156 kWh × 7.87 = 1227.72
        assert lines(plain, AUG) == [("norm", None, 0, 1, D("156.000"), D("7.87"), D("1227.72"))]
        # 2 residents × 78 for 15 days of 31, 3 × 61 for 16: (2340 + 2928) / 31 = 169.935 kWh
        # × 7.87 = 1337.388... → 1337.39
        assert lines(moved, AUG) == [("norm", None, 0, 1, D("169.935"), D("7.87"), D("1337.39"))]
        entry = LedgerEntry.objects.get(account=moved)
        assert entry.detail == {"residents": "2×78.000×0.4839+3×61.000×0.5161"}

    def test_rollover_and_missing_reading(self, prices):
        rolled = MeterFactory(zones=1, digits=5, initial_t1=D(99000))
        reading(rolled, JUL, 99950)
        reading(rolled, AUG, 30)  # 100000 - 99950 + 30 = 80 kWh
        quiet = MeterFactory(zones=1, installed_on=date(2024, 12, 20), initial_t1=D(0))
        # Six months of history, 2025-01..2025-07: 700 kWh over the 6 months from January → 116.667
        for number, value in enumerate((100, 220, 330, 450, 560, 680, 800), start=1):
            reading(quiet, month(2025, number), value)
        billing_close(AUG)
        assert lines(rolled.account, AUG) == [
            ("actual", rolled.pk, 1, 1, D("80.000"), D("7.87"), D("629.60"))
        ]
        assert LedgerEntry.objects.get(account=rolled.account).detail["rollover"] == "1"
        # 116.667 × 7.87 = 918.16929 → 918.17
        assert lines(quiet.account, AUG) == [
            ("average", quiet.pk, 1, 1, D("116.667"), D("7.87"), D("918.17"))
        ]
        entry = LedgerEntry.objects.get(account=quiet.account)
        assert entry.reason == "readings_missing"
        assert entry.detail == {"average_from": "2025-07", "run": "1", "limit": "6"}

    def test_superseded_readings_and_the_control_reading(self, prices):
        meter = MeterFactory(zones=1)
        reading(meter, JUL, 1150)
        ReadingFactory(meter=meter, period=AUG, t1=D(1900), status=ReadingStatus.SUPERSEDED)
        reading(meter, AUG, 1300)
        inspected = MeterFactory(zones=1)
        reading(inspected, JUL, 1150)
        reading(inspected, AUG, 1300)
        reading(inspected, AUG, 1250, kind=ReadingKind.CONTROL)  # the inspector's value wins
        billing_close(AUG)
        assert lines(meter.account, AUG) == [
            ("actual", meter.pk, 1, 1, D("150.000"), D("7.87"), D("1180.50"))
        ]
        assert lines(inspected.account, AUG) == [
            ("control", inspected.pk, 1, 1, D("100.000"), D("7.87"), D("787.00"))
        ]
        close = AccountClose.objects.get(account=inspected.account)
        assert close.basis == "control"
        assert close.charges + close.recalculations == close.closing_balance == D("787.00")

    def test_accounts_not_open_in_the_month_are_not_closed(self, prices):
        AccountFactory(opened_on=date(2025, 9, 1), meter_required=False)
        AccountFactory(opened_on=date(2024, 1, 1), closed_on=date(2025, 7, 31), meter_required=False)
        last_day = AccountFactory(opened_on=date(2025, 8, 31), meter_required=False)
        closed_in_month = AccountFactory(closed_on=date(2025, 8, 1), meter_required=False)
        summary = billing_close(AUG)
        assert summary.accounts == 2
        assert set(AccountClose.objects.values_list("account_id", flat=True)) == {
            last_day.pk,
            closed_in_month.pk,
        }

    def test_a_failed_meter_is_billed_by_average(self, prices):
        meter = MeterFactory(zones=1, installed_on=date(2024, 12, 20), initial_t1=D(0))
        for number, value in enumerate((100, 220, 330, 450, 560, 680, 800), start=1):
            reading(meter, month(2025, number), value)
        meter.status = MeterStatus.FAILED
        meter.failed_on = date(2025, 8, 5)
        meter.save()
        reading(meter, AUG, 900)  # a failed meter's reading is not used
        billing_close(AUG)
        entry = LedgerEntry.objects.get(account=meter.account)
        assert (entry.basis, entry.reason, entry.volume) == ("average", "meter_failed", D("116.667"))
        assert entry.detail["limit"] == "3"


class TestIdempotency:
    def test_closing_twice_changes_nothing(self, august):
        first = billing_close(AUG, chunk_size=2)
        before = (counts(), ledger_snapshot(), closes_snapshot(), states_snapshot())
        chunks = list(BillingChunk.objects.values_list("id", "status", "accounts_closed", "finished_at"))
        again = billing_close(AUG, chunk_size=2)
        assert again.already_closed
        assert again.closed_now == 0
        assert again.accounts == first.accounts == 5
        assert again.by_basis == first.by_basis
        assert again.charges == first.charges
        assert (counts(), ledger_snapshot(), closes_snapshot(), states_snapshot()) == before
        assert (
            list(BillingChunk.objects.values_list("id", "status", "accounts_closed", "finished_at")) == chunks
        )

    def test_a_chunk_closed_again_does_nothing(self, august):
        billing_close(AUG, chunk_size=2)
        before = (counts(), ledger_snapshot())
        for chunk in BillingChunk.objects.all():
            assert chunk_close(chunk.pk) == 0
        # Even a chunk marked pending again skips the accounts it closed already.
        BillingChunk.objects.update(status="pending")
        for chunk in BillingChunk.objects.all():
            assert chunk_close(chunk.pk) == 0
        assert (counts(), ledger_snapshot()) == before

    def test_a_closed_month_is_never_silently_rebilled(self, august):
        billing_close(AUG)
        before = (counts(), ledger_snapshot(), closes_snapshot(), states_snapshot())
        # Data of the closed month changes afterwards: a late control reading, a new price.
        reading(august["one"], AUG, 1250, kind=ReadingKind.CONTROL)
        august["no_meter"].residents = 5
        august["no_meter"].save()
        summary = billing_close(AUG)
        assert summary.already_closed
        assert (counts(), ledger_snapshot(), closes_snapshot(), states_snapshot()) == before

    def test_accounts_created_after_the_close_are_closed_by_a_rerun_exactly_once(self, august):
        billing_close(AUG, chunk_size=2)
        before = ledger_snapshot()
        late = MeterFactory(zones=1)
        reading(late, JUL, 1150)
        reading(late, AUG, 1200)
        unmetered = AccountFactory(meter_required=False)
        summary = billing_close(AUG, chunk_size=2)
        assert summary.closed_now == 2
        assert summary.accounts == 7
        assert not summary.already_closed
        assert BillingRun.objects.get(period=AUG).status == RunStatus.DONE
        assert lines(late.account, AUG) == [("actual", late.pk, 1, 1, D("50.000"), D("7.87"), D("393.50"))]
        assert AccountClose.objects.filter(account=unmetered).count() == 1
        after = ledger_snapshot()
        assert after - before == ledger_snapshot(account_ids=[late.account_id, unmetered.pk])
        assert not before - after
        again = billing_close(AUG, chunk_size=2)
        assert again.already_closed
        assert ledger_snapshot() == after
        assert AccountClose.objects.filter(period=AUG).count() == 7

    def test_a_rerun_of_a_month_never_bills_behind_a_later_closed_month(self, prices):
        """An account opened in August but created after August was closed: September's close
        bills it (its first statement). Closing August again must not then post August lines
        behind September's statement: the statements would no longer chain, and the balance
        would hold a charge that no statement asks for (and that accrues a penalty).

        Fails while ``run_prepare`` adds chunks for new accounts to a done run whatever months
        were closed after it, and ``close_accounts`` closes an account that has a later close
        (close_read.py: the accounts query needs ``AND NOT EXISTS (SELECT 1 FROM <close> c2 WHERE
        c2.account_id = a.id AND c2.period > %s)``, or ``run_prepare`` must not reopen a run
        older than the last closed month)."""
        AccountFactory(meter_required=False)
        billing_close(AUG)
        late = AccountFactory(meter_required=False, opened_on=date(2025, 8, 1))
        billing_close(SEP)
        billing_close(AUG)
        closes = list(AccountClose.objects.filter(account=late).order_by("period"))
        for earlier, later in itertools.pairwise(closes):
            assert later.opening_balance == earlier.closing_balance
        assert account_balance(late) == closes[-1].closing_balance


# --- chunk independence --------------------------------------------------------------------------


def _varied_accounts(count: int = 30, seed: int = 7) -> None:
    """Accounts of every kind with a year of history (some gaps, rollovers, failed meters)."""
    rng = random.Random(seed)
    for index in range(count):
        kind = index % 6
        if kind == 5:
            AccountFactory(
                rooms=rng.randint(1, 4), residents=rng.randint(1, 5), meter_required=(index // 6) % 2 == 0
            )
            continue
        zones = (1, 2, 3, 2, 1)[kind]
        category = RURAL if kind == 3 else GAS
        start = rng.randint(0, 99_000) if kind != 4 else 99_500
        meter = MeterFactory(
            account=AccountFactory(category=category, rooms=rng.randint(1, 3), residents=rng.randint(1, 4)),
            zones=zones,
            digits=5,
            installed_on=date(2024, 7, 15),
            initial_t1=D(start),
            initial_t2=D(start // 2) if zones > 1 else None,
            initial_t3=D(start // 3) if zones > 2 else None,
        )
        values = [D(start), D(start // 2), D(start // 3)][:zones]
        for period in [month(2024, m) for m in range(8, 13)] + [month(2025, m) for m in range(1, 10)]:
            values = [(v + rng.randint(20, 200)) % 100_000 for v in values]
            if rng.random() < 0.25 and period >= month(2025, 6):
                continue  # missing
            reading(meter, period, *values)
        if index % 11 == 0:
            meter.failed_on = date(2025, 8, 20)
            meter.status = MeterStatus.FAILED
            meter.save()


def test_chunk_size_does_not_change_the_result(prices):
    _varied_accounts()
    results = []
    for size in (1, 7, 1000):
        billing_close(AUG, chunk_size=size, force=True)
        billing_close(SEP, chunk_size=size)
        assert BillingRun.objects.get(period=AUG).chunks.count() == -(-30 // size)
        results.append(
            (
                {
                    (e.account_id, e.period, e.basis, e.meter_id, e.zone, e.band, e.volume, e.price, e.amount)
                    for e in LedgerEntry.objects.all()
                },
                LedgerEntry.objects.count(),
                {c[:1] + c[2:] for c in closes_snapshot()},
                {(*s[:3], state_loads(s[3])) for s in states_snapshot()},
            )
        )
        wipe_billing()
    assert results[0][1] > 60
    assert results[0] == results[1] == results[2]
    bases = {basis for (_a, _p, basis, *_rest) in results[0][0]}
    assert {"actual", "average", "norm", "norm_increased", "recalculation"} <= bases


# --- month sequencing and states carried from month to month -----------------------------------


class TestSequencing:
    def test_a_month_after_a_gap_is_refused_unless_forced(self, august):
        billing_close(AUG)
        with pytest.raises(CloseError, match="close 2025-09 first"):
            billing_close(OCT)
        assert not BillingRun.objects.filter(period=OCT).exists()
        summary = billing_close(OCT, force=True)
        assert summary.accounts == 5

    def test_a_month_before_the_last_closed_one_is_refused(self, august):
        billing_close(AUG)
        billing_close(SEP)
        with pytest.raises(CloseError, match="before the last closed month"):
            billing_close(JUL)

    def test_a_month_after_an_unfinished_one_is_refused(self, august, monkeypatch):
        billing_close(AUG)
        from meterdesk.domain import billing as engine

        monkeypatch.setattr(engine, "bill_account", _raising)
        with pytest.raises(RuntimeError):
            billing_close(SEP)
        monkeypatch.undo()
        assert BillingRun.objects.get(period=SEP).status == RunStatus.RUNNING
        with pytest.raises(CloseError, match="close 2025-09 first"):
            billing_close(OCT)

    def test_the_first_close_needs_no_previous_month(self, august):
        assert billing_close(AUG).accounts == 5

    def test_three_missing_months_then_a_reading(self, prices):
        """Average for three months, then the actual reading and the estimates reversed."""
        meter = MeterFactory(zones=2, installed_on=date(2024, 12, 20), initial_t1=D(0), initial_t2=D(0))
        # 2025-01..2025-07: from January to July T1 +700 and T2 +350 in 6 months → 116.667 / 58.333
        history = [(100, 50), (220, 110), (330, 165), (450, 225), (560, 280), (680, 340), (800, 400)]
        for number, values in enumerate(history, start=1):
            reading(meter, month(2025, number), *values)
        account = meter.account
        for period in (AUG, SEP, OCT):
            billing_close(period, force=period == AUG)
            # 116.667 × 9.45 = 1102.503; 58.333 × 4.08 = 237.999
            assert lines(account, period) == [
                ("average", meter.pk, 1, 1, D("116.667"), D("9.45"), D("1102.50")),
                ("average", meter.pk, 2, 1, D("58.333"), D("4.08"), D("238.00")),
            ]
        oct_state = state_loads(MeterBillingState.objects.get(meter=meter, period=OCT).data)
        assert oct_state.estimated == (D("350.001"), D("174.999"))
        assert oct_state.estimated_periods == (AUG, SEP, OCT)
        assert oct_state.missing_run == 3
        assert oct_state.raw == (D(800), D(400))
        reading(meter, NOV, 1280, 630)
        billing_close(NOV)
        # Since July: 480 and 230 kWh actual; the 350.001 / 174.999 billed by average are reversed.
        assert lines(account, NOV) == [
            ("actual", meter.pk, 1, 1, D("480.000"), D("9.45"), D("4536.00")),
            ("actual", meter.pk, 2, 1, D("230.000"), D("4.08"), D("938.40")),
            ("recalculation", meter.pk, 1, 1, D("-350.001"), D("9.45"), D("-3307.51")),
            ("recalculation", meter.pk, 2, 1, D("-174.999"), D("4.08"), D("-714.00")),
        ]
        recalc = LedgerEntry.objects.get(account=account, period=NOV, basis="recalculation", zone=1)
        assert recalc.kind == EntryKind.RECALCULATION
        assert recalc.reason == "estimates_reversed"
        assert recalc.detail == {"from": "2025-08", "to": "2025-10", "months": "3"}
        actual = LedgerEntry.objects.get(account=account, period=NOV, basis="actual", zone=1)
        assert actual.detail == {"since": "2025-07", "months": "4"}
        nov = AccountClose.objects.get(account=account, period=NOV)
        assert nov.basis == "actual"
        assert nov.charges == D("5474.40")
        assert nov.recalculations == D("-4021.51")
        state = state_loads(MeterBillingState.objects.get(meter=meter, period=NOV).data)
        assert state.estimated_periods == ()
        assert state.missing_run == 0
        assert state.raw == (D(1280), D(630))
        # Statements chain: each opening is the previous closing.
        closes = list(AccountClose.objects.filter(account=account).order_by("period"))
        assert [c.period for c in closes] == [AUG, SEP, OCT, NOV]
        for earlier, later in itertools.pairwise(closes):
            assert later.opening_balance == earlier.closing_balance
        for c in closes:
            assert (
                c.closing_balance == c.opening_balance + c.charges + c.recalculations + c.payments + c.penalty
            )
        assert account_balance(account) == closes[-1].closing_balance

    def test_states_carry_without_the_readings_of_earlier_months(self, august):
        """After the first close, a month is billed from the stored state, not from the readings."""
        billing_close(AUG)
        one = august["one"]
        # History rewritten after the close (it would change a bootstrap): the state decides.
        reading(one, month(2025, 6), 1)
        reading(one, SEP, 1400)
        billing_close(SEP)
        assert lines(one.account, SEP) == [("actual", one.pk, 1, 1, D("100.000"), D("7.87"), D("787.00"))]


def _raising(*args, **kwargs):
    raise RuntimeError("the engine failed")


def test_a_meter_commissioned_in_the_month_bills_by_norm_until_the_next(prices):
    account = AccountFactory(rooms=2, residents=2)
    meter = MeterFactory(account=account, zones=1, installed_on=date(2025, 8, 12), initial_t1=D(10))
    reading(meter, SEP, 160)
    billing_close(AUG)
    # Commissioned in August: the norm (no increasing coefficient) until September.
    assert lines(account, AUG) == [("norm", None, 0, 1, D("156.000"), D("7.87"), D("1227.72"))]
    assert LedgerEntry.objects.get(account=account).reason == "meter_being_commissioned"
    billing_close(SEP)
    assert lines(account, SEP) == [("actual", meter.pk, 1, 1, D("150.000"), D("7.87"), D("1180.50"))]


def test_old_prices_apply_to_an_old_month(prices):
    meter = MeterFactory(zones=2)
    reading(meter, month(2025, 5), 1200, 580)
    reading(meter, month(2025, 6), 1400, 650)
    billing_close(month(2025, 6))
    # June 2025 is before the 2025-07-01 prices: 8.47 / 3.43
    assert lines(meter.account, month(2025, 6)) == [
        ("actual", meter.pk, 1, 1, D("200.000"), D("8.47"), D("1694.00")),
        ("actual", meter.pk, 2, 1, D("70.000"), D("3.43"), D("240.10")),
    ]


def test_due_date_is_the_tenth_of_the_next_month_also_in_december(prices):
    AccountFactory(meter_required=False)
    billing_close(month(2025, 12))
    assert AccountClose.objects.get().due_date == date(2026, 1, 10)
    assert LedgerEntry.objects.get().posted_on == date(2025, 12, 31) == month(2025, 12) + timedelta(days=30)


def test_closes_through_the_database_bill_as_the_engine_chained_in_memory(prices):
    """Month by month, the states stored by the close (and read back) give the same lines as the
    engine's own states: averages, then the norm, then a reading that reverses both, on a tariff with
    volume bands (whose limits scale with the months each reversal covers)."""
    from meterdesk.billing.pricing import DbPricing
    from meterdesk.domain import billing as engine
    from meterdesk.domain.bootstrap import state_from_history
    from meterdesk.domain.profiles import profile_load
    from meterdesk.utility.selectors import utility_get

    utility = utility_get()
    utility.rules_profile = "ru-354-2012"  # 3 months by average, then the norm
    utility.save()
    profile = profile_load("ru-354-2012")
    account = AccountFactory(category=RURAL, rooms=2, residents=2)
    meter = MeterFactory(
        account=account, zones=2, installed_on=date(2024, 12, 20), initial_t1=D(0), initial_t2=D(0)
    )
    history = [(100, 50), (220, 110), (330, 165), (450, 225), (560, 280), (680, 340), (800, 400)]
    for number, values in enumerate(history, start=1):
        reading(meter, month(2025, number), *values)
    reading(meter, month(2025, 12), 1700, 860)
    periods = [AUG, SEP, OCT, NOV, month(2025, 12)]

    info = engine.MeterInfo(meter.pk, 2, 5, meter.installed_on, (D(0), D(0)), failed_from=date(2040, 1, 2))
    state = state_from_history(
        info, [(month(2025, n), (D(a), D(b))) for n, (a, b) in enumerate(history, start=1)], profile
    )
    pricing = DbPricing("moscow")
    who = engine.AccountInfo(account.pk, RURAL, 2, ((account.opened_on, 2),), True)
    expected = {}
    for period in periods:
        month_reading = engine.MonthReading((D(1700), D(860))) if period == month(2025, 12) else None
        bill = engine.bill_account(who, [(info, state, month_reading)], period, pricing, profile)
        state = bill.states[meter.pk]
        expected[period] = sorted(
            ((li.basis, li.meter_id, li.zone, li.band, li.volume, li.price, li.amount) for li in bill.lines),
            key=lambda t: (t[0], t[1] or 0, t[2], t[3]),
        )

    for period in periods:
        billing_close(period, force=period == AUG)
    got = {period: lines(account, period) for period in periods}
    assert [{li[0] for li in got[p]} for p in periods] == [
        {"average"},
        {"average"},
        {"average"},
        {"norm"},
        {"actual", "recalculation"},
    ]
    # Fails while the codec drops MeterState.norm_periods: December's reversal of the three months
    # by average is then priced with the band limits of four months.
    assert got == expected


def test_readings_with_a_decimal_part(prices):
    """A meter whose decimal part the utility accepts: 1100.6 − 1000.1 = 100.5 kWh × 7.87 = 790.935
    → 790.94 (half up).

    Fails on SQLite while the close reads the values of readings (and meters' initial values) from
    its raw cursor as ``Decimal(float)``: SQLite gives a decimal column back as a float, 1100.6 is
    then 1100.5999999999999090…, the consumption 100.4999999999998863… and the amount 790.93."""
    meter = MeterFactory(zones=1, decimal_places=1, initial_t1=D("999.9"))
    reading(meter, JUL, "1000.1")
    reading(meter, AUG, "1100.6")
    billing_close(AUG)
    assert lines(meter.account, AUG) == [("actual", meter.pk, 1, 1, D("100.500"), D("7.87"), D("790.94"))]
    state = state_loads(MeterBillingState.objects.get(meter=meter, period=AUG).data)
    assert state.raw == (D("1100.6"),)
    assert state.last.totals == (D("100.7"),)  # 1100.6 − 999.9 since installation
