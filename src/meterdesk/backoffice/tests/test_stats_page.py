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
    # The per-day chart names itself and says what it shows; its table has the same figures.
    assert '<title id="days-title">' in text and '<desc id="days-desc">' in text
    assert "16.12.2026 · " not in text and "2026-12-16 · " in text
    assert page.context["day_rows"][15] == ("2026-12-16", [2, 1], 3)
    channels = page.context["channels"]
    assert [n for _name, n in channels][:3] == [2, 1, 0] and len(channels) == 10
    assert "2026-12-01" in page.context["query"]
    csv = supervisor.get("/office/stats/readings_by_channel.csv?start=2026-12-01&end=2026-12-31")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0] == "channel,readings" and "ivr,1" in lines and "web,2" in lines and "api,0" in lines
    assert len(lines) == 11
    assert supervisor.get("/office/stats/nothing.csv").status_code == 404


def test_a_period_that_ends_before_it_begins_is_said(supervisor):
    page = supervisor.get("/office/stats/?start=2026-12-10&end=2026-12-01")
    assert page.status_code == 400 and page.context["form"].errors
    assert "figures" not in page.context
    page = supervisor.get("/office/stats/?start=2026-12-40&end=2026-12-01")
    assert page.status_code == 400 and "start" in page.context["form"].errors
    csv = supervisor.get("/office/stats/phone.csv?start=2026-12-10&end=2026-12-01")
    assert csv.status_code == 400 and not csv["Content-Type"].startswith("text/csv")


def test_every_table_is_a_csv_file(supervisor):
    page = supervisor.get("/office/stats/?start=2026-12-01&end=2026-12-31")
    text = page.content.decode()
    for name in page.context["csv"]:
        assert f"/office/stats/{name}.csv?start=2026-12-01&amp;end=2026-12-31" in text, name
        csv = supervisor.get(f"/office/stats/{name}.csv?start=2026-12-01&end=2026-12-31")
        assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv"), name
    assert {"support", "support_ages", "terminal", "readings_by_day"} <= set(page.context["csv"])
