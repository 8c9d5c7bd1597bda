"""reading_submit: the window, the checks, replacement, the charge shown at once, nothing stored on error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from meterdesk.core.readings import reading_submit
from meterdesk.customers.models import PremisesCategory
from meterdesk.domain import readings as rules
from meterdesk.metering.check import MeterNotInService, NeedsConfirmation, ReadingInvalid, WindowClosed
from meterdesk.metering.messages import issue_message, window_message
from meterdesk.metering.models import Channel, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, make_tariff, moscow
from meterdesk.utility.selectors import utility_get

D = Decimal
NOW = moscow(2026, 11, 20)  # inside the 15-26 window
NOVEMBER = date(2026, 11, 1)
OCTOBER = date(2026, 10, 1)


def submit(meter, values, **kwargs):
    kwargs.setdefault("channel", Channel.WEB)
    kwargs.setdefault("now", NOW)
    return reading_submit(meter_id=meter.pk, values=values, **kwargs)


def en(issue):
    with translation.override("en"):
        return issue_message(issue)


def single_zone_meter(**kwargs):
    """A one-zone, five-digit meter on its own account, with the Moscow single-rate tariff."""
    account = AccountFactory(category=PremisesCategory.ELECTRIC_STOVE)
    make_tariff(category=PremisesCategory.ELECTRIC_STOVE, prices=("7.16",))
    kwargs.setdefault("initial_t1", D(1000))
    return MeterFactory(account=account, zones=1, **kwargs)


# --- the window ------------------------------------------------------------------------------


class TestWindow:
    def test_opening_moment_of_the_15th_is_accepted(self, customer):
        _, meter = customer
        result = submit(meter, ["1100", "550"], now=moscow(2026, 11, 15, 0, 0, 0))
        assert result.reading.status == ReadingStatus.ACCEPTED
        assert result.reading.period == NOVEMBER

    def test_last_second_of_the_14th_is_refused(self, customer):
        _, meter = customer
        with pytest.raises(WindowClosed) as caught:
            submit(meter, ["1100", "550"], now=moscow(2026, 11, 14, 23, 59, 59))
        assert caught.value.opens_on == date(2026, 11, 15)
        assert caught.value.closes_on == date(2026, 11, 26)
        assert caught.value.code == "window_closed"
        assert Reading.objects.count() == 0

    def test_last_second_of_the_26th_is_accepted(self, customer):
        _, meter = customer
        result = submit(meter, ["1100", "550"], now=moscow(2026, 11, 26, 23, 59, 59))
        assert result.reading.period == NOVEMBER
        assert Reading.objects.count() == 1

    def test_midnight_of_the_27th_is_refused_and_next_opening_is_next_month(self, customer):
        _, meter = customer
        with pytest.raises(WindowClosed) as caught:
            submit(meter, ["1100", "550"], now=moscow(2026, 11, 27, 0, 0, 0))
        assert caught.value.opens_on == date(2026, 12, 15)
        assert caught.value.closes_on == date(2026, 12, 26)
        assert Reading.objects.count() == 0

    def test_after_the_december_window_it_opens_in_january(self, customer):
        _, meter = customer
        with pytest.raises(WindowClosed) as caught:
            submit(meter, ["1100", "550"], now=moscow(2026, 12, 28))
        assert caught.value.opens_on == date(2027, 1, 15)

    def test_the_day_is_taken_in_moscow_time(self, customer):
        _, meter = customer
        # 21:00 UTC on the 14th is 00:00 on the 15th in Moscow.
        result = submit(meter, ["1100", "550"], now=datetime(2026, 11, 14, 21, 0, 0, tzinfo=UTC))
        assert result.reading.period == NOVEMBER
        assert result.reading.submitted_at == datetime(2026, 11, 14, 21, 0, 0, tzinfo=UTC)

    def test_a_minute_earlier_in_utc_is_still_the_14th_in_moscow(self, customer):
        _, meter = customer
        with pytest.raises(WindowClosed):
            submit(meter, ["1100", "550"], now=datetime(2026, 11, 14, 20, 59, 59, tzinfo=UTC))

    def test_moscow_time_after_utc_midnight_of_the_26th_is_already_the_27th(self, customer):
        _, meter = customer
        # 21:00 UTC on the 26th is 00:00 on the 27th in Moscow: closed, though UTC says the 26th.
        with pytest.raises(WindowClosed):
            submit(meter, ["1100", "550"], now=datetime(2026, 11, 26, 21, 0, 0, tzinfo=UTC))

    def test_the_setting_overrides_the_utility(self, customer, settings):
        _, meter = customer
        settings.METERDESK_READING_WINDOW = "23-26"
        with pytest.raises(WindowClosed) as caught:
            submit(meter, ["1100", "550"], now=moscow(2026, 11, 22, 23, 59, 59))
        assert caught.value.opens_on == date(2026, 11, 23)
        assert (caught.value.window.start_day, caught.value.window.end_day) == (23, 26)
        assert Reading.objects.count() == 0
        assert submit(meter, ["1100", "550"], now=moscow(2026, 11, 23, 0, 0, 0)).reading.pk

    def test_the_setting_wins_over_a_changed_utility_window(self, customer, settings):
        _, meter = customer
        utility = utility_get()
        utility.window_start_day, utility.window_end_day = 1, 31
        utility.save()
        assert submit(meter, ["1100", "550"], now=moscow(2026, 11, 3)).reading.pk
        settings.METERDESK_READING_WINDOW = "23-26"
        with pytest.raises(WindowClosed):
            submit(meter, ["1101", "551"], now=moscow(2026, 11, 4))
        assert Reading.objects.filter(status=ReadingStatus.ACCEPTED).count() == 1

    def test_the_utility_window_applies_without_the_setting(self, customer):
        _, meter = customer
        utility = utility_get()
        utility.window_start_day, utility.window_end_day = 1, 31
        utility.save()
        # February 2027 has 28 days: the 28th is the last day of a 1-31 window.
        assert submit(meter, ["1100", "550"], now=moscow(2027, 2, 28, 23, 59, 59)).reading.pk

    def test_message_tells_when_readings_can_be_submitted(self, customer):
        _, meter = customer
        with pytest.raises(WindowClosed) as caught:
            submit(meter, ["1100", "550"], now=moscow(2026, 11, 2))
        window = caught.value.window
        with translation.override("en"):
            text = window_message(window.start_day, window.end_day)
        assert text == "Readings can be submitted from the 15th to the 26th of each month."

    def test_control_readings_ignore_the_window(self, customer):
        _, meter = customer
        result = submit(
            meter,
            ["1100", "550"],
            kind=ReadingKind.CONTROL,
            channel=Channel.INSPECTOR,
            now=moscow(2026, 11, 3),
        )
        assert result.reading.kind == ReadingKind.CONTROL
        assert result.reading.period == NOVEMBER


# --- validation ------------------------------------------------------------------------------


class TestValidation:
    def refused(self, meter, values, **kwargs):
        before = Reading.objects.count()
        with pytest.raises(ReadingInvalid) as caught:
            submit(meter, values, **kwargs)
        assert Reading.objects.count() == before
        assert caught.value.code == "validation_error"
        for issue in caught.value.issues:
            assert issue_message(issue).strip()
            assert en(issue).strip()
        return caught.value

    def test_whole_numbers_only(self, customer):
        _, meter = customer
        error = self.refused(meter, ["1100.5", "550"])
        assert error.codes == {rules.NOT_WHOLE}
        assert [i.zone for i in error.issues] == [1]
        assert "whole" in en(error.issues[0])

    def test_whole_number_written_with_a_zero_decimal_is_accepted(self, customer):
        _, meter = customer
        result = submit(meter, ["1100.0", "550,0"])
        assert result.reading.values == (D(1100), D(550))

    @pytest.mark.parametrize("raw", ["123.4", "123,4"])
    def test_decimal_meter_accepts_its_decimal_place(self, db, raw):
        meter = single_zone_meter(decimal_places=1, initial_t1=D(100))
        result = submit(meter, [raw])
        result.reading.refresh_from_db()
        assert result.reading.t1 == D("123.4")
        assert result.charge.consumption == (D("23.4"),)

    def test_decimal_meter_refuses_two_places(self, db):
        meter = single_zone_meter(decimal_places=1, initial_t1=D(100))
        error = self.refused(meter, ["123.45"])
        assert error.codes == {rules.TOO_MANY_DECIMALS}
        assert "at most 1 digit after" in en(error.issues[0])

    def test_five_digits_99999_accepted(self, db):
        meter = single_zone_meter(initial_t1=D(99000))
        assert submit(meter, ["99999"]).reading.t1 == D(99999)

    def test_five_digits_100000_refused(self, db):
        meter = single_zone_meter(initial_t1=D(99000))
        error = self.refused(meter, ["100000"])
        assert error.codes == {rules.TOO_MANY_DIGITS}
        assert "at most 5 digits" in en(error.issues[0])

    def test_below_previous(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1200), t2=D(600))
        error = self.refused(meter, ["1150", "650"])
        assert error.codes == {rules.BELOW_PREVIOUS}
        assert [i.zone for i in error.issues] == [1]
        text = en(error.issues[0])
        assert "lower than the previous" in text
        assert "1,200" in text

    def test_below_the_initial_value_of_a_new_meter(self, customer):
        _, meter = customer  # initial 1000 / 500
        error = self.refused(meter, ["1100", "499"])
        assert error.codes == {rules.BELOW_PREVIOUS}
        assert [i.zone for i in error.issues] == [2]
        assert "500" in en(error.issues[0])

    @pytest.mark.parametrize(
        ("values", "code"),
        [
            (["", "550"], rules.REQUIRED),
            ([None, "550"], rules.REQUIRED),
            (["-5", "550"], rules.NEGATIVE),
            (["1l00", "550"], rules.NOT_A_NUMBER),
            (["abc", "550"], rules.NOT_A_NUMBER),
            (["1100", "5 5O"], rules.NOT_A_NUMBER),
        ],
    )
    def test_empty_negative_letters(self, customer, values, code):
        _, meter = customer
        error = self.refused(meter, values)
        assert error.codes == {code}

    @pytest.mark.parametrize("values", [["1100"], ["1100", "550", "700"], []])
    def test_wrong_number_of_values(self, customer, values):
        _, meter = customer
        error = self.refused(meter, values)
        assert error.codes == {rules.WRONG_ZONE_COUNT}
        assert "2" in en(error.issues[0])

    def test_every_zone_reported(self, customer):
        _, meter = customer
        error = self.refused(meter, ["", "x"])
        assert [(i.zone, i.code) for i in error.issues] == [(1, rules.REQUIRED), (2, rules.NOT_A_NUMBER)]

    def test_refused_submission_does_not_supersede_the_accepted_one(self, customer):
        _, meter = customer
        first = submit(meter, ["1100", "550"]).reading
        self.refused(meter, ["900", "550"])
        first.refresh_from_db()
        assert first.status == ReadingStatus.ACCEPTED
        assert Reading.objects.count() == 1

    def test_removed_meter_is_refused(self, customer):
        _, meter = customer
        meter.status = MeterStatus.REMOVED
        meter.save()
        with pytest.raises(MeterNotInService):
            submit(meter, ["1100", "550"])
        assert Reading.objects.count() == 0


class TestConfirmations:
    def test_rollover_needs_confirmation_then_is_accepted(self, db):
        meter = single_zone_meter()
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(99950))
        with pytest.raises(NeedsConfirmation) as caught:
            submit(meter, ["00030"])
        assert caught.value.codes == {rules.CONFIRM_ROLLOVER}
        assert Reading.objects.count() == 1
        text = en(caught.value.issues[0])
        assert "99,950" in text
        assert "80 kWh" in text

        assert caught.value.checked.token(caught.value.issues[0]) == "rollover:1=30"
        result = submit(meter, ["00030"], confirmed={"rollover:1=30"})
        result.reading.refresh_from_db()
        assert result.reading.t1 == D(30)
        assert result.reading.rolled_over is True
        assert result.reading.confirmed == rules.CONFIRM_ROLLOVER
        assert result.charge.consumption == (D(80),)
        assert result.charge.total == D("572.80")  # 80 × 7.16

    def test_confirming_something_else_does_not_help(self, db):
        meter = single_zone_meter()
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(99950))
        with pytest.raises(NeedsConfirmation):
            submit(meter, ["00030"], confirmed={"high_consumption:1=30"})
        with pytest.raises(NeedsConfirmation):
            submit(meter, ["00030"], confirmed={rules.CONFIRM_ROLLOVER})  # which value?
        assert Reading.objects.count() == 1

    def test_far_below_previous_is_not_a_rollover(self, db):
        meter = single_zone_meter()
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(50000))
        with pytest.raises(ReadingInvalid) as caught:
            submit(meter, ["00030"], confirmed={"rollover:1=30"})
        assert caught.value.codes == {rules.BELOW_PREVIOUS}
        assert Reading.objects.count() == 1

    def test_high_consumption_needs_confirmation(self, customer):
        _, meter = customer
        # 100 kWh a month in T1 on average (and 50 in T2).
        ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=D(1100), t2=D(550))
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1200), t2=D(600))
        with pytest.raises(NeedsConfirmation) as caught:
            submit(meter, ["1900", "650"])
        assert caught.value.codes == {rules.CONFIRM_HIGH}
        assert [i.zone for i in caught.value.issues] == [1]
        assert Reading.objects.count() == 2
        text = en(caught.value.issues[0])
        assert "700 kWh" in text
        assert "5 times" in text
        assert "100 kWh" in text

        result = submit(meter, ["1900", "650"], confirmed={"high_consumption:1=1900"})
        assert result.reading.confirmed == rules.CONFIRM_HIGH
        assert result.charge.consumption == (D(700), D(50))

    def test_a_confirmation_of_one_value_does_not_pass_another(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=D(1100), t2=D(550))
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1200), t2=D(600))
        with pytest.raises(NeedsConfirmation) as caught:
            submit(meter, ["1900", "650"])
        token = caught.value.checked.token(caught.value.issues[0])
        # The household confirms 1900, then sends a far higher value with that confirmation.
        with pytest.raises(NeedsConfirmation) as again:
            submit(meter, ["9900", "650"], confirmed={token})
        assert again.value.checked.token(again.value.issues[0]) == "high_consumption:1=9900"
        assert Reading.objects.count() == 2

    def test_five_times_the_average_needs_no_confirmation(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=D(1100), t2=D(550))
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1200), t2=D(600))
        result = submit(meter, ["1700", "650"])
        assert result.reading.confirmed == ""


# --- replacement -----------------------------------------------------------------------------


class TestReplacement:
    def test_second_submission_supersedes_the_first(self, customer):
        _, meter = customer
        first = submit(meter, ["1100", "550"]).reading
        second_result = submit(meter, ["1120", "560"], now=moscow(2026, 11, 21))
        second = second_result.reading
        first.refresh_from_db()
        assert first.status == ReadingStatus.SUPERSEDED
        assert second.status == ReadingStatus.ACCEPTED
        assert second.replaces == first
        assert second_result.replaced == first
        assert first.replaced_by == second
        assert Reading.objects.filter(meter=meter, period=NOVEMBER).count() == 2
        assert (
            Reading.objects.filter(meter=meter, period=NOVEMBER, status=ReadingStatus.ACCEPTED).get()
            == second
        )
        assert first.confirmation != second.confirmation

    def test_second_submission_is_checked_against_last_month_not_the_first(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1200), t2=D(600))
        submit(meter, ["1300", "650"])
        # A correction downwards is fine as long as it is not below October's reading.
        second = submit(meter, ["1250", "620"], now=moscow(2026, 11, 21))
        assert second.previous_values == (D(1200), D(600))
        assert second.charge.consumption == (D(50), D(20))
        with pytest.raises(ReadingInvalid) as caught:
            submit(meter, ["1199", "620"], now=moscow(2026, 11, 22))
        assert caught.value.codes == {rules.BELOW_PREVIOUS}
        assert (
            Reading.objects.get(meter=meter, period=NOVEMBER, status=ReadingStatus.ACCEPTED) == second.reading
        )

    def test_third_submission_chains(self, customer):
        _, meter = customer
        first = submit(meter, ["1100", "550"]).reading
        second = submit(meter, ["1110", "555"]).reading
        third = submit(meter, ["1120", "560"]).reading
        assert third.replaces == second
        assert second.replaces == first
        assert Reading.objects.filter(status=ReadingStatus.ACCEPTED).get() == third

    def test_a_control_reading_does_not_supersede_the_customers(self, customer):
        _, meter = customer
        mine = submit(meter, ["1100", "550"]).reading
        control = submit(meter, ["1105", "552"], kind=ReadingKind.CONTROL, channel=Channel.INSPECTOR).reading
        mine.refresh_from_db()
        assert mine.status == ReadingStatus.ACCEPTED
        assert control.replaces is None

    def test_one_accepted_customer_reading_per_meter_and_month(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=OCTOBER)
        with pytest.raises(IntegrityError), transaction.atomic():
            ReadingFactory(meter=meter, period=OCTOBER)
        # A superseded one, or another kind, is allowed beside it.
        ReadingFactory(meter=meter, period=OCTOBER, status=ReadingStatus.SUPERSEDED)
        ReadingFactory(meter=meter, period=OCTOBER, kind=ReadingKind.CONTROL)
        assert Reading.objects.filter(meter=meter, period=OCTOBER).count() == 3


# --- the charge shown at once ----------------------------------------------------------------


class TestCharge:
    def test_two_zone_charge(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1100), t2=D(550))
        result = submit(meter, ["1300", "650"])
        charge = result.charge
        assert charge.months == 1
        assert charge.consumption == (D(200), D(100))
        assert [(line.zone, line.volume, line.price, line.amount) for line in charge.lines] == [
            (1, D(200), D("9.45"), D("1890.00")),
            (2, D(100), D("4.08"), D("408.00")),
        ]
        assert charge.total == D("2298.00")
        assert charge.tariff is not None
        assert result.previous_values == (D(1100), D(550))

    def test_rounding_half_up_per_line(self, customer):
        _, meter = customer
        meter.decimal_places = 1
        meter.save()
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1100), t2=D(550))
        charge = submit(meter, ["1200.1", "600,3"]).charge
        # 100.1 × 9.45 = 945.945 → 945.95; 50.3 × 4.08 = 205.224 → 205.22
        assert [line.amount for line in charge.lines] == [D("945.95"), D("205.22")]
        assert charge.total == D("1151.17")

    def test_first_reading_covers_the_months_since_installation(self, customer):
        _, meter = customer  # installed 2024-01-10, initial 1000 / 500
        result = submit(meter, ["1100", "550"])
        assert result.charge.months == 34
        assert result.previous_values == (D(1000), D(500))
        assert result.charge.total == D("1149.00")  # 100 × 9.45 + 50 × 4.08

    def test_no_tariff_no_amount_but_the_reading_is_kept(self, db):
        meter = MeterFactory(account=AccountFactory(category=PremisesCategory.RURAL))
        result = submit(meter, ["1100", "550"])
        assert result.charge.total is None
        assert result.charge.tariff is None
        assert result.charge.lines == ()
        assert Reading.objects.filter(pk=result.reading.pk).exists()


@pytest.fixture
def banded_meter(db):
    """A one-zone meter of a rural account whose tariff has bands 0-150, 150-600 and 600+."""
    account = AccountFactory(category=PremisesCategory.RURAL)
    make_tariff(
        category=PremisesCategory.RURAL,
        prices=("0",),
        bands=(D(150), D(600), None),
        band_prices={(1, 1): "5.00", (1, 2): "6.50", (1, 3): "9.10"},
    )
    return MeterFactory(account=account, zones=1, initial_t1=D(1000))


class TestBandedCharge:
    def test_one_month_across_three_bands(self, banded_meter):
        ReadingFactory(meter=banded_meter, period=OCTOBER, t1=D(1000))
        charge = submit(banded_meter, ["1800"]).charge
        assert charge.months == 1
        assert [(line.band, line.volume, line.amount) for line in charge.lines] == [
            (1, D(150), D("750.00")),
            (2, D(450), D("2925.00")),
            (3, D(200), D("1820.00")),
        ]
        assert charge.total == D("5495.00")

    def test_several_months_scale_the_band_limits(self, banded_meter):
        ReadingFactory(meter=banded_meter, period=date(2026, 8, 1), t1=D(1000))
        charge = submit(banded_meter, ["1800"]).charge
        assert charge.months == 3
        # Over three months band 1 is 450 kWh and band 2 runs to 1800.
        assert [(line.band, line.volume, line.amount) for line in charge.lines] == [
            (1, D(450), D("2250.00")),
            (2, D(350), D("2275.00")),
        ]
        assert charge.total == D("4525.00")

    def test_two_zone_bands(self, db):
        account = AccountFactory(category=PremisesCategory.RURAL)
        make_tariff(
            category=PremisesCategory.RURAL,
            prices=("0", "0"),
            bands=(D(150), D(600), None),
            band_prices={
                (1, 1): "6.00",
                (2, 1): "3.00",
                (1, 2): "7.50",
                (2, 2): "3.50",
                (1, 3): "10.00",
                (2, 3): "5.00",
            },
        )
        meter = MeterFactory(account=account, zones=2)
        ReadingFactory(meter=meter, period=OCTOBER, t1=D(1000), t2=D(500))
        charge = submit(meter, ["1233", "600"]).charge
        assert [(line.zone, line.band, line.volume, line.amount) for line in charge.lines] == [
            (1, 1, D("104.955"), D("629.73")),
            (2, 1, D("45.045"), D("135.14")),
            (1, 2, D("128.045"), D("960.34")),
            (2, 2, D("54.955"), D("192.34")),
        ]
        assert charge.total == D("1917.55")
