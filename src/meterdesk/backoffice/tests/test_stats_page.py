"""The supervisors' statistics page: the period's figures with a chart, an invalid period said,
each table as CSV."""

from __future__ import annotations

from datetime import datetime

import pytest

from meterdesk.backoffice.roles import SUPERVISOR
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor():
    return client_of(staff_of(SUPERVISOR))


def test_the_figures_of_a_period_with_a_chart(supervisor):
    from datetime import date

    for channel in ("web", "web", "ivr"):
        ReadingFactory(
            meter=MeterFactory(),
            period=date(2026, 12, 1),
            channel=channel,
            submitted_at=datetime(2026, 12, 16, 12, tzinfo=MOSCOW),
        )
    page = supervisor.get("/office/stats/?start=2026-12-01&end=2026-12-31")
    assert page.status_code == 200
    text = page.content.decode()
    assert '<svg class="chart"' in text and "<title>" in text
    channels = page.context["channels"]
    assert [n for _name, n in channels] == [2, 1]
    assert "2026-12-01" in page.context["query"]
    csv = supervisor.get("/office/stats/readings_by_channel.csv?start=2026-12-01&end=2026-12-31")
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines() == ["channel,readings", "ivr,1", "web,2"]
    assert supervisor.get("/office/stats/nothing.csv").status_code == 404


def test_a_period_that_ends_before_it_begins_is_said(supervisor):
    page = supervisor.get("/office/stats/?start=2026-12-10&end=2026-12-01")
    assert page.status_code == 200 and page.context["form"].errors
