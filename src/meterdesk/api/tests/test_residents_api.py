"""Reporting a change in the number of residents through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meterdesk.customers.models import ResidentsChange
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def test_a_change_is_recorded_and_said(api, customer):
    account = customer[1].account
    today = utility_now().date()
    response = api.post_json(
        f"/accounts/{account.number}/residents", {"residents": 3, "changed_on": f"{today}"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["residents"] == 3 and body["effective_from"] == f"{today}" and body["late"] is False
    assert ResidentsChange.objects.get(account=account).residents == 3


def test_bad_reports_are_refused_with_their_codes(api, customer, stranger):
    account = customer[1].account
    tomorrow = utility_now().date() + timedelta(days=1)
    future = api.post_json(
        f"/accounts/{account.number}/residents", {"residents": 3, "changed_on": f"{tomorrow}"}
    )
    assert future.status_code == 422 and future.json()["code"] == "date_in_future"
    too_many = api.post_json(
        f"/accounts/{account.number}/residents", {"residents": 99, "changed_on": "2026-01-01"}
    )
    assert too_many.status_code == 422 and too_many.json()["code"] == "validation_error"
    other = api.post_json(
        f"/accounts/{stranger.account.number}/residents", {"residents": 1, "changed_on": "2026-01-01"}
    )
    assert other.status_code == 404
    assert not ResidentsChange.objects.exists()
