"""The dashboard (every linked account at a glance) and the history page of an account."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest

from meterdesk.customers.models import PremisesCategory
from meterdesk.metering.models import ReadingKind, ReadingStatus
from meterdesk.testing import (
    AccountFactory,
    MeterFactory,
    ReadingFactory,
    UserFactory,
    link,
    make_tariff,
    moscow,
)

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = moscow(2026, 11, 20, 12)


@pytest.fixture
def clock():
    c = Clock()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: c.now):
        yield c


def _text(html: str) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def two_accounts(customer):
    """Anna's flat (two-zone meter with an October reading) and her dacha (three-zone meter,
    electric stove, overdue verification, no readings yet)."""
    user, flat_meter = customer
    ReadingFactory(meter=flat_meter, period=date(2026, 10, 1), t1=1200, t2=600)
    MeterFactory(account=flat_meter.account, serial="OLD-0001", removed_on=date(2025, 1, 1))
    dacha = AccountFactory(
        address="Московская обл., пос. Дачный, ул. Лесная, д. 5",
        category=PremisesCategory.ELECTRIC_STOVE,
    )
    dacha_meter = MeterFactory(account=dacha, zones=3, serial="ЭЛ-333", verification_due=date(2025, 6, 30))
    link(user, dacha)
    make_tariff(category=PremisesCategory.ELECTRIC_STOVE, prices=("5.52", "2.09", "4.61"))
    return user, flat_meter, dacha_meter


# --- dashboard -----------------------------------------------------------------------------


def test_dashboard_shows_each_linked_account(client, clock, two_accounts):
    user, flat_meter, dacha_meter = two_accounts
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get("/cabinet/")
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)

    # Both accounts, in number order, with address and category.
    flat, dacha = flat_meter.account, dacha_meter.account
    assert html.index(f'id="acc-{flat.number}"') < html.index(f'id="acc-{dacha.number}"')
    assert flat.address in html
    assert dacha.address in html
    assert "Category urban, gas stoves" in text
    assert "Category electric stoves and/or electric heating" in text
    assert f'href="/accounts/{flat.number}/history/"' in html
    assert f'href="/accounts/{dacha.number}/history/"' in html

    # Meters as compact cards: serial, the last reading with its date, zones, verification
    # date, the current prices; a removed meter is not shown.
    assert (
        f"Meter № {flat_meter.serial} Last reading, 20.10.2026 Zone Reading T1 (day) 1200 T2 (night) 600 "
        "2 zones · verification due 01.01.2040 "
        "Tariff since 01.01.2024 Zone Price, ₽/kWh T1 (day) 9.45 T2 (night) 4.08"
    ) in text
    assert "Meter № ЭЛ-333 No readings yet. 3 zones · verification due 30.06.2025 — overdue" in text
    assert "OLD-0001" not in html
    assert "T1 (peak) 5.52 T2 (night) 2.09 T3 (semi-peak) 4.61" in text


def test_dashboard_says_when_the_window_is_open(client, clock, two_accounts):
    user, flat_meter, dacha_meter = two_accounts
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get("/cabinet/")
    text = _text(response.content.decode())
    # Each account's readings of November: not given yet, accepted until the 26th.
    assert text.count("Readings for November 2026 not given yet Accepted until 26 November inclusive.") == 2
    html = response.content.decode()
    assert f'href="/meters/{flat_meter.pk}/readings/new/"' in html
    assert f'href="/meters/{dacha_meter.pk}/readings/new/"' in html
    assert response.context["window"].open is True


@pytest.mark.parametrize(
    ("now", "opens", "closes"),
    [
        (moscow(2026, 11, 10, 9), "15 November", "26 November"),
        (moscow(2026, 11, 27, 9), "15 December", "26 December"),
    ],
)
def test_dashboard_says_when_the_window_opens(client, clock, two_accounts, now, opens, closes):
    clock.now = now
    user, _flat_meter, _dacha_meter = two_accounts
    client.force_login(user)
    client.cookies["django_language"] = "en"
    html = client.get("/cabinet/").content.decode()
    text = _text(html)
    assert f"Readings for November 2026 not given yet Next accepted from {opens} to {closes}." in text
    assert "/readings/new/" not in html


def test_dashboard_in_russian_by_default(client, clock, two_accounts):
    clock.now = moscow(2026, 11, 10, 9)
    client.force_login(two_accounts[0])
    html = client.get("/cabinet/").content.decode()
    assert '<html lang="ru">' in html
    assert "Показания за ноябрь 2026" in html
    assert "Следующий приём показаний: с 15 ноября по 26 ноября." in html


def test_dashboard_shows_the_tariff_in_force_today(client, clock, customer):
    user, _meter = customer
    make_tariff(prices=("10.10", "5.05"), valid_from=date(2026, 7, 1))
    make_tariff(prices=("99.99", "88.88"), valid_from=date(2027, 1, 1))  # not yet in force
    client.force_login(user)
    client.cookies["django_language"] = "en"
    text = _text(client.get("/cabinet/").content.decode())
    assert "Tariff since 01.07.2026 Zone Price, ₽/kWh T1 (day) 10.10 T2 (night) 5.05" in text
    assert "9.45" not in text
    assert "99.99" not in text


def test_dashboard_shows_volume_bands(client, clock):
    user = UserFactory()
    meter = MeterFactory(zones=1, account__category=PremisesCategory.RURAL)
    link(user, meter.account)
    make_tariff(
        category=PremisesCategory.RURAL,
        prices=("0",),
        bands=(Decimal(3900), None),
        band_prices={(1, 1): "5.00", (1, 2): "7.45"},
    )
    client.force_login(user)
    client.cookies["django_language"] = "en"
    text = _text(client.get("/cabinet/").content.decode())
    assert "Zone Band Price, ₽/kWh Single rate 1 5.00 Single rate 2 7.45" in text


def test_dashboard_without_accounts(client, clock):
    client.force_login(UserFactory())
    client.cookies["django_language"] = "en"
    html = client.get("/cabinet/").content.decode()
    assert "No accounts are linked to your login yet." in html
    assert 'href="/accounts/link/"' in html


def test_dashboard_shows_the_latest_of_several_readings(client, clock, customer):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1234, t2=567)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    text = _text(client.get("/cabinet/").content.decode())
    assert "Last reading, 20.10.2026 Zone Reading T1 (day) 1234 T2 (night) 567" in text
    assert "1100" not in text


# --- history -------------------------------------------------------------------------------


@pytest.fixture
def history_account(customer):
    """An account opened in June 2026; readings in July and September (none in August)."""
    user, _meter = customer
    account = AccountFactory(opened_on=date(2026, 6, 1))
    meter = MeterFactory(account=account, installed_on=date(2026, 6, 10), serial="H-100")
    ReadingFactory(meter=meter, period=date(2026, 7, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=1300, t2=650)
    link(user, account)
    return user, account, meter


def test_history_has_a_row_for_every_month_of_the_account(client, clock, history_account):
    user, account, _meter = history_account
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(f"/accounts/{account.number}/history/")
    assert response.status_code == 200
    months = response.context["months"]
    assert [m.period for m in months] == [date(2026, m, 1) for m in (11, 10, 9, 8, 7, 6)]
    assert [m.row.has_reading for m in months] == [False, False, True, False, True, False]
    # Nothing is billed yet: the months with readings show their estimate by the readings.
    assert [m.amount for m in months] == [None, None, Decimal("2298.00"), None, Decimal("1149.00"), None]
    assert all(m.billed is None for m in months)

    html = response.content.decode()
    names = re.findall(r'<span class="month">([A-Za-z]+ \d{4})</span>', html)
    assert names == [
        "November 2026",
        "October 2026",
        "September 2026",
        "August 2026",
        "July 2026",
        "June 2026",
    ]
    assert html.count('<tr class="missing">') == 4
    text = _text(html)
    # July: 100 × 9.45 + 50 × 4.08 = 945 + 204; September: 200 / 100 kWh over two months.
    assert "July 2026 № H-100: 1100 / 550 150 100 / 50 1,149.00 estimate —" in text
    assert "September 2026 № H-100: 1300 / 650 2 months 300 200 / 100 2,298.00 estimate —" in text
    assert "August 2026 № H-100: no reading — — —" in text


def test_history_has_two_svg_charts_with_text_for_screen_readers(client, clock, history_account):
    user, account, _meter = history_account
    client.force_login(user)
    client.cookies["django_language"] = "en"
    html = client.get(f"/accounts/{account.number}/history/").content.decode()
    svgs = re.findall(r"<svg [^>]*>", html)
    assert len(svgs) == 2
    for tag in svgs:
        assert 'role="img"' in tag
        assert re.search(r'aria-label="[^"]+"', tag)
    assert 'aria-label="Consumption by month and zone, kWh"' in html
    assert 'aria-label="Billed by month, roubles"' in html
    assert "<title>July 2026: T1 (day) 100 kWh</title>" in html
    assert "<title>September 2026: T2 (night) 100 kWh</title>" in html
    assert "<title>July 2026: 1,149.00\u00a0₽, an estimate by the readings, not billed yet</title>" in html
    assert (
        "<title>September 2026: 2,298.00\u00a0₽, an estimate by the readings, not billed yet</title>" in html
    )
    # Bars have numeric geometry (a chart that drew nothing would still have role="img").
    assert len(re.findall(r'<rect x="\d+" y="[\d.]+" width="\d+" height="[\d.]+"', html)) == 6
    assert html.count('class="estimate"') == 2


def test_history_of_an_account_without_readings(client, clock, customer):
    user = customer[0]
    account = AccountFactory(opened_on=date(2026, 10, 1))
    MeterFactory(account=account, installed_on=date(2026, 10, 1), zones=1)
    link(user, account)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(f"/accounts/{account.number}/history/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('role="img"') == 2
    assert html.count('<tr class="missing">') == 2  # October and November
    assert '<span class="swatch zone-1" aria-hidden="true"></span>Single rate' in html


def test_history_prices_each_month_at_its_own_tariff(client, clock, history_account):
    user, account, _meter = history_account
    make_tariff(prices=("10.00", "5.00"), valid_from=date(2026, 9, 1))
    client.force_login(user)
    client.cookies["django_language"] = "en"
    text = _text(client.get(f"/accounts/{account.number}/history/").content.decode())
    assert "July 2026 № H-100: 1100 / 550 150 100 / 50 1,149.00 estimate" in text
    # 200 × 10.00 + 100 × 5.00
    assert "September 2026 № H-100: 1300 / 650 2 months 300 200 / 100 2,500.00 estimate" in text


def test_history_ignores_superseded_and_follows_a_meter_replacement(client, clock, customer):
    user = customer[0]
    account = AccountFactory(opened_on=date(2026, 6, 1))
    old = MeterFactory(
        account=account, installed_on=date(2026, 6, 1), serial="OLD-7", removed_on=date(2026, 8, 14)
    )
    new = MeterFactory(
        account=account,
        installed_on=date(2026, 8, 14),
        serial="NEW-8",
        initial_t1=Decimal(0),
        initial_t2=Decimal(0),
    )
    ReadingFactory(meter=old, period=date(2026, 7, 1), t1=1500, t2=900, status=ReadingStatus.SUPERSEDED)
    ReadingFactory(meter=old, period=date(2026, 7, 1), t1=1100, t2=550)
    ReadingFactory(meter=new, period=date(2026, 9, 1), t1=30, t2=10)
    ReadingFactory(meter=new, period=date(2026, 10, 1), t1=40, t2=12, kind=ReadingKind.CONTROL)
    link(user, account)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(f"/accounts/{account.number}/history/")
    rows = {m.period: [mm.meter.serial for mm in m.row.meters] for m in response.context["months"]}
    assert rows[date(2026, 7, 1)] == ["OLD-7"]
    assert rows[date(2026, 8, 1)] == ["OLD-7", "NEW-8"]
    assert rows[date(2026, 9, 1)] == ["NEW-8"]
    text = _text(response.content.decode())
    assert "July 2026 № OLD-7: 1100 / 550 150 100 / 50 1,149.00 estimate" in text
    assert "August 2026 № OLD-7: no reading № NEW-8: no reading" in text
    assert "1500" not in text
    # 30 × 9.45 + 10 × 4.08 = 283.50 + 40.80
    assert "September 2026 № NEW-8: 30 / 10 40 30 / 10 324.30 estimate" in text
    assert "October 2026 № NEW-8: 40 / 12 control 12 10 / 2" in text


def test_history_link_from_the_receipt_and_dashboard_work_for_the_owner(client, clock, history_account):
    user, account, _meter = history_account
    client.force_login(user)
    assert client.get(f"/accounts/{account.number}/history/").status_code == 200
    assert client.get("/accounts/12345/history/").status_code == 404
