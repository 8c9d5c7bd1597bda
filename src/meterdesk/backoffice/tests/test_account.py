"""The account's whole picture on one page, and its correction with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from meterdesk.backoffice.audit import account_changes
from meterdesk.backoffice.services import ReasonRequired, account_correct
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing.messages import money
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
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
    AccountClose.objects.create(
        account=account, period=date(2026, 10, 1), basis="actual", opening_balance=Decimal(0),
        charges=Decimal("2500.00"), recalculations=Decimal("-115.87"), payments=Decimal(0), penalty=Decimal(0),
        closing_balance=Decimal("2384.13"), due_date=date(2026, 11, 10), closed_at=timezone.now(),
    )  # fmt: skip
    page = client_of(staff_of("billing")).get(reverse("backoffice:account", args=[account.number]))
    html = page.content.decode()
    assert "октябрь 2026" in html and "2\u202f500,00" in html and "\u2212115,87" in html  # charged, true-up
    assert "10.11.2026" in html  # the due date
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


def test_the_account_page_lists_the_accounts_letters_and_calls(office_world):
    from django.apps import apps
    from django.utils import timezone

    Letter = apps.get_model("mail", "Letter")
    Call = apps.get_model("phone", "Call")
    _user, meter = office_world
    now = timezone.now()
    by_number = Letter.objects.create(
        via="smtp", received_at=now, raw=b"x", size=1, next_attempt_at=now, sender="maria@example.com",
        subject="Показания за ноябрь", outcome="accepted",
    )  # fmt: skip
    by_number.items.create(account_number=meter.account.number, code="accepted")
    by_meter = Letter.objects.create(
        via="imap", received_at=now, raw=b"y", size=1, next_attempt_at=now, sender="son@example.com",
        subject="Счётчик", outcome="refused",
    )  # fmt: skip
    by_meter.items.create(meter=meter, code="reading_below_previous")
    other = Letter.objects.create(
        via="smtp", received_at=now, raw=b"z", size=1, next_attempt_at=now, subject="Чужое письмо"
    )
    other.items.create(account_number="9999999999", code="unknown_account")
    Call.objects.create(caller="+79161234567", account=meter.account, outcome="reading")
    html = (
        client_of(staff_of("support"))
        .get(reverse("backoffice:account", args=[meter.account.number]))
        .content.decode()
    )
    assert "Показания за ноябрь" in html and "Счётчик" in html
    assert "Чужое письмо" not in html
    assert "звонок с номера" in html and "+7 (916) 123-45-67" in html


def test_the_pages_speak_english_on_request(office_world):
    _user, meter = office_world
    client = client_of(staff_of("operator"))
    client.post("/i18n/setlang/", {"language": "en", "next": "/office/"})
    html = client.get(reverse("backoffice:account", args=[meter.account.number])).content.decode()
    assert '<html lang="en">' in html
    assert "Key in a reading" in html and "Holder and contacts" in html
    assert "Внести показания" not in html


def test_the_admin_offers_the_roles_on_a_login(office_world):
    admin = staff_of(None, "root@office.example.com")
    admin.is_superuser = True
    admin.save()
    operator = staff_of("operator")
    html = client_of(admin).get(f"/admin/customers/user/{operator.pk}/change/").content.decode()
    for role in ("operator", "inspector", "billing", "support", "supervisor", "admin"):
        assert f"office: {role}" in html


def test_the_admin_shows_the_audit_log_in_russian_and_searches_it_by_e_mail(office_world):
    _user, meter = office_world
    supervisor = staff_of("supervisor")
    entry = account_correct(staff=supervisor, account=meter.account, values={"rooms": 4}, reason="акт")
    assert entry is not None
    root = staff_of(None, "root@office.example.com")
    root.is_superuser = True
    root.save()
    client = client_of(root)
    found = client.get("/admin/auditlog/logentry/", {"q": supervisor.email})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [entry]
    assert not list(client.get("/admin/auditlog/logentry/", {"q": "nobody@"}).context["cl"].result_list)
    html = client.get(f"/admin/auditlog/logentry/{entry.pk}/change/").content.decode()
    assert "Номер связи" in html
