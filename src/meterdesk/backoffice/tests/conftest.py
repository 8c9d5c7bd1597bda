from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from meterdesk.backoffice.roles import group_name
from meterdesk.customers.models import User
from meterdesk.testing import MeterFactory, UserFactory, link, make_tariff


def staff_of(role: str | None, email: str | None = None) -> User:
    """A staff login in ``role``'s group (None: in no group)."""
    user = UserFactory(email=email or f"{role or 'nobody'}@office.example.com", is_staff=True)
    if role is not None:
        user.groups.add(Group.objects.get(name=group_name(role)))
    return user


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def office_world(db, settings):
    """A customer with a phone, one account with a two-zone meter, and its tariff."""
    settings.METERDESK_READING_WINDOW = "1-31"
    user = UserFactory(email="maria.ivanova@example.com", full_name="Мария Иванова")
    meter = MeterFactory(
        zones=2,
        serial="SN-77123",
        account__number="1000000042",
        account__holder_name="Иванова Мария Петровна",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 12",
    )
    link(user, meter.account)
    user.phones.create(number="+79161234567")
    make_tariff(prices=("9.45", "4.08"))
    return user, meter
