"""The close's guard: no month is closed before its reading window has ended (in the utility's
time zone, by the same window as the submissions), nor a future month, unless forced with a
reason, and a forced close is recorded on its run. Today is set by ``now`` (the close) or by
patching ``timezone.now`` (the command)."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from click.testing import CliRunner
from django.urls import reverse

from meterdesk.billing.close import CloseError, billing_close, run_prepare
from meterdesk.billing.models import AccountClose, BillingChunk, BillingRun, LedgerEntry
from meterdesk.billing.tests.helpers import month, reading
from meterdesk.cli import main
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory, moscow
from meterdesk.utility.selectors import utility_get

pytestmark = pytest.mark.django_db

NOV, DEC, JAN = month(2026, 11), month(2026, 12), month(2027, 1)


@pytest.fixture
def household(prices):
    """One two-zone meter read in October and November 2026, and a household without a meter."""
    meter = MeterFactory(zones=2)
    reading(meter, month(2026, 10), 1200, 600)
    reading(meter, NOV, 1300, 650)
    AccountFactory(meter_required=False)
    return meter


def _nothing_written() -> None:
    assert not BillingRun.objects.exists()
    assert not BillingChunk.objects.exists()
    assert not AccountClose.objects.exists()
    assert not LedgerEntry.objects.exists()


class TestTheWindowMustHaveEnded:
    @pytest.mark.parametrize(
        "now",
        [
            moscow(2026, 12, 6),  # before the 15-26 window opens
            moscow(2026, 12, 20),  # while it is open
            moscow(2026, 12, 26, 23, 59, 59),  # its last second
        ],
    )
    def test_the_current_month_is_refused(self, household, now):
        with pytest.raises(CloseError) as caught:
            billing_close(DEC, now=now)
        assert caught.value.code == "window_open"
        assert str(caught.value) == (
            f"2026-12 cannot be closed yet: its reading window ends on 2026-12-26 and today is "
            f"{now:%Y-%m-%d} (Europe/Moscow); close it from 2026-12-27, or give --force with --reason"
        )
        _nothing_written()

    def test_a_future_month_is_refused(self, household):
        with pytest.raises(CloseError) as caught:
            billing_close(JAN, now=moscow(2026, 12, 28))
        assert caught.value.code == "future_month"
        assert str(caught.value) == (
            "2027-01 is a future month (today is 2026-12-28, Europe/Moscow); "
            "it cannot be closed before its reading window ends"
        )
        _nothing_written()

    def test_the_day_after_the_window_it_is_closed(self, household):
        summary = billing_close(DEC, now=moscow(2026, 12, 27, 0, 0, 0))
        assert summary.accounts == 2
        run = BillingRun.objects.get(period=DEC)
        assert run.forced_checks == []
        assert (run.forced_reason, run.forced_by, run.forced_at) == ("", "", None)

    def test_a_past_month_is_closed(self, household):
        assert billing_close(NOV, now=moscow(2026, 12, 6)).accounts == 2

    def test_the_day_is_taken_in_the_utilitys_time_zone(self, household):
        # 20:59:59 UTC on the 26th is 23:59:59 in Moscow: still the window's last day.
        with pytest.raises(CloseError):
            billing_close(DEC, now=datetime(2026, 12, 26, 20, 59, 59, tzinfo=UTC))
        assert billing_close(DEC, now=datetime(2026, 12, 26, 21, 0, 0, tzinfo=UTC)).accounts == 2

    def test_the_utilitys_window_is_used(self, household):
        utility = utility_get()
        utility.window_start_day, utility.window_end_day = 1, 31
        utility.save()
        with pytest.raises(CloseError, match="ends on 2026-12-31"):
            billing_close(DEC, now=moscow(2026, 12, 31, 23, 59, 59))
        assert billing_close(DEC, now=moscow(2027, 1, 1, 0, 0, 0)).accounts == 2

    def test_the_setting_overrides_the_utilitys_window(self, household, settings):
        settings.METERDESK_READING_WINDOW = "23-26"
        utility = utility_get()
        utility.window_start_day, utility.window_end_day = 1, 31
        utility.save()
        assert billing_close(DEC, now=moscow(2026, 12, 27, 0, 0, 0)).accounts == 2

    def test_a_window_to_the_31st_ends_on_the_last_day_of_a_short_month(self, prices, settings):
        settings.METERDESK_READING_WINDOW = "1-31"
        AccountFactory(meter_required=False)
        feb = month(2027, 2)
        with pytest.raises(CloseError, match="ends on 2027-02-28"):
            billing_close(feb, now=moscow(2027, 2, 28, 23))
        assert billing_close(feb, now=moscow(2027, 3, 1, 0, 0, 0)).accounts == 1

    def test_resuming_an_existing_run_is_not_refused(self, household):
        billing_close(DEC, now=moscow(2026, 12, 20), force=True, reason="year-end audit")
        AccountFactory(meter_required=False)  # opened since: the resumed run closes it too
        assert billing_close(DEC, now=moscow(2026, 12, 21)).accounts == 3


class TestForce:
    def test_a_forced_close_is_recorded_on_the_run(self, household):
        now = moscow(2026, 12, 20, 9, 30)
        summary = billing_close(
            DEC, now=now, force=True, reason="the utility closes the year early", forced_by="olga"
        )
        assert summary.accounts == 2
        run = BillingRun.objects.get(period=DEC)
        assert run.forced_checks == ["window_open"]
        assert run.forced_reason == "the utility closes the year early"
        assert run.forced_by == "olga"
        assert run.forced_at == now
        assert summary.forced_checks == ("window_open",)
        assert summary.forced_reason == "the utility closes the year early"
        assert summary.forced_by == "olga"
        assert summary.forced_at == now

    def test_every_overridden_check_is_recorded(self, household):
        billing_close(month(2026, 10), now=moscow(2026, 12, 6))
        billing_close(JAN, now=moscow(2026, 12, 6), force=True, reason="test", forced_by="olga")
        assert BillingRun.objects.get(period=JAN).forced_checks == ["future_month", "previous_month_open"]

    def test_force_without_anything_to_override_records_nothing(self, household):
        billing_close(NOV, now=moscow(2026, 12, 6), force=True, reason="habit", forced_by="olga")
        run = BillingRun.objects.get(period=NOV)
        assert (run.forced_checks, run.forced_reason, run.forced_by, run.forced_at) == ([], "", "", None)

    def test_a_refused_prepare_writes_nothing(self, household):
        with pytest.raises(CloseError):
            run_prepare(DEC, now=moscow(2026, 12, 20))
        _nothing_written()


# --- the command ------------------------------------------------------------------------------


def _bill(*args: str, now: datetime):
    with mock.patch("django.utils.timezone.now", return_value=now):
        return CliRunner().invoke(main, ["bill", "--workers", "0", *args])


class TestCommand:
    def test_the_current_month_is_refused_in_one_line(self, household):
        result = _bill("--period", "2026-12", now=moscow(2026, 12, 20))
        assert result.exit_code == 1
        assert result.output == (
            "Error: 2026-12 cannot be closed yet: its reading window ends on 2026-12-26 and today is "
            "2026-12-20 (Europe/Moscow); close it from 2026-12-27, or give --force with --reason\n"
        )
        _nothing_written()

    def test_a_future_month_is_refused(self, household):
        result = _bill("--period", "2027-01", now=moscow(2026, 12, 28))
        assert result.exit_code == 1
        assert "2027-01 is a future month" in result.output
        _nothing_written()

    def test_force_needs_a_reason(self, household):
        result = _bill("--period", "2026-12", "--force", now=moscow(2026, 12, 20))
        assert result.exit_code == 2
        assert "--force needs --reason" in result.output
        _nothing_written()

    def test_a_reason_without_force_is_refused(self, household):
        result = _bill("--period", "2026-11", "--reason", "why not", now=moscow(2026, 12, 20))
        assert result.exit_code == 2
        assert "--reason goes with --force" in result.output
        _nothing_written()

    def test_a_forced_close_says_so_and_is_recorded(self, household):
        now = moscow(2026, 12, 20, 9, 30)
        with mock.patch("getpass.getuser", return_value="olga"):
            result = _bill("--period", "2026-12", "--force", "--reason", "year-end audit", now=now)
        assert result.exit_code == 0, result.output
        assert "Month 2026-12: 2 accounts closed (2 now)." in result.output
        assert (
            "  forced by olga on 2026-12-20 09:30 (Europe/Moscow), overriding window_open: year-end audit"
            in result.output
        )
        run = BillingRun.objects.get(period=DEC)
        assert (run.forced_checks, run.forced_reason, run.forced_by) == (
            ["window_open"],
            "year-end audit",
            "olga",
        )
        # Run again (resumed, nothing to do): the summary still says how the month was closed.
        again = _bill("--period", "2026-12", now=moscow(2026, 12, 21))
        assert again.exit_code == 0, again.output
        assert "2026-12 is already closed; nothing was changed." in again.output
        assert "forced by olga on 2026-12-20 09:30 (Europe/Moscow)" in again.output

    def test_after_the_window_it_closes_without_force(self, household):
        result = _bill("--period", "2026-12", now=moscow(2026, 12, 27, 0, 0, 1))
        assert result.exit_code == 0, result.output
        assert "forced" not in result.output


def test_the_back_office_shows_a_forced_run(client, household):
    billing_close(DEC, now=moscow(2026, 12, 20), force=True, reason="year-end audit", forced_by="olga")
    run = BillingRun.objects.get(period=DEC)
    client.force_login(UserFactory(email="boss@example.com", is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:billing_billingrun_changelist"), {"forced": "yes"})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [run]
    assert (
        not client.get(reverse("admin:billing_billingrun_changelist"), {"forced": "no"})
        .context["cl"]
        .result_list
    )
    page = client.get(reverse("admin:billing_billingrun_change", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "year-end audit" in html
    assert "olga" in html
    assert "window_open" in html
