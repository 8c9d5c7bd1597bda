"""Every page of the back office opens, on both databases (PostgreSQL binds parameters on the
server and prepares statements: the ORM's date lookups and filters must work that way too)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from meterdesk.testing import ReadingFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, meter_with_history):
    boss = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    client.force_login(boss)
    return client


@pytest.fixture
def meter_with_history(customer):
    _user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=Decimal(1100), t2=Decimal(550))
    return meter


def _pages():
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        yield f"admin:{meta.app_label}_{meta.model_name}_changelist", model_admin


@pytest.mark.parametrize("name", [name for name, _ in _pages()])
def test_every_changelist_opens_with_its_filters_and_search(staff_client, name):
    url = reverse(name)
    model_admin = dict(_pages())[name]
    assert staff_client.get(url).status_code == 200
    if model_admin.search_fields:
        assert staff_client.get(url, {"q": "1000"}).status_code == 200
    hierarchy = model_admin.date_hierarchy
    if hierarchy:
        for query in (
            {},
            {f"{hierarchy}__year": 2026},
            {f"{hierarchy}__year": 2026, f"{hierarchy}__month": 11},
        ):
            assert staff_client.get(url, query).status_code == 200


def test_a_reading_opens_in_the_back_office(staff_client, meter_with_history):
    reading = meter_with_history.readings.first()
    url = reverse("admin:metering_reading_change", args=[reading.pk])
    assert staff_client.get(url).status_code == 200
