"""Service requests in the back office: the list and its filters, scheduling (a notice), the
outcomes (a paid service done posted once, audited), the account page's block, and the roles."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.notify.models import Notice, Topic
from meterdesk.orders.catalogue import services_load
from meterdesk.orders.models import Channel, ServiceRequest, Status
from meterdesk.orders.services import request_order
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def ordered(office_world):
    services_load(since=date(2024, 1, 1))
    user, meter = office_world
    made = request_order(
        account=meter.account, service_code="meter-replacement", channel=Channel.WEB, user=user
    )
    return user, meter, made


def test_the_list_filters_by_status_and_day(ordered):
    _user, meter, made = ordered
    free = request_order(account=meter.account, service_code="sealing", channel=Channel.PHONE)
    ServiceRequest.objects.filter(pk=free.pk).update(status=Status.CANCELLED, reason="дубль")
    client = client_of(staff_of("operator"))
    rows = client.get(reverse("backoffice:service_requests")).context["rows"]
    assert [r.pk for r in rows] == [made.pk]  # in progress only
    every = client.get(reverse("backoffice:service_requests"), {"status": "all"}).context["rows"]
    assert {r.pk for r in every} == {made.pk, free.pk}
    cancelled = client.get(reverse("backoffice:service_requests"), {"status": "cancelled"}).context["rows"]
    assert [r.pk for r in cancelled] == [free.pk]
    later = (utility_now().date() + timedelta(days=10)).isoformat()
    assert list(client.get(reverse("backoffice:service_requests"), {"day_from": later}).context["rows"]) == []


def test_schedule_then_done_posts_the_price_once_and_is_audited(ordered):
    user, meter, made = ordered
    staff = staff_of("operator")
    client = client_of(staff)
    page = reverse("backoffice:service_request", args=[made.pk])
    assert client.get(page).status_code == 200
    on = utility_now().date() + timedelta(days=2)
    answer = client.post(
        reverse("backoffice:service_request_schedule", args=[made.pk]), {"on": on, "window": "12:00–15:00"}
    )
    assert answer.status_code == 302
    made.refresh_from_db()
    assert (made.status, made.scheduled_on, made.window, made.scheduled_by) == (
        Status.SCHEDULED,
        on,
        "12:00–15:00",
        staff,
    )
    assert Notice.objects.filter(topic=Topic.SERVICE_SCHEDULED, user=user).exists()
    done_url = reverse("backoffice:service_request_done", args=[made.pk])
    assert client.post(done_url, {"outcome": "Заменён на Меркурий 201.8"}).status_code == 302
    assert client.post(done_url, {"outcome": "Ещё раз"}).status_code == 400  # closed already
    entries = LedgerEntry.objects.filter(kind=EntryKind.SERVICE)
    assert [(e.account_id, e.amount) for e in entries] == [(meter.account.pk, Decimal("3500.00"))]
    kind = ContentType.objects.get_for_model(ServiceRequest)
    audit = LogEntry.objects.filter(content_type=kind, object_id=made.pk).order_by("pk")
    assert [(e.actor, e.additional_data["service_request"]) for e in audit] == [
        (staff, "schedule"),
        (staff, "done"),
    ]
    account_page = client.get(reverse("backoffice:account", args=[meter.account.number])).content.decode()
    assert made.number in account_page


def test_a_bad_outcome_is_refused_and_changes_nothing(ordered):
    _user, _meter, made = ordered
    client = client_of(staff_of("operator"))
    answer = client.post(reverse("backoffice:service_request_close", args=[made.pk]), {"status": "failed"})
    assert answer.status_code == 400
    past = (utility_now().date() - timedelta(days=1)).isoformat()
    answer = client.post(
        reverse("backoffice:service_request_schedule", args=[made.pk]), {"on": past, "window": "09:00–12:00"}
    )
    assert answer.status_code == 400
    made.refresh_from_db()
    assert made.status == Status.ORDERED
    assert (
        client.post(
            reverse("backoffice:service_request_close", args=[made.pk]),
            {"status": "cancelled", "reason": "Клиент отказался"},
        ).status_code
        == 302
    )
    made.refresh_from_db()
    assert (made.status, made.entry) == (Status.CANCELLED, None)
    assert not LedgerEntry.objects.filter(kind=EntryKind.SERVICE).exists()


@pytest.mark.parametrize(
    ("role", "status"), [("operator", 200), ("support", 200), ("billing", 403), (None, 403)]
)
def test_who_may_open_the_requests(ordered, role, status):
    _user, _meter, made = ordered
    client = client_of(staff_of(role))
    assert client.get(reverse("backoffice:service_requests")).status_code == status
    assert client.get(reverse("backoffice:service_request", args=[made.pk])).status_code == status
