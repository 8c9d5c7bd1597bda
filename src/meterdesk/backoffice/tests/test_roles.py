"""Roles and the permission matrix: every role × every back-office action, from the one table
``roles.ACTIONS``; and who gets in at all."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from meterdesk.backoffice.roles import ACTIONS, ROLES, allowed, group_name
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.testing import PASSWORD

pytestmark = pytest.mark.django_db


def _thread(number: str) -> int:
    """A support question of the account, for the support pages."""
    from meterdesk.support.tests.factories import thread_make

    return thread_make(number).pk


def _url(codename: str, number: str) -> str:
    """The page of each action (a new action must be added here, or the test fails)."""
    urls = {
        "search": reverse("backoffice:home") + "?q=nobody-by-this-name",
        "account": reverse("backoffice:account", args=[number]),
        "changes": reverse("backoffice:changes", args=[number]),
        "account_correct": reverse("backoffice:correct", args=[number]),
        "reading_key": reverse("backoffice:reading_new", args=[number]),
        "reading_batch": reverse("backoffice:reading_batch"),
        "support_queue": reverse("backoffice:support_queue"),
        "support_answer": reverse("backoffice:support_answer", args=[_thread(number)]),
        "support_escalated": reverse("backoffice:support_escalated"),
        "stats": reverse("backoffice:stats"),
        "billing_runs": reverse("backoffice:billing_runs"),
        "billing_close": reverse("backoffice:billing_close"),
        "rebill": reverse("backoffice:rebill", args=[number]),
        "residents": reverse("backoffice:residents", args=[number]),
        "inspections": reverse("backoffice:inspections"),
        "inspection_visit": reverse("backoffice:inspector_route"),
        "reference": reverse("backoffice:reference"),
        "reference_edit": reverse("backoffice:reference_edit"),
        "service_requests": reverse("backoffice:service_requests"),
        "debts": reverse("backoffice:debts"),
    }
    return urls[codename]


def test_the_migration_made_a_group_per_role_with_the_tables_permissions():
    for role in ROLES:
        group = Group.objects.get(name=group_name(role))
        granted = set(
            group.permissions.filter(content_type__app_label="backoffice").values_list("codename", flat=True)
        )
        assert granted == {a.codename for a in ACTIONS if role in a.roles}, role


def test_the_table_gives_each_role_something_and_not_everything_to_all():
    for role in ROLES:
        assert any(allowed(role, a.codename) for a in ACTIONS)
    assert not all(allowed(role, a.codename) for role in ROLES for a in ACTIONS)


@pytest.mark.parametrize("role", list(ROLES))
def test_permission_matrix(role, office_world):
    _user, meter = office_world
    client = client_of(staff_of(role))
    for action in ACTIONS:
        response = client.get(_url(action.codename, meter.account.number))
        expected = 200 if allowed(role, action.codename) else 403
        assert response.status_code == expected, (role, action.codename, response.status_code)


@pytest.mark.parametrize("action", [a.codename for a in ACTIONS])
def test_a_visitor_is_sent_to_the_staff_login(action, office_world):
    _user, meter = office_world
    url = _url(action, meter.account.number)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("backoffice:login") + "?next=")


@pytest.mark.parametrize("action", [a.codename for a in ACTIONS])
def test_a_customer_and_staff_without_a_role_get_403(action, office_world):
    customer, meter = office_world
    url = _url(action, meter.account.number)
    assert client_of(customer).get(url).status_code == 403
    assert client_of(staff_of(None)).get(url).status_code == 403


def test_a_superuser_may_do_everything(office_world):
    _user, meter = office_world
    boss = staff_of(None, "boss@office.example.com")
    boss.is_superuser = True
    boss.save()
    client = client_of(boss)
    for action in ACTIONS:
        assert client.get(_url(action.codename, meter.account.number)).status_code == 200


def test_staff_log_in_on_the_office_page_and_customers_do_not(office_world):
    customer, _meter = office_world
    operator = staff_of("operator")
    client = Client()
    login = reverse("backoffice:login")
    response = client.post(login, {"username": customer.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "not_staff" in [e.code for e in response.context["form"].non_field_errors().as_data()]
    response = client.post(login, {"username": operator.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:home")
