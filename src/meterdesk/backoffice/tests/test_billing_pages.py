"""Billing from the browser: the close started in the background past its checks only with a reason,
its progress and summary by basis, an account opened from it, and a rebill with its reason."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from unittest import mock

import pytest
from auditlog.models import LogEntry

from meterdesk.backoffice.roles import BILLING, SUPERVISOR
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing import close as close_module
from meterdesk.billing.close import billing_close
from meterdesk.testing import MOSCOW, ReadingFactory, make_tariff

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _fresh_pricing_cache():
    """The close caches prices per run id, and run ids come again when a test's transaction rolls back."""
    close_module._PRICING.clear()
    yield
    close_module._PRICING.clear()


@pytest.fixture
def billing(office_world):
    make_tariff(prices=("6.43",))  # the single rate the norm and the average bill at
    return client_of(staff_of(BILLING))


def test_the_close_is_refused_while_the_window_is_open_and_forced_only_with_a_reason(billing, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    with mock.patch("meterdesk.backoffice.billing_views.subprocess.Popen") as popen:
        refused = billing.post("/office/billing/close/", {"period": "2026-12"})
        assert refused.status_code == 422 and 'data-testid="refusals"' in refused.content.decode()
        no_reason = billing.post("/office/billing/close/", {"period": "2026-12", "force": "on"})
        assert no_reason.status_code == 422 and "reason" in no_reason.context["form"].errors
        assert not popen.called
        started = billing.post(
            "/office/billing/close/", {"period": "2026-12", "force": "on", "reason": "тест"}
        )
    assert started.status_code == 302 and started["Location"] == "/office/billing/2026-12/"
    command = popen.call_args.args[0]
    assert command[-7:] == ["bill", "--period", "2026-12", "--force", "--reason", "тест"][-7:] or command[
        3:
    ] == [
        "bill",
        "--period",
        "2026-12",
        "--force",
        "--reason",
        "тест",
    ]
    assert popen.call_args.kwargs["start_new_session"] is True
    assert popen.call_args.kwargs["env"]["LOGNAME"] == "billing@office.example.com"


def test_the_run_s_progress_summary_and_an_account_opened_from_it(billing, office_world, settings):
    _user, meter = office_world
    ReadingFactory(
        meter=meter,
        period=NOV,
        t1=Decimal(1100),
        t2=Decimal(550),
        submitted_at=datetime(2026, 11, 20, 12, tzinfo=MOSCOW),
    )
    billing_close(NOV, force=True, reason="test", forced_by="test")
    page = billing.get("/office/billing/2026-11/")
    text = page.content.decode()
    assert page.status_code == 200 and 'data-testid="by-basis"' in text
    assert page.context["summary"].accounts == 1 and page.context["progress"]["percent"] == 100
    assert not page.context["running"] and 'http-equiv="refresh"' not in text
    assert billing.get("/office/billing/").context["rows"][0][0].period == NOV
    opened = billing.get("/office/billing/2026-11/", {"account": meter.account.number})
    assert opened["Location"] == f"/office/accounts/{meter.account.number}/"
    assert billing.get("/office/billing/2026-10/").status_code == 404


def test_a_rebill_needs_a_reason_and_is_recorded(billing, office_world):
    _user, meter = office_world
    ReadingFactory(
        meter=meter,
        period=NOV,
        t1=Decimal(1100),
        t2=Decimal(550),
        submitted_at=datetime(2026, 11, 20, 12, tzinfo=MOSCOW),
    )
    billing_close(NOV, force=True, reason="test", forced_by="test")
    url = f"/office/accounts/{meter.account.number}/rebill/"
    page = billing.get(url)
    assert [value for value, _label in page.context["form"].fields["period"].choices] == ["2026-11"]
    missing = billing.post(url, {"period": "2026-11", "cause": "other", "reason": ""})
    assert missing.status_code == 422
    done = billing.post(url, {"period": "2026-11", "cause": "reading_corrected", "reason": "проверка"})
    assert done.status_code == 200 and done.context["posted"] == []  # nothing differs
    entry = LogEntry.objects.get(additional_data__reason="проверка")
    assert (
        entry.actor.email == "billing@office.example.com"
        and entry.additional_data["cause"] == "reading_corrected"
    )


def test_a_supervisor_watches_but_does_not_start_or_rebill(office_world):
    supervisor = client_of(staff_of(SUPERVISOR))
    assert supervisor.get("/office/billing/").status_code == 200
    assert supervisor.get("/office/billing/close/").status_code == 403
