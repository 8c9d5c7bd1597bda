"""An operator records a change in the number of residents reported by a household: the day of the
report decides where it counts from; audited."""

from __future__ import annotations

from datetime import date, datetime
from unittest import mock

import pytest
from auditlog.models import LogEntry

from meterdesk.backoffice.roles import OPERATOR
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.customers.models import ResidentsChange
from meterdesk.testing import MOSCOW

pytestmark = pytest.mark.django_db


def test_a_late_report_counts_from_the_day_it_was_reported(office_world):
    _user, meter = office_world
    url = f"/office/accounts/{meter.account.number}/residents/"
    with mock.patch("django.utils.timezone.now", return_value=datetime(2026, 12, 14, 12, tzinfo=MOSCOW)):
        operator = client_of(staff_of(OPERATOR))
        assert (
            'href="' + url + '"' in operator.get(f"/office/accounts/{meter.account.number}/").content.decode()
        )
        wrong = operator.post(
            url, {"residents": "3", "changed_on": "2026-12-10", "reported_on": "2026-12-09"}
        )
        assert wrong.status_code == 422 and "reported_on" in wrong.context["form"].errors
        done = operator.post(url, {"residents": "3", "changed_on": "2026-11-02", "reported_on": "2026-11-20"})
    assert done.status_code == 302
    change = ResidentsChange.objects.get()
    assert (change.effective_from, change.reported_on, change.residents) == (
        date(2026, 11, 20),
        date(2026, 11, 20),
        3,
    )
    entry = LogEntry.objects.get(additional_data__effective_from="2026-11-20")
    assert entry.actor.email == "operator@office.example.com"
