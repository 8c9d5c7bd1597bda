"""The close's set-based fast path (PostgreSQL) writes exactly what the engine writes (on SQLite,
asking for it closes every account through the engine, with the same rows).

Each month of a varied utility is closed twice on the same data — every account through the Python
engine, then with the common case in SQL — each time in a savepoint rolled back, and every ledger
line, meter state and statement written is compared (all columns but the ids); then the month is
closed for good and the next month starts from it. The data mixes the common case with everything
the fast path leaves to the engine: missing readings, estimates to true up (by average and by
norm), rollovers, control and final readings, replacements, failed meters, band tariffs, meters
without a state yet, accounts without a meter or opened late, zero consumption, decimal
readings, payments, corrections and paid services posted in the month, debts that accrue a penalty, meters
moved to another account.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from meterdesk.billing import fast_path as fast_path_module
from meterdesk.billing.close_engine import close_accounts
from meterdesk.billing.fast_path import fast_path_available
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.pricing import DbPricing
from meterdesk.billing.tests.helpers import GAS, RURAL, D
from meterdesk.customers.models import Account, ResidentsChange
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind
from meterdesk.testing import MOSCOW, AccountFactory, MeterFactory, ReadingFactory
from meterdesk.utility.selectors import utility_get

pytestmark = pytest.mark.django_db

FIRST = date(2025, 6, 1)  # the first reading of every meter
MONTHS = [date(2025, m, 1) for m in range(7, 13)]  # the months closed, in turn
NOW = datetime(2026, 1, 5, 12, tzinfo=timezone.get_default_timezone())

SNAPSHOT_SQL = (
    "SELECT account_id, period, posted_on, kind, basis, meter_id, zone, band, volume, price, amount, "
    "reason, CAST(detail AS TEXT), run_id, created_at, corrects_id, external_id FROM billing_ledgerentry "
    "WHERE period = %s AND kind <> 'payment'",
    "SELECT meter_id, account_id, period, CAST(data AS TEXT) FROM billing_meterbillingstate WHERE period = %s",
    "SELECT account_id, period, run_id, basis, opening_balance, charges, recalculations, payments, "
    "penalty, closing_balance, due_date, closed_at FROM billing_accountclose WHERE period = %s",
)


def test_the_fast_path_is_postgresql_only():
    """On SQLite every account goes through the engine, even when the fast path is asked for."""
    assert fast_path_available(True) == (connection.vendor == "postgresql")
    assert not fast_path_available(False)


def _fast(n: int) -> int:
    """How many accounts the fast path closes where the test expects ``n`` of them on PostgreSQL:
    on SQLite, asking for it must close every account through the engine, with the same rows."""
    return n if connection.vendor == "postgresql" else 0


def _snapshot(period: date) -> list[Counter[tuple[Any, ...]]]:
    out = []
    with connection.cursor() as cur:
        for sql in SNAPSHOT_SQL:
            cur.execute(sql, [period])
            out.append(Counter(cur.fetchall()))
    return out


class _FastCounter:
    """Counts the accounts the SQL fast path closes (wrapping ``fast_close``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.closed = 0
        real = fast_path_module.fast_close

        def counting(*args: Any, **kwargs: Any) -> int:
            n = real(*args, **kwargs)
            self.closed += n
            return n

        monkeypatch.setattr(fast_path_module, "fast_close", counting)


def _close(period: date, fast: bool, chunks: list[tuple[int, int]]) -> int:
    utility = utility_get()
    profile = profile_load(utility.rules_profile)
    pricing = DbPricing(utility.tariff_region)
    return sum(
        close_accounts(
            run=None,
            first_id=lo,
            last_id=hi,
            period=period,
            profile=profile,
            pricing=pricing,
            now=NOW,
            fast=fast,
        )
        for lo, hi in chunks
    )


def _both_ways(period: date, chunks: list[tuple[int, int]], counter: _FastCounter) -> tuple[int, int]:
    """Close ``period`` without and with the fast path (rolled back), compare, then close it for
    good with the fast path. Returns (accounts closed, of which by the fast path)."""
    results = []
    for fast in (False, True):
        before = counter.closed
        sid = transaction.savepoint()
        n = _close(period, fast, chunks)
        results.append((n, _snapshot(period), counter.closed - before))
        transaction.savepoint_rollback(sid)
    (n_engine, engine_rows, by_fast_off), (n_fast, fast_rows, by_fast) = results
    assert by_fast_off == 0
    assert n_engine == n_fast
    for name, a, b in zip(("ledger", "states", "statements"), engine_rows, fast_rows, strict=True):
        assert a == b, (
            f"{period:%Y-%m} {name}: only by the engine {sorted((a - b).elements())[:3]}, "
            f"only with the fast path {sorted((b - a).elements())[:3]}"
        )
    assert _close(period, True, chunks) == n_fast
    return n_fast, by_fast


def _value(rng: random.Random, decimals: bool) -> Decimal:
    used = D(rng.choice([0, 0, *range(1, 400)]))
    if decimals:
        used += D(rng.randrange(1000)) / 1000
    return used


def _build(rng: random.Random, n: int) -> None:
    """``n`` accounts of every kind, with readings from June to December 2025."""
    for i in range(n):
        rural = rng.random() < 0.15
        opened = date(2024, 1, 1) if rng.random() > 0.04 else date(2025, 9, 12)
        account = AccountFactory(
            category=RURAL if rural else GAS,
            rooms=rng.randint(1, 4),
            residents=rng.randint(1, 4),
            opened_on=opened,
        )
        if rng.random() < 0.05:
            ResidentsChange.objects.create(
                account=account,
                effective_from=date(2025, rng.randint(7, 12), rng.randint(1, 28)),
                residents=rng.randint(1, 5),
                reported_on=date(2025, 6, 1),
            )
        meters = 0 if rng.random() < 0.05 else (2 if rng.random() < 0.1 else 1)
        for _m in range(meters):
            _meter(rng, account, rural, i)


def _meter(rng: random.Random, account: Any, rural: bool, i: int) -> None:
    zones = rng.choice([1, 2]) if rural else rng.choice([1, 1, 2, 2, 3])
    digits = 5
    near_max = rng.random() < 0.08
    start = [
        D(99_900 + rng.randrange(90)) if near_max else D(rng.randrange(1000, 50_000)) for _ in range(zones)
    ]
    failed_on = None
    verification_due = date(2040, 1, 1)
    status = MeterStatus.ACTIVE
    roll = rng.random()
    if roll < 0.03:
        failed_on = date(2025, rng.randint(8, 12), rng.randint(1, 28))
    elif roll < 0.06:
        verification_due = date(2025, rng.randint(8, 12), rng.randint(1, 28))
    elif roll < 0.07:
        status = MeterStatus.FAILED
    # A meter installed in the month closed (commissioning) or just before it.
    installed = date(2024, 1, 10) if rng.random() > 0.03 else date(2025, rng.randint(7, 11), 14)
    meter = MeterFactory(
        account=account,
        zones=zones,
        digits=digits,
        installed_on=installed,
        verification_due=verification_due,
        failed_on=failed_on,
        status=status,
        initial_t1=start[0] if installed.year == 2025 else D(0),
        initial_t2=(start[1] if installed.year == 2025 else D(0)) if zones >= 2 else None,
        initial_t3=(start[2] if installed.year == 2025 else D(0)) if zones >= 3 else None,
    )
    decimals = rng.random() < 0.1
    values = list(start)
    removed_in = date(2025, rng.randint(8, 11), 1) if rng.random() < 0.03 else None
    month = FIRST if installed.year == 2024 else date(installed.year, installed.month, 1)
    while month <= MONTHS[-1]:
        values = [(v + _value(rng, decimals)) % D(10) ** digits for v in values]
        if removed_in is not None and month == removed_in:
            _reading(meter, month, values, ReadingKind.FINAL)
            Meter.objects.filter(pk=meter.pk).update(removed_on=month.replace(day=20))
            MeterFactory(
                account=account,
                zones=zones,
                installed_on=month.replace(day=20),
                initial_t1=D(0),
                initial_t2=D(0) if zones >= 2 else None,
                initial_t3=D(0) if zones >= 3 else None,
            )
            break
        if rng.random() < 0.88 or month == FIRST:
            _reading(meter, month, values, ReadingKind.CUSTOMER)
        if rng.random() < 0.05:
            # The inspector before the household (whose later reading counts), on the same day
            # or after it; some agree with the household's values.
            agree = rng.random() < 0.3
            control = list(values) if agree else [max(D(0), v - D(rng.randrange(0, 30))) for v in values]
            _reading(meter, month, control, ReadingKind.CONTROL, day=rng.choice((10, 20, 25)))
        month = add_months(month, 1)


def _reading(meter: Meter, period: date, values: list[Decimal], kind: str, day: int = 20) -> None:
    padded = [*values, None, None]
    moment = datetime.combine(period.replace(day=day), time(12), tzinfo=MOSCOW)
    ReadingFactory(
        meter=meter, period=period, t1=padded[0], t2=padded[1], t3=padded[2], kind=kind, submitted_at=moment
    )


def _money_after(rng: random.Random, period: date) -> None:
    """Payments (most on time, some partly, some never) and a few corrections, posted in
    ``period`` before it is closed."""
    from meterdesk.billing.models import AccountClose

    previous = add_months(period, -1)
    for close in AccountClose.objects.filter(period=previous):
        roll = rng.random()
        due = close.closing_balance
        if due <= 0 or roll < 0.12:
            continue
        amount = due if roll > 0.3 else (due / 2).quantize(D("0.01"))
        LedgerEntry.objects.create(
            account_id=close.account_id,
            period=period,
            posted_on=period.replace(day=rng.randint(1, 25)),
            kind=EntryKind.PAYMENT,
            amount=-amount,
            external_id=f"pay-{close.account_id}-{period:%Y%m}",
        )
        if rng.random() < 0.04:
            LedgerEntry.objects.create(
                account_id=close.account_id,
                period=period,
                posted_on=period.replace(day=3),
                kind=EntryKind.CORRECTION,
                amount=D(rng.randrange(-5000, 5000)) / 100,
                reason="rebill",
            )
        if rng.random() < 0.05:  # a paid service done in the month (``orders``)
            LedgerEntry.objects.create(
                account_id=close.account_id,
                period=period,
                posted_on=period.replace(day=5),
                kind=EntryKind.SERVICE,
                basis="service",
                amount=D("3500.00"),
                external_id=f"service:{close.account_id}-{period:%Y%m}",
            )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_fast_path_closes_varied_months_exactly_as_the_engine(prices, monkeypatch, seed):
    rng = random.Random(seed)
    _build(rng, 160)
    ids = sorted(Account.objects.values_list("id", flat=True))
    # A few meters moved to the next account after their readings (which keep the old account):
    # the close finds a meter's rows by the row's account in the chunk, both ways.
    category = dict(Account.objects.values_list("id", "category"))
    for meter in rng.sample(list(Meter.objects.order_by("pk")), 6):
        position = ids.index(meter.account_id)
        if position + 1 < len(ids) and category[ids[position + 1]] == category[meter.account_id]:
            Meter.objects.filter(pk=meter.pk).update(account_id=ids[position + 1])
    # Chunks of unequal size, as a run would cut them.
    chunks = [(ids[0], ids[40]), (ids[41], ids[99]), (ids[100], ids[-1])]
    counter = _FastCounter(monkeypatch)
    total_fast = 0
    for period in MONTHS:
        if period != MONTHS[0]:
            _money_after(rng, period)
        closed, by_fast = _both_ways(period, chunks, counter)
        assert closed > 0
        if period != MONTHS[0] and _fast(1):  # the first month has no states yet: all by the engine
            assert 0 < by_fast < closed, (period, by_fast, closed)
        else:
            assert by_fast == 0, (period, by_fast)
        total_fast += by_fast
    assert total_fast > 300 if _fast(1) else total_fast == 0
    # The fast path did meet what it handles beyond plain charges.
    kinds = set(LedgerEntry.objects.values_list("kind", "basis"))
    assert {("charge", "actual"), ("recalculation", "recalculation"), ("penalty", "")} <= kinds
    # And so did the engine, with the month's reading chosen by the dates: a control reading
    # before the household's, on its day and after it.
    assert ("charge", "control") in kinds
    days = {r.submitted_at.astimezone(MOSCOW).day for r in Reading.objects.filter(kind=ReadingKind.CONTROL)}
    assert days == {10, 20, 25}


def test_true_ups_and_zero_consumption_by_the_fast_path(prices, monkeypatch):
    """Hand-checked: a month estimated by average, then a reading: the fast path writes the actual
    line for the two months since the last reading and reverses the estimate at this month's
    prices; a meter that did not turn writes no charge line."""
    counter = _FastCounter(monkeypatch)
    jul, aug, sep, oct_ = (date(2025, m, 1) for m in (7, 8, 9, 10))
    estimated = MeterFactory(zones=2)
    idle = MeterFactory(zones=1)
    for month, t1, t2 in ((date(2025, 1, 1), 1000, 500), (jul, 1600, 800), (aug, 1700, 850)):
        ReadingFactory(meter=estimated, period=month, t1=D(t1), t2=D(t2))
        ReadingFactory(meter=idle, period=month, t1=D(t1), t2=None, t3=None)
    chunks = [(0, 10**9)]
    for month in (jul, aug):
        _both_ways(month, chunks, counter)
    # September: no reading for the two-zone meter (average); October: a reading.
    ReadingFactory(meter=idle, period=sep, t1=D(1700), t2=None, t3=None)
    _both_ways(sep, chunks, counter)
    ReadingFactory(meter=estimated, period=oct_, t1=D(1950), t2=D(960))
    ReadingFactory(meter=idle, period=oct_, t1=D(1700), t2=None, t3=None)
    assert _both_ways(oct_, chunks, counter) == (2, _fast(2))
    rows = sorted(
        LedgerEntry.objects.filter(
            period=oct_, account=estimated.account, kind__in=("charge", "recalculation")
        ).values_list("kind", "zone", "volume", "price", "amount", "detail")
    )
    average = LedgerEntry.objects.filter(period=sep, account=estimated.account, basis="average")
    assert average.count() == 2
    avg = {e.zone: D(e.volume or 0) for e in average}
    assert rows == [
        ("charge", 1, D("250.000"), D("9.45"), D("2362.50"), {"since": "2025-08", "months": "2"}),
        ("charge", 2, D("110.000"), D("4.08"), D("448.80"), {"since": "2025-08", "months": "2"}),
        (
            "recalculation",
            1,
            -avg[1],
            D("9.45"),
            -(avg[1] * D("9.45")).quantize(D("0.01"), ROUND_HALF_UP),
            {"from": "2025-09", "to": "2025-09", "months": "1"},
        ),
        (
            "recalculation",
            2,
            -avg[2],
            D("4.08"),
            -(avg[2] * D("4.08")).quantize(D("0.01"), ROUND_HALF_UP),
            {"from": "2025-09", "to": "2025-09", "months": "1"},
        ),
    ]
    assert not LedgerEntry.objects.filter(period=oct_, account=idle.account, kind="charge").exists()


def test_a_norm_estimate_is_reversed_by_the_fast_path(prices, monkeypatch):
    """A meter commissioned in June, no reading in July (too young for an average: the norm),
    a reading in August: August is closed by the fast path, with the norm volume reversed at the
    single-rate price, exactly as the engine does."""
    counter = _FastCounter(monkeypatch)
    jun, jul, aug = (date(2025, m, 1) for m in (6, 7, 8))
    meter = MeterFactory(zones=1, installed_on=date(2025, 6, 14), initial_t1=D(100))
    ReadingFactory(meter=meter, period=jun, t1=D(120), t2=None, t3=None)
    chunks = [(0, 10**9)]
    _both_ways(jun, chunks, counter)
    _both_ways(jul, chunks, counter)
    norm = LedgerEntry.objects.get(period=jul, account=meter.account, kind="charge")
    assert norm.basis == "norm"
    ReadingFactory(meter=meter, period=aug, t1=D(400), t2=None, t3=None)
    assert _both_ways(aug, chunks, counter) == (1, _fast(1))
    lines = sorted(
        LedgerEntry.objects.filter(
            period=aug, account=meter.account, kind__in=("charge", "recalculation")
        ).values_list("basis", "zone", "volume", "price", "detail")
    )
    assert lines == [
        ("actual", 1, D("280.000"), D("7.87"), {"since": "2025-06", "months": "2"}),
        (
            "recalculation",
            0,
            -D(norm.volume or 0),
            D("7.87"),
            {"from": "2025-07", "to": "2025-07", "months": "1", "norm": "1"},
        ),
    ]


def test_a_young_meter_average_by_the_fast_path(prices, monkeypatch):
    """A meter installed in March, readings in April to June, none in July: the average over its
    whole actual period since installation (three months, the young-meter rule), by the fast
    path, as the engine computes it."""
    counter = _FastCounter(monkeypatch)
    months = [date(2025, m, 1) for m in (4, 5, 6, 7)]
    meter = MeterFactory(zones=1, installed_on=date(2025, 3, 14), initial_t1=D(1000))
    for month, value in zip(months, (1100, 1250, 1400), strict=False):
        ReadingFactory(meter=meter, period=month, t1=D(value), t2=None, t3=None)
    chunks = [(0, 10**9)]
    for month in months[:3]:
        _both_ways(month, chunks, counter)
    assert _both_ways(months[3], chunks, counter) == (1, _fast(1))
    line = LedgerEntry.objects.get(period=months[3], account=meter.account, kind="charge")
    assert (line.basis, line.volume, line.price, line.amount) == (
        "average",
        D("133.333"),
        D("7.87"),
        D("1049.33"),
    )
    assert line.detail == {"average_from": "2025-06", "run": "1", "limit": "6"}


def test_a_reading_after_five_months_by_average_by_the_fast_path(prices, monkeypatch):
    """Readings January to June, none July to November (by average), a reading in December: the
    fast path trues up the five estimates, and the meter's new anchors are chosen among points
    of which many are six months back or more (every point up to June): only June's is kept."""
    from meterdesk.billing.models import MeterBillingState

    counter = _FastCounter(monkeypatch)
    months = [date(2025, m, 1) for m in range(1, 13)]
    meter = MeterFactory(zones=2, installed_on=date(2024, 12, 10), initial_t1=D(1000), initial_t2=D(500))
    for k, month in enumerate(months[:6], start=1):
        ReadingFactory(meter=meter, period=month, t1=D(1000 + 110 * k), t2=D(500 + 45 * k), t3=None)
    ReadingFactory(meter=meter, period=months[11], t1=D(2500), t2=D(1100), t3=None)
    chunks = [(0, 10**9)]
    for month in months[:11]:
        _both_ways(month, chunks, counter)
    november = MeterBillingState.objects.get(meter=meter, period=months[10]).data
    assert november["missing_run"] == 5
    assert sum(1 for point in november["anchors"] + [november["last"]] if point[0] <= "2025-06") >= 3
    assert _both_ways(months[11], chunks, counter) == (1, _fast(1))
    december = MeterBillingState.objects.get(meter=meter, period=months[11]).data
    assert [point[0] for point in december["anchors"]] == ["2025-06"]
    assert december["last"][0] == "2025-12"
    assert (
        LedgerEntry.objects.filter(period=months[11], account=meter.account, kind="recalculation").count()
        == 2
    )


def test_a_month_with_several_readings_goes_through_the_engine(prices, monkeypatch):
    """Which of a month's readings counts is decided by domain.month_reading, in Python: a meter
    with a control reading besides the household's is left to the engine (the SQL takes a month
    with one customer's reading only), which bills the later one — the household's of the 20th
    after the inspector's of the 10th, the inspector's of the 25th after the household's."""
    counter = _FastCounter(monkeypatch)
    jul, aug = date(2025, 7, 1), date(2025, 8, 1)
    plain, earlier, later = (MeterFactory(zones=1) for _ in range(3))
    for meter in (plain, earlier, later):
        _reading(meter, jul, [D(1150)], ReadingKind.CUSTOMER)
        _reading(meter, aug, [D(1300)], ReadingKind.CUSTOMER, day=20)
    _reading(earlier, aug, [D(1250)], ReadingKind.CONTROL, day=10)
    _reading(later, aug, [D(1250)], ReadingKind.CONTROL, day=25)
    chunks = [(0, 10**9)]
    _both_ways(jul, chunks, counter)
    assert _both_ways(aug, chunks, counter) == (3, _fast(1))
    billed = {
        e.meter_id: (e.kind, e.basis, e.volume, e.amount)
        for e in LedgerEntry.objects.filter(period=aug, kind__in=("charge", "recalculation"))
    }
    assert billed == {
        plain.pk: ("charge", "actual", D("150.000"), D("1180.50")),
        earlier.pk: ("charge", "actual", D("150.000"), D("1180.50")),
        later.pk: ("charge", "control", D("100.000"), D("787.00")),
    }
