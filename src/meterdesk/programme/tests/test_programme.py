"""The responsible-customer programme: which months count, who is eligible for a draw, a draw that
anyone can recompute from its file, winners told once, and the personal account's page."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.core import mail
from django.test import Client
from django.utils import timezone

from meterdesk.billing.models import AccountClose, LedgerEntry
from meterdesk.cli import main
from meterdesk.notify.models import Notice
from meterdesk.notify.send import notices_send
from meterdesk.programme.draw import (
    DrawError,
    account_id_hash,
    draw_announce,
    draw_export,
    draw_hold,
    draw_verify,
    ticket,
)
from meterdesk.programme.models import Programme, Winner
from meterdesk.programme.rules import eligible, month_flags, streak
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory, UserFactory, link

pytestmark = pytest.mark.django_db

SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _window(settings):
    settings.METERDESK_READING_WINDOW = "15-25"


@pytest.fixture
def programme() -> Programme:
    return Programme.objects.create(
        code="responsible",
        name_ru="Ответственный потребитель",
        name_en="Responsible customer",
        months=3,
        prizes=2,
        prize_ru="1 000 ₽ на лицевой счёт",
        prize_en="1,000 ₽ on the account",
        starts_on=date(2026, 1, 1),
    )


def close(account, period: date, *, opening="500", payments="-500", penalty="0") -> None:
    opening_d, payments_d, penalty_d = Decimal(opening), Decimal(payments), Decimal(penalty)
    charges = Decimal("700")
    AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=opening_d,
        charges=charges,
        recalculations=Decimal(0),
        payments=payments_d,
        penalty=penalty_d,
        closing_balance=opening_d + charges + payments_d + penalty_d,
        due_date=date(period.year + (period.month == 12), period.month % 12 + 1, 10),
        closed_at=timezone.now(),
    )


def on_time(meter, period: date, day: int = 20) -> None:
    ReadingFactory(
        meter=meter, period=period, submitted_at=datetime.combine(period.replace(day=day), time(12), MOSCOW)
    )


def good(meter, periods=(SEP, OCT, NOV)) -> None:
    for period in periods:
        on_time(meter, period)
        close(meter.account, period)


def test_a_month_counts_with_readings_in_the_window_and_the_debt_paid(programme):
    meter = MeterFactory()
    good(meter)
    flags = month_flags(programme, meter.account_id, NOV, count=4)
    assert [(f.period, f.counts) for f in flags] == [
        (NOV, True),
        (OCT, True),
        (SEP, True),
        (date(2026, 8, 1), False),
    ]
    assert streak(flags) == 3
    assert eligible(programme, NOV) == [meter.account_id]


@pytest.mark.parametrize(
    "spoil",
    [
        "late_reading",  # given on the 26th: after the window
        "early_reading",  # the 14th: before it
        "second_meter_silent",  # one of two meters gave none
        "debt_left",  # paid 400 of 500
        "penalty",  # a penalty charged
        "not_billed",  # no close for October
        "control_only",  # only the inspector's reading
    ],
)
def test_each_rule_breaks_the_streak(programme, spoil):
    meter = MeterFactory()
    for period in (SEP, NOV):
        on_time(meter, period)
        close(meter.account, period)
    if spoil == "late_reading":
        on_time(meter, OCT, day=26)
    elif spoil == "early_reading":
        on_time(meter, OCT, day=14)
    elif spoil == "control_only":
        ReadingFactory(meter=meter, period=OCT, kind="control")
    else:
        on_time(meter, OCT)
    if spoil == "second_meter_silent":
        other = MeterFactory(account=meter.account, zones=1)
        on_time(other, SEP)
        on_time(other, NOV)
    if spoil != "not_billed":
        close(
            meter.account,
            OCT,
            payments="-400" if spoil == "debt_left" else "-500",
            penalty="3.20" if spoil == "penalty" else "0",
        )
    flags = month_flags(programme, meter.account_id, NOV, count=3)
    assert [f.counts for f in flags] == [True, False, True]
    assert streak(flags) == 1
    assert eligible(programme, NOV) == []


def test_rules_switched_off_do_not_count(programme):
    programme.on_time_readings = False
    programme.save()
    meter = MeterFactory()
    for period in (SEP, OCT, NOV):
        close(meter.account, period)  # no readings at all
    assert eligible(programme, NOV) == [meter.account_id]
    flags = month_flags(programme, meter.account_id, NOV, count=1)
    assert flags[0].readings is None and flags[0].counts


def test_a_draw_is_announced_held_once_and_recomputable_from_its_file(programme, settings):
    meters = [MeterFactory() for _ in range(5)]
    for meter in meters:
        good(meter)
    late = MeterFactory()
    good(late, periods=(SEP, OCT))
    close(late.account, NOV)  # no November reading: not eligible
    anna = UserFactory(email="anna@example.com")
    for meter in meters:
        link(anna, meter.account)

    with pytest.raises(DrawError, match="not announced"):
        draw_hold(programme, NOV)
    announced = draw_announce(programme, NOV)
    assert len(announced.seed) == 32 and draw_announce(programme, NOV).seed == announced.seed

    draw = draw_hold(programme, NOV)
    assert draw.eligible == 5
    winners = list(draw.winners.order_by("place"))
    assert len(winners) == 2
    # The winners are the smallest tickets of the eligible accounts under the seed.
    expected = sorted((ticket(draw.seed, account_id_hash(m.account.number)), m.account_id) for m in meters)[
        :2
    ]
    assert [(w.ticket, w.account_id) for w in winners] == expected
    # Told by notices (e-mail, personal account), sent by the notices' sender; the prize recorded.
    assert notices_send().sent == 2
    assert len(mail.outbox) == 2 and all("Ответственный потребитель" in m.body for m in mail.outbox)
    assert all("1 000 ₽ на лицевой счёт" in m.body and "ноябрь 2026" in m.subject for m in mail.outbox)
    assert Notice.objects.filter(topic="programme_win", channel="cabinet").count() == 2
    assert [w.prize for w in winners] == ["1 000 ₽ на лицевой счёт"] * 2
    assert all(w.credit is None for w in winners)  # the rules name no sum: no money credited

    # Held again: the same winners, nobody told twice.
    again = draw_hold(programme, NOV)
    assert again.pk == draw.pk and Winner.objects.count() == 2
    assert notices_send().claimed == 0 and Notice.objects.filter(topic="programme_win").count() == 4

    data = json.loads(json.dumps(draw_export(draw)))
    assert len(data["eligible"]) == 5 and account_id_hash(late.account.number) not in data["eligible"]
    assert draw_verify(data) == []
    data["winners"][0], data["winners"][1] = data["winners"][1], data["winners"][0]
    assert draw_verify(data) == [
        "the winners are not the smallest tickets of the eligible ids under the seed"
    ]
    data = draw_export(draw)
    data["eligible"].append(account_id_hash("9999999999"))
    assert "the list of eligible ids does not match its SHA-256" in draw_verify(data)


def test_a_draw_needs_the_months_closed_and_inside_the_programme(programme):
    draw_announce(programme, NOV)
    with pytest.raises(DrawError, match="not closed yet"):
        draw_hold(programme, NOV)
    with pytest.raises(DrawError, match="outside the programme"):
        draw_announce(programme, date(2025, 12, 1))


def test_the_commands_announce_hold_and_verify(programme, tmp_path):
    for _ in range(3):
        good(MeterFactory())
    runner = CliRunner()
    announced = runner.invoke(main, ["programme", "announce", "--period", "2026-11"])
    assert announced.exit_code == 0, announced.output
    assert "seed" in announced.output
    path = tmp_path / "draw.json"
    held = runner.invoke(main, ["programme", "draw", "--period", "2026-11", "--export", str(path)])
    assert held.exit_code == 0, held.output
    assert "3 eligible accounts, 2 winners" in held.output
    checked = runner.invoke(main, ["programme", "verify", str(path)])
    assert checked.exit_code == 0 and checked.output.startswith("OK: 2 winners of 3 eligible")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["seed"] = "0" * 32
    path.write_text(json.dumps(data), encoding="utf-8")
    wrong = runner.invoke(main, ["programme", "verify", str(path)])
    assert wrong.exit_code == 1 and "WRONG" in wrong.output
    unknown = runner.invoke(main, ["programme", "announce", "--programme", "nope", "--period", "2026-11"])
    assert unknown.exit_code == 2 and "No programme 'nope'" in unknown.output


def test_the_page_shows_the_streak_the_seed_and_the_result(programme, client):
    meter = MeterFactory()
    good(meter)
    user = UserFactory(email="anna@example.com")
    link(user, meter.account)
    client.force_login(user)
    draw = draw_announce(programme, NOV)
    page = client.get("/programme/").content.decode()
    assert "3 месяца подряд" in page and draw.seed in page
    draw_hold(programme, NOV)
    page = client.get("/programme/").content.decode()
    assert 'data-testid="won"' in page and f"{meter.account.number[:3]}***{meter.account.number[-4:]}" in page
    assert meter.account.number in page  # its own standing section names it in full
    data = Client().get(f"/programme/draws/{draw.pk}.json")  # public: anyone can check
    assert data.status_code == 200 and data.json()["seed"] == draw.seed
    assert draw_verify(data.json()) == []


def test_the_dashboard_links_each_account_s_streak(programme, client):
    meter = MeterFactory()
    good(meter, periods=(OCT, NOV))
    user = UserFactory(email="anna@example.com")
    link(user, meter.account)
    client.force_login(user)
    page = client.get("/cabinet/").content.decode()
    assert 'data-testid="programme-link"' in page and "Ответственный потребитель: 2 месяца подряд" in page
    Programme.objects.all().delete()
    assert 'data-testid="programme-link"' not in client.get("/cabinet/").content.decode()


def test_a_prize_in_money_is_credited_once_to_the_winning_account(programme):
    programme.prize_amount = Decimal("1000")
    programme.prizes = 1
    programme.save()
    meter = MeterFactory()
    good(meter)
    draw_announce(programme, NOV)
    draw = draw_hold(programme, NOV)
    (winner,) = draw.winners.all()
    entry = winner.credit
    assert entry is not None and entry.account_id == meter.account_id
    assert (entry.amount, entry.kind, entry.period) == (Decimal("-1000"), "correction", date(2026, 12, 1))
    assert "Ответственный потребитель" in entry.detail["reason"]
    draw_hold(programme, NOV)  # held again: nothing credited twice
    assert LedgerEntry.objects.filter(account=meter.account, reason="programme_prize").count() == 1
