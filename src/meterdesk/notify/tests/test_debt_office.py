"""The back office's debt cases (backoffice:debts): who may see and work them, the list by stage
with its filters, and what staff record — delivery by hand or post, restriction, suspension —
each checked against the rules' days and audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from meterdesk.backoffice.roles import ROLES, allowed
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.notify.debts import debt_cases_advance
from meterdesk.notify.models import DebtCase, DebtStage, Delivery
from meterdesk.testing import AccountFactory
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def case_of(number: str, **fields) -> DebtCase:
    account = AccountFactory(number=number)
    return DebtCase.objects.create(
        account=account,
        period=utility_now().date().replace(day=1),
        debt=Decimal("5000"),
        threshold=Decimal("3000"),
        **fields,
    )


def _act(client, case, **data):
    return client.post(reverse("backoffice:debt_act", args=[case.pk]), data)


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_and_works_the_cases_only_if_allowed(role):
    case = case_of("5000000001")
    client = client_of(staff_of(role))
    today = utility_now().date()
    expected = 200 if allowed(role, "debts") else 403
    assert client.get(reverse("backoffice:debts")).status_code == expected
    response = _act(client, case, action="deliver", on=today.isoformat(), how="post")
    assert response.status_code == (302 if expected == 200 else 403)
    case.refresh_from_db()
    assert (case.delivered_at is not None) == (expected == 200)


def test_a_visitor_is_sent_to_the_staff_login():
    response = client_of(staff_of(None)).get(reverse("backoffice:debts"))
    assert response.status_code == 403


def test_the_list_by_stage_and_its_filters():
    today = utility_now().date()
    warned = case_of("5000000001")
    due = case_of(
        "5000000002",
        stage=DebtStage.RESTRICTION_DUE,
        delivered_at=utility_now() - timedelta(days=25),
        delivery=Delivery.NOTICE,
        pay_by=today - timedelta(days=5),
        suspension_from=today + timedelta(days=5),
    )
    case_of("5000000003", stage=DebtStage.PAID, closed_at=utility_now())
    client = client_of(staff_of("billing"))
    page = client.get(reverse("backoffice:debts"))
    assert [c.pk for c in page.context["cases"]] == [due.pk, warned.pk]  # the earliest day to pay first
    html = page.content.decode()
    assert "Дела о задолженности" in html and f'data-testid="deliver-{warned.pk}"' in html
    assert f'data-testid="restrict-{due.pk}"' in html and f'data-testid="suspend-{due.pk}"' not in html
    only = client.get(reverse("backoffice:debts"), {"stage": "restriction_due"}).context["cases"]
    assert [c.pk for c in only] == [due.pk]
    found = client.get(reverse("backoffice:debts"), {"q": "5000000001"}).context["cases"]
    assert [c.pk for c in found] == [warned.pk]
    paid = client.get(reverse("backoffice:debts"), {"stage": "paid"}).context["cases"]
    assert [c.account.number for c in paid] == ["5000000003"]


def test_a_warning_delivered_by_post_starts_the_rules_days_and_is_audited():
    case = case_of("5000000001")
    staff = staff_of("billing")
    client = client_of(staff)
    today = utility_now().date()
    response = _act(client, case, action="deliver", on=today.isoformat(), how="post", reason="РПО 12345")
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.delivery == Delivery.POST and case.stage == DebtStage.DELIVERED
    assert case.pay_by == today + timedelta(days=20)
    assert case.suspension_from == today + timedelta(days=30)
    entry = LogEntry.objects.get(object_pk=str(case.pk))
    assert entry.actor == staff and entry.additional_data["reason"] == "РПО 12345"
    assert entry.changes_dict["delivery"] == ["", "post"]
    # The notices' delivery does not overwrite it; a second delivery is refused, nothing changed.
    debt_cases_advance(today)
    case.refresh_from_db()
    assert case.delivery == Delivery.POST and case.pay_by == today + timedelta(days=20)
    again = _act(client, case, action="deliver", on=today.isoformat(), how="hand")
    assert again.status_code == 302
    case.refresh_from_db()
    assert case.delivery == Delivery.POST and LogEntry.objects.filter(object_pk=str(case.pk)).count() == 1
    page = client.get(reverse("backoffice:debts")).content.decode()
    assert "заказным письмом" in page


@pytest.mark.parametrize(("action", "field"), [("restrict", "restricted_on"), ("suspend", "suspended_on")])
def test_restriction_and_suspension_only_once_the_rules_allow(action, field):
    today = utility_now().date()
    early = case_of(
        "5000000001",
        stage=DebtStage.DELIVERED,
        delivered_at=utility_now(),
        delivery=Delivery.HAND,
        pay_by=today + timedelta(days=20),
        suspension_from=today + timedelta(days=30),
    )
    late = case_of(
        "5000000002",
        stage=DebtStage.SUSPENSION_DUE,
        delivered_at=utility_now() - timedelta(days=40),
        delivery=Delivery.NOTICE,
        pay_by=today - timedelta(days=20),
        suspension_from=today - timedelta(days=10),
    )
    client = client_of(staff_of("supervisor"))
    _act(client, early, action=action, on=today.isoformat())
    early.refresh_from_db()
    assert getattr(early, field) is None and not LogEntry.objects.filter(object_pk=str(early.pk)).exists()
    _act(client, late, action=action, on=(today + timedelta(days=1)).isoformat())  # not in the future
    late.refresh_from_db()
    assert getattr(late, field) is None
    _act(client, late, action=action, on=today.isoformat(), reason="акт № 7")
    late.refresh_from_db()
    assert getattr(late, field) == today
    entry = LogEntry.objects.get(object_pk=str(late.pk))
    assert entry.changes_dict[field] == [None, today.isoformat()]
