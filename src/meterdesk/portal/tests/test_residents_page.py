"""The household's page for a change in the number of residents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meterdesk.customers.models import ResidentsChange
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def test_the_dashboard_links_the_page_and_a_change_is_recorded(client, customer):
    user, meter = customer
    client.force_login(user)
    number = meter.account.number
    assert f'href="/accounts/{number}/residents/"' in client.get("/cabinet/").content.decode()
    today = utility_now().date()
    bad = client.post(
        f"/accounts/{number}/residents/", {"residents": "2", "changed_on": f"{today + timedelta(days=1)}"}
    )
    assert bad.status_code == 422 and "changed_on" in bad.context["form"].errors
    done = client.post(
        f"/accounts/{number}/residents/", {"residents": "4", "changed_on": f"{today}"}, follow=True
    )
    assert ResidentsChange.objects.get().residents == 4
    assert f"{today:%d.%m.%Y}" in done.content.decode()
    page = client.get(f"/accounts/{number}/residents/").content.decode()
    assert 'data-testid="residents-history"' in page
    assert client.get("/accounts/9999999999/residents/").status_code == 404
