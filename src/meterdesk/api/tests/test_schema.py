"""Schemathesis against the API's own OpenAPI document: generated requests to every operation, on
a seeded customer with a token, must never give a 5xx, and every answer must conform to the schema
(status code documented, content type, body)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from meterdesk.api.api import api
from meterdesk.api.models import ApiToken
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.domain import billing as engine
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory, link

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, inside the test's transaction: like the test client, it must not
    close the connection at the start and end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(customer, stranger):
    """Anna with two meters (one three-zone with history), a closed month, a payment, a penalty."""
    user, meter = customer
    three = MeterFactory(zones=3, account=meter.account, serial="3Z-1")
    ReadingFactory(meter=three, period=date(2024, 2, 1))
    ReadingFactory(meter=meter, period=date(2024, 2, 1))
    other = MeterFactory(zones=1, decimal_places=2)
    link(user, other.account)
    account = meter.account
    period = date(2026, 9, 1)
    LedgerEntry.objects.create(
        account=account,
        period=period,
        posted_on=period,
        kind=EntryKind.CHARGE,
        basis=engine.ACTUAL,
        meter=meter,
        zone=1,
        volume=Decimal(100),
        price=Decimal("9.45"),
        amount=Decimal("945.00"),
    )
    LedgerEntry.objects.create(
        account=account,
        period=period,
        posted_on=date(2026, 9, 3),
        kind=EntryKind.PAYMENT,
        amount=Decimal("-100.00"),
        external_id="s-1",
    )
    AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=Decimal(0),
        charges=Decimal("945.00"),
        recalculations=Decimal(0),
        payments=Decimal("-100.00"),
        penalty=Decimal(0),
        closing_balance=Decimal("845.00"),
        due_date=date(2026, 10, 10),
        closed_at=datetime(2026, 10, 1, 3, tzinfo=MOSCOW),
    )
    return user


# The document the API serves at /api/v1/openapi.json (the test below also checks it is served).
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema())))


def test_the_served_document_is_the_one_tested(client):
    served = client.get("/api/v1/openapi.json").json()
    assert served == json.loads(json.dumps(api.get_openapi_schema()))


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_conforms_to_its_schema(case, token, wsgi_app, seeded):
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    # A generated DELETE may revoke the test's own token: keep testing with it.
    ApiToken.objects.filter(prefix=token[:12]).update(revoked_at=None)
