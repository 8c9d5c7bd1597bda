"""The account's whole picture on one page, and its correction with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from meterdesk.backoffice.audit import account_changes
from meterdesk.backoffice.services import ReasonRequired, account_correct
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing.messages import money
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.testing import ReadingFactory

pytestmark = pytest.mark.django_db


def test_the_account_page_shows_the_whole_picture(office_world):
    _user, meter = office_world
    account = meter.account
    account.area = Decimal("54.30")
    account.save()
    ReadingFactory(meter=meter, period=date(2026, 10, 1))
    LedgerEntry.objects.create(
        account=account, period=date(2026, 10, 1), posted_on=date(2026, 11, 1), kind=EntryKind.CHARGE,
        amount=Decimal("2384.13"),
    )  # fmt: skip
    html = (
        client_of(staff_of("billing"))
        .get(reverse("backoffice:account", args=[account.number]))
        .content.decode()
    )
    assert "Иванова Мария Петровна" in html
    assert "г. Москва, ул. Ленина, д. 5, кв. 12" in html
    assert "maria.ivanova@example.com" in html
    assert "+7 (916) 123-45-67" in html  # the phone formatted
    assert "54,30 м²" in html
    assert "SN-77123" in html
    assert "01.01.2040" in html  # the verification date
    assert money(Decimal("2384.13")) == "2\u202f384,13\u00a0₽"
    assert "Долг: 2\u202f384,13\u00a0₽" in html  # the one money format
    assert "личный кабинет" in html  # the reading's channel
    assert "Изменения" in html  # billing may see the changes


def test_an_inspector_does_not_see_the_changes(office_world):
    _user, meter = office_world
    html = (
        client_of(staff_of("inspector"))
        .get(reverse("backoffice:account", args=[meter.account.number]))
        .content.decode()
    )
    assert "Изменения" not in html
    assert "Внести показания" in html


def test_a_correction_needs_a_reason_and_is_recorded_with_before_and_after(office_world):
    _user, meter = office_world
    account = meter.account
    supervisor = staff_of("supervisor")
    with pytest.raises(ReasonRequired):
        account_correct(staff=supervisor, account=account, values={"rooms": 3}, reason=" ")
    account.refresh_from_db()
    assert account.rooms == 2
    assert not LogEntry.objects.exists()

    client = client_of(supervisor)
    url = reverse("backoffice:correct", args=[account.number])
    data = {"holder_name": account.holder_name, "address": account.address, "area": "", "rooms": "3"}
    response = client.post(url, data)
    assert response.status_code == 200 and response.context["form"].errors["reason"]
    response = client.post(url, {**data, "reason": "договор от 01.12.2026"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.rooms == 3
    [change] = account_changes(account)
    assert change.who == supervisor.email
    assert change.reason == "договор от 01.12.2026"
    assert [(f.before, f.after) for f in change.fields] == [("2", "3")]
    html = client.get(reverse("backoffice:changes", args=[account.number])).content.decode()
    assert "договор от 01.12.2026" in html and "2 → 3" in html
    # Nothing changed: nothing recorded.
    assert account_correct(staff=supervisor, account=account, values={"rooms": 3}, reason="again") is None
    assert LogEntry.objects.count() == 1
