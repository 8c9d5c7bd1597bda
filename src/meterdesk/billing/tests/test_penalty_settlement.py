"""The penalty of a debt paid off is settled at the rate of the day of payment, and the difference
is posted once, as a ``penalty_settled`` entry, on the next statement (DOMAIN.md rule 7,
docs/penalties.md; the rule itself: domain/tests/test_penalties.py, TestSettlement).

One account billed 1000.00 for May 2023 (200 kWh x 5.00) and nothing after (its meter stands
still), due 10.06.2023; day 31 = 11.07.2023. The key rate was 7.5 % until 23.07.2023, 8.5 % from
24.07.2023 and 12 % from 15.08.2023 (capped at 9.5 %):

* July accrues 11.07..31.07 = 21 days at the rate of 31.07, 8.5 %: 1000 * 8.5 * 21 / 30000 = 5.95;
* paid on 16.08.2023: August accrues 01.08..15.08 = 15 days at the rate of 16.08, 12 % capped at
  9.5 %: 1000 * 9.5 * 15 / 30000 = 4.75;
* settled at the rate of the day of payment for the whole 11.07..15.08 (36 days):
  1000 * 9.5 * 36 / 30000 = 11.40; accrued 5.95 + 4.75 = 10.70; the correction +0.70, on the
  August statement (the first bill after the payment).

Each month is closed twice on the same data, every account by the engine and then with the
PostgreSQL fast path, and the rows compared (``test_fast_path._both_ways``); on SQLite both are the
engine.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from django.utils import translation

from meterdesk.billing.close import billing_close
from meterdesk.billing.messages import entry_words, penalty_words
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import statement_get
from meterdesk.billing.services import payment_post
from meterdesk.billing.tests.helpers import GAS, D, reading
from meterdesk.billing.tests.test_fast_path import _both_ways, _fast, _FastCounter
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory, link, make_tariff

pytestmark = pytest.mark.django_db

APR, MAY, JUN, JUL, AUG, SEP, OCT = (date(2023, m, 1) for m in range(4, 11))
CHUNKS = [(0, 10**9)]


def _account(value_in_may: int = 1200):
    """A meter read 1000 in April 2023 and ``value_in_may`` from May on (5.00 ₽/kWh)."""
    meter = MeterFactory(
        zones=1,
        installed_on=date(2023, 1, 10),
        initial_t1=D(1000),
        account=AccountFactory(opened_on=date(2023, 1, 1)),
    )
    reading(meter, APR, 1000)
    for month in (MAY, JUN, JUL, AUG, SEP, OCT):
        reading(meter, month, value_in_may)
    return meter.account


@pytest.fixture
def tariff_2023(db):
    make_tariff(category=GAS, prices=("5.00",), valid_from=date(2023, 1, 1))


def _penalties(account, period):
    return list(
        LedgerEntry.objects.filter(account=account, period=period, kind=EntryKind.PENALTY)
        .order_by("pk")
        .values_list("reason", "amount", "detail")
    )


def test_settled_once_on_the_next_statement(tariff_2023, monkeypatch):
    counter = _FastCounter(monkeypatch)
    account = _account()
    for month in (MAY, JUN, JUL):
        _both_ways(month, CHUNKS, counter)
    assert [(r, a) for r, a, _ in _penalties(account, JUL)] == [("late_payment", D("5.95"))]
    payment_post(account=account, amount=D("1000.00"), paid_on=date(2023, 8, 16), external_id="bank-1")
    assert _both_ways(AUG, CHUNKS, counter) == (1, _fast(1))  # the fast path writes it too
    (late, accrued, _), (settled, amount, detail) = _penalties(account, AUG)
    assert (late, accrued, settled, amount) == ("late_payment", D("4.75"), "penalty_settled", D("0.70"))
    assert detail == {
        "debt": "2023-05",
        "paid_off": "2023-08-16",
        "key_rate": "12.00",
        "settled": "11.40",
        "accrued": "10.70",
        "parts": [{"period": "2023-05", "days": 36, "overdue": "1000.00", "rate": "9.5", "divisor": 300}],
    }
    august = AccountClose.objects.get(account=account, period=AUG)
    # Opening 1000.00 + 5.95; penalty 4.75 + 0.70; paid 1000.00: what is owed is the settled 11.40.
    assert (august.penalty, august.payments, august.closing_balance) == (D("5.45"), D("-1000.00"), D("11.40"))
    # Later closes settle nothing more (and the penalty is not a debt: nothing accrues on it).
    for month in (SEP, OCT):
        _both_ways(month, CHUNKS, counter)
        assert _penalties(account, month) == []
    assert LedgerEntry.objects.filter(reason="penalty_settled").count() == 1


def test_the_statement_says_so(tariff_2023, monkeypatch, client):
    counter = _FastCounter(monkeypatch)
    account = _account()
    for month in (MAY, JUN, JUL):
        _both_ways(month, CHUNKS, counter)
    payment_post(account=account, amount=D("1000.00"), paid_on=date(2023, 8, 16), external_id="bank-1")
    _both_ways(AUG, CHUNKS, counter)
    statement = statement_get(account, AUG)
    assert statement is not None
    settled = statement.penalty[1].detail
    with translation.override("en"):
        assert penalty_words(settled) == [
            "The debt for 05.2023 was paid off on 16.08.2023: its penalty for the whole overdue period is "
            "settled at the key rate of that day (12%, capped where a cap is in force), 11.40\u00a0₽ instead "
            "of the 10.70\u00a0₽ charged month by month",
            "36 days late on 1,000.00\u00a0₽ owed for 05.2023: 1/300 of the key rate (9.5%) for each day",
        ]
    with translation.override("en"):  # as a ledger line (the API's charges)
        assert entry_words(statement.penalty[1]) == (
            "penalty on the debt for 05.2023 settled at the key rate of the day of payment"
        )
    with translation.override("ru"):
        assert (
            entry_words(statement.penalty[1])
            == "перерасчёт пеней по долгу за 05.2023 по ключевой ставке на день оплаты"
        )
    # The personal account's statement shows it under the penalty.
    user = UserFactory(email="payer@example.com")
    link(user, account)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    page = client.get(f"/accounts/{account.number}/statements/2023-08/").content.decode()
    assert "5.45" in page and "0.70" in page
    assert "The debt for 05.2023 was paid off on 16.08.2023" in page
    with translation.override("ru"):
        assert penalty_words(settled)[0] == (
            "Долг за 05.2023 погашен 16.08.2023: пени за весь период просрочки пересчитаны по ключевой "
            "ставке на этот день (12%, не выше ограничения, где оно действует) — 11,40\u00a0₽ вместо "
            "10,70\u00a0₽, начисленных помесячно"
        )


def test_a_payment_recorded_after_its_month_was_closed_is_settled_by_the_next_close(tariff_2023, monkeypatch):
    """Paid on 16.08.2023 but recorded after August was closed (posted to September): August
    accrued 31 days on the whole debt at the rate of 31.08, 12 % capped at 9.5 %: 1000 * 9.5 * 31 /
    30000 = 9.8166... -> 9.82. September accrues nothing (paid before it) and settles the debt:
    11.40 - (5.95 + 9.8166...) = -4.3666... -> -4.37, the 16 August days billed after the payment."""
    counter = _FastCounter(monkeypatch)
    account = _account()
    for month in (MAY, JUN, JUL, AUG):
        _both_ways(month, CHUNKS, counter)
    assert [(r, a) for r, a, _ in _penalties(account, AUG)] == [("late_payment", D("9.82"))]
    entry = payment_post(account=account, amount=D("1000.00"), paid_on=date(2023, 8, 16), external_id="late")
    assert entry.period == SEP
    _both_ways(SEP, CHUNKS, counter)
    [(reason, amount, detail)] = _penalties(account, SEP)
    assert (reason, amount, detail["paid_off"], detail["accrued"]) == (
        "penalty_settled",
        D("-4.37"),
        "2023-08-16",
        "15.77",
    )
    september = AccountClose.objects.get(account=account, period=SEP)
    # 1000.00 + 5.95 + 9.82 owed; 1000.00 paid, 4.37 taken back: 11.40.
    assert (september.penalty, september.closing_balance) == (D("-4.37"), D("11.40"))
    _both_ways(OCT, CHUNKS, counter)
    assert _penalties(account, OCT) == []


def test_a_close_resumed_after_a_failure_settles_each_debt_once(tariff_2023, monkeypatch):
    """Two such accounts in two chunks; the second chunk of August fails, the close is run again:
    each account has its settlement once, and a third run of the month changes nothing."""
    from meterdesk.billing import close as close_module

    accounts = [_account(), _account()]
    for month in (MAY, JUN, JUL):
        billing_close(month, chunk_size=1)
    for n, account in enumerate(accounts):
        payment_post(account=account, amount=D("1000.00"), paid_on=date(2023, 8, 16), external_id=f"bank-{n}")
    real = close_module.close_accounts
    calls: list[int] = []

    def failing_second(**kwargs):
        calls.append(kwargs["first_id"])
        if len(calls) == 2:
            raise RuntimeError("the worker died")
        return real(**kwargs)

    monkeypatch.setattr(close_module, "close_accounts", failing_second)
    with pytest.raises(RuntimeError, match="the worker died"):
        billing_close(AUG, chunk_size=1)
    monkeypatch.undo()
    assert Counter(
        LedgerEntry.objects.filter(reason="penalty_settled").values_list("account_id", flat=True)
    ) == {accounts[0].pk: 1}
    billing_close(AUG, chunk_size=1)
    billing_close(AUG, chunk_size=1)
    settled = LedgerEntry.objects.filter(reason="penalty_settled", period=AUG)
    assert sorted(settled.values_list("account_id", "amount")) == [(a.pk, D("0.70")) for a in accounts]
