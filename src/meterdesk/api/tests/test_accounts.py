"""Accounts, meters, charges, statements, payments, tariffs and linking, through the API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import AccountLink
from meterdesk.domain import billing as engine
from meterdesk.metering.models import MeterStatus
from meterdesk.testing import MOSCOW, AccountFactory, MeterFactory, ReadingFactory, make_tariff
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def billed(meter):
    """Two closed months of Anna's account: charges, a recalculation, a penalty and a payment."""
    account = meter.account
    sep, oct_ = date(2026, 9, 1), date(2026, 10, 1)
    at = datetime(2026, 10, 1, 3, tzinfo=MOSCOW)

    def entry(period, kind, amount, **kw):
        return LedgerEntry.objects.create(
            account=account,
            period=period,
            posted_on=kw.pop("posted_on", period),
            kind=kind,
            amount=D(amount),
            **kw,
        )

    entry(
        sep,
        EntryKind.CHARGE,
        "945.00",
        basis=engine.ACTUAL,
        meter=meter,
        zone=1,
        volume=D(100),
        price=D("9.45"),
    )
    entry(
        sep,
        EntryKind.CHARGE,
        "244.80",
        basis=engine.ACTUAL,
        meter=meter,
        zone=2,
        volume=D(60),
        price=D("4.08"),
    )
    AccountClose.objects.create(
        account=account,
        period=sep,
        basis="actual",
        opening_balance=D(0),
        charges=D("1189.80"),
        recalculations=D(0),
        payments=D(0),
        penalty=D(0),
        closing_balance=D("1189.80"),
        due_date=date(2026, 10, 10),
        closed_at=at,
    )
    entry(
        oct_,
        EntryKind.CHARGE,
        "472.50",
        basis=engine.AVERAGE,
        meter=meter,
        zone=1,
        volume=D("50.5"),
        price=D("9.45"),
    )
    entry(oct_, EntryKind.PAYMENT, "-1000.00", posted_on=date(2026, 10, 5), reason="bank", external_id="p-1")
    entry(oct_, EntryKind.PENALTY, "1.20", reason="late_payment", detail={"parts": []})
    AccountClose.objects.create(
        account=account,
        period=oct_,
        basis="average",
        opening_balance=D("1189.80"),
        charges=D("472.50"),
        recalculations=D(0),
        payments=D("-1000.00"),
        penalty=D("1.20"),
        closing_balance=D("663.50"),
        due_date=date(2026, 11, 10),
        closed_at=at.replace(month=11),
    )
    return account


def test_the_login_lists_only_its_accounts(api, meter, stranger):
    body = api.get_api("/accounts").json()
    assert body["total"] == 1
    assert body["items"] == [
        {
            "number": meter.account.number,
            "address": meter.account.address,
            "category": "gas_stove",
            "category_label": "городское население, газовые плиты",
        }
    ]


def test_an_account_with_balance_last_payment_and_tariff(api, billed):
    response = api.get_api(f"/accounts/{billed.number}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == billed.number
    assert body["address"] == billed.address
    assert body["balance"] == "663.50"
    assert body["debt"] == "663.50"
    assert body["credit"] == "0.00"
    assert body["balance_text"] == "You owe 663.50\u00a0₽"
    assert body["last_payment"]["amount"] == "1000.00"
    assert body["last_payment"]["posted_on"] == "2026-10-05"
    assert body["latest_statement"] == {"period": "2026-10", "total_due": "663.50", "due_date": "2026-11-10"}
    (tariff,) = body["tariffs"]
    assert tariff["kind"] == "two_zone"
    assert [(p["zone"], p["price"]) for p in tariff["prices"]] == [(1, "9.45"), (2, "4.08")]
    assert tariff["prices"][0]["zone_label"] == "T1 (day)"


def test_a_credit(api, meter):
    LedgerEntry.objects.create(
        account=meter.account,
        period=date(2026, 10, 1),
        posted_on=date(2026, 10, 2),
        kind=EntryKind.PAYMENT,
        amount=D("-50.00"),
        external_id="p-9",
    )
    body = api.get_api(f"/accounts/{meter.account.number}").json()
    assert (body["balance"], body["debt"], body["credit"]) == ("-50.00", "0.00", "50.00")
    assert body["latest_statement"] is None


def test_meters_with_the_window(api, meter, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    ReadingFactory(meter=meter, period=date(2024, 2, 1), t1=1050, t2=520)
    removed = MeterFactory(
        account=meter.account, zones=1, status=MeterStatus.REMOVED, removed_on=date(2024, 1, 31)
    )
    body = api.get_api(f"/accounts/{meter.account.number}/meters").json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first["id"] == meter.pk
    assert first["serial"] == meter.serial
    assert first["zones"] == 2
    assert first["digits"] == 5
    assert first["decimal_places"] == 0
    assert first["verification_due"] == "2040-01-01"
    assert first["verification_overdue"] is False
    assert first["accepts_readings"] is True
    assert first["last_reading"]["period"] == "2024-02"
    assert [v["value"] for v in first["last_reading"]["values"]] == ["1050", "520"]
    today = utility_now().date()
    window = first["window"]
    assert window["open_now"] is True
    assert (window["start_day"], window["end_day"]) == (1, 31)
    assert window["opens_on"] == today.isoformat()
    second = body["items"][1]
    assert second["id"] == removed.pk
    assert second["accepts_readings"] is False
    assert second["last_reading"] is None


def test_a_closed_window_says_when_it_opens(api, meter, settings):
    day = 28 if utility_now().day < 28 else 1
    settings.METERDESK_READING_WINDOW = f"{day}-{day}"
    window = api.get_api(f"/accounts/{meter.account.number}/meters").json()["items"][0]["window"]
    assert window["open_now"] is False
    assert date.fromisoformat(window["opens_on"]).day == day


def test_charges_with_their_basis(api, billed):
    body = api.get_api(f"/accounts/{billed.number}/charges", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["total"] == 4  # the payment is not a charge
    assert [(c["period"], c["kind"], c["amount"]) for c in body["items"]] == [
        ("2026-10", "charge", "472.50"),
        ("2026-10", "penalty", "1.20"),
        ("2026-09", "charge", "945.00"),
        ("2026-09", "charge", "244.80"),
    ]
    first = body["items"][0]
    assert first["basis"] == "average"
    assert first["words"].startswith("estimated from your average")
    assert first["volume"] == "50.5"
    assert first["price"] == "9.45"
    assert body["items"][1]["words"] == "penalty for late payment"
    assert body["items"][2]["words"] == "by your readings"
    assert body["items"][2]["zone_label"] == "T1 (day)"
    only_sep = api.get_api(f"/accounts/{billed.number}/charges?from=2026-09&to=2026-09").json()
    assert [c["period"] for c in only_sep["items"]] == ["2026-09", "2026-09"]
    since_oct = api.get_api(f"/accounts/{billed.number}/charges?from=2026-10").json()
    assert since_oct["total"] == 2
    paged = api.get_api(f"/accounts/{billed.number}/charges?limit=1&offset=3").json()
    assert [c["amount"] for c in paged["items"]] == ["244.80"]
    bad = api.get_api(f"/accounts/{billed.number}/charges?from=2026-13")
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"


def test_statements(api, billed):
    body = api.get_api(f"/accounts/{billed.number}/statements").json()
    assert body["total"] == 2
    assert [(s["period"], s["closing_balance"], s["total_due"]) for s in body["items"]] == [
        ("2026-10", "663.50", "663.50"),
        ("2026-09", "1189.80", "1189.80"),
    ]
    october = api.get_api(f"/accounts/{billed.number}/statements/2026-10").json()
    assert october["opening_balance"] == "1189.80"
    assert october["payments"] == "-1000.00"
    assert [line["amount"] for line in october["lines"]] == ["472.50"]
    assert [p["amount"] for p in october["payments_received"]] == ["1000.00"]
    assert [p["amount"] for p in october["penalties"]] == ["1.20"]
    assert october["due_date"] == "2026-11-10"
    missing = api.get_api(f"/accounts/{billed.number}/statements/2025-01")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert api.get_api(f"/accounts/{billed.number}/statements/2025-1").status_code == 422


def test_payments(api, billed):
    body = api.get_api(f"/accounts/{billed.number}/payments").json()
    assert body["total"] == 1
    entry_id = body["items"][0]["id"]
    assert body["items"][0] == {
        "id": entry_id,
        "posted_on": "2026-10-05",
        "period": "2026-10",
        "amount": "1000.00",
        "source": "bank",
        "channel": "поступление",
        "receipt_url": f"http://testserver/api/v1/accounts/{billed.number}/payments/{entry_id}/receipt.pdf",
    }


def test_tariffs(api, meter):
    make_tariff(prices=("7.87",))
    body = api.get_api("/tariffs").json()
    assert body["total"] == 2
    kinds = {t["kind"]: t for t in body["items"]}
    assert [p["price"] for p in kinds["single"]["prices"]] == ["7.87"]
    assert [p["price"] for p in kinds["two_zone"]["prices"]] == ["9.45", "4.08"]
    assert kinds["single"]["valid_to"] is None


def test_link_an_account(api, anna):
    other = MeterFactory(zones=1, serial="ЭЭ 123-45")
    response = api.post_json("/accounts/link", {"number": other.account.number, "meter_serial": "ээ123-45"})
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == other.account.number
    assert AccountLink.objects.filter(user=anna, account=other.account).exists()
    assert api.get_api("/accounts").json()["total"] == 2
    again = api.post_json("/accounts/link", {"number": other.account.number, "meter_serial": "ЭЭ 123-45"})
    assert again.status_code == 409
    assert again.json()["code"] == "already_linked"


@pytest.mark.parametrize("case", ["wrong serial", "unknown account", "serial of another account"])
def test_link_mismatch_does_not_say_which_part_is_wrong(api, case):
    other = MeterFactory(zones=1, serial="A-1")
    third = MeterFactory(zones=1, serial="B-2", account=AccountFactory())
    number, serial = {
        "wrong serial": (other.account.number, "A-2"),
        "unknown account": ("9999999999", "A-1"),
        "serial of another account": (other.account.number, third.serial),
    }[case]
    response = api.post_json("/accounts/link", {"number": number, "meter_serial": serial})
    assert response.status_code == 422
    assert response.json() == {
        "code": "account_meter_mismatch",
        "message": "Номер лицевого счёта и заводской номер счётчика не соответствуют друг другу.",
        "details": {},
    }


def _by_the_orm(account):
    from meterdesk.billing.selectors import account_balance, last_payment, statements_of
    from meterdesk.metering.selectors import meters_of

    zones = sorted({m.zones for m in meters_of(account) if m.removed_on is None})
    return account_balance(account), last_payment(account), statements_of(account).first(), zones


def _fields(obj):
    return (
        None if obj is None else {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}
    )


def test_the_overview_reads_what_the_orm_reads(anna, billed):
    """The dashboard's one statement gives the balance, last payment, latest statement and meters
    exactly as the ORM's selectors do: a billed account with payments, a second payment the same
    day, a removed meter and a three-zone one, and a bare account; nothing of an account not linked."""
    from meterdesk.billing.selectors import account_overview
    from meterdesk.testing import UserFactory, link
    from meterdesk.utility.selectors import reference_stamp

    later = LedgerEntry.objects.filter(account=billed, kind=EntryKind.PAYMENT).get()
    LedgerEntry.objects.create(
        account=billed, period=later.period, posted_on=later.posted_on, kind=EntryKind.PAYMENT,
        amount=D("-0.10"), reason="card", external_id="p-2",
    )  # fmt: skip
    MeterFactory(account=billed, zones=3)
    MeterFactory(account=billed, zones=1, removed_on=date(2026, 9, 30))
    bare = AccountFactory()
    link(anna, bare)
    for account in (billed, bare):
        overview = account_overview(anna, account.number)
        assert overview is not None
        balance, payment, latest, zones = _by_the_orm(account)
        assert _fields(overview.account) == _fields(account)
        assert overview.balance == balance and str(overview.balance) == str(balance)
        assert _fields(overview.payment) == _fields(payment)
        assert _fields(overview.latest) == _fields(latest)
        assert overview.zones == zones
        assert overview.stamp == reference_stamp()
    assert _by_the_orm(billed)[1].external_id == "p-2"  # the later of two the same day
    assert _by_the_orm(bare) == (D("0.00"), None, None, [])
    assert account_overview(UserFactory(email="boris@example.com"), billed.number) is None
    assert account_overview(anna, "0000000000") is None
