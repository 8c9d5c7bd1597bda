"""The plan of inspections: yearly, not more often than every 3 months, a silent meter within 15
days, 14 days' notice, by street and inspector, and nothing planned twice."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from click.testing import CliRunner

from meterdesk.domain.profiles import InspectionRules
from meterdesk.inspections.models import Inspection, Reason, Status
from meterdesk.inspections.planner import (
    PlanError,
    inspections_by_post,
    inspections_notify,
    inspections_plan,
    inspections_posted,
)
from meterdesk.metering.models import MeterStatus
from meterdesk.notify.models import Notice, Topic
from meterdesk.testing import MeterFactory, ReadingFactory, UserFactory, link, moscow

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 1)
ON = TODAY + timedelta(days=14)
RULES = InspectionRules()


def _read_recently(meter):
    ReadingFactory(meter=meter, period=date(2026, 11, 1), submitted_at=moscow(2026, 11, 20))


def _meter(address="г. Москва, ул. Ленина, д. 5, кв. 12", installed=date(2024, 1, 10), **kwargs):
    meter = MeterFactory(installed_on=installed, account__address=address, **kwargs)
    _read_recently(meter)
    return meter


def _done(meter, on):
    return Inspection.objects.create(
        meter=meter,
        planned_on=on,
        hours_from=time(9),
        hours_to=time(13),
        reason=Reason.ANNUAL,
        status=Status.DONE,
    )


def _plan(inspectors, on=ON, days=1, per_day=12):
    return inspections_plan(
        on=on, days=days, inspectors=inspectors, per_day=per_day, today=TODAY, rules=RULES
    )


@pytest.fixture
def inspectors(db):
    return [
        UserFactory(email="ivan@office.example.com", is_staff=True),
        UserFactory(email="pyotr@office.example.com", is_staff=True),
    ]


def test_a_meter_unchecked_for_a_year_is_planned_and_a_checked_one_is_not(inspectors):
    due = _meter()
    checked = _meter()
    _done(checked, date(2026, 5, 10))  # a year after: 2027-05-10
    result = _plan(inspectors)
    assert [(i.meter, i.reason, i.planned_on) for i in result.planned] == [(due, Reason.ANNUAL, ON)]
    assert result.annual == 1


def test_yearly_when_the_year_runs_out_within_the_days_planned(inspectors):
    meter = _meter()
    _done(meter, date(2025, 12, 20))  # its year ends on 2026-12-20
    assert _plan(inspectors, on=ON, days=3).planned == []  # 15–17 December
    assert [i.planned_on for i in _plan(inspectors, on=ON, days=6).planned] == [ON]


def test_not_more_often_than_every_three_months(inspectors):
    """A silent meter checked two months ago waits until three months have passed."""
    meter = MeterFactory(installed_on=date(2024, 1, 10))  # no reading at all: silent
    _done(meter, date(2026, 10, 1))
    assert _plan(inspectors, on=ON, days=2).planned == []
    meter.inspections.update(planned_on=date(2026, 9, 10))  # three months: 2026-12-10
    assert len(_plan(inspectors, on=ON, days=2).planned) == 1


def test_silent_for_six_months_is_planned_within_fifteen_days_first(inspectors):
    silent = MeterFactory(installed_on=date(2024, 1, 10))
    ReadingFactory(meter=silent, period=date(2026, 5, 1), submitted_at=moscow(2026, 5, 20))
    yearly = [_meter(f"г. Москва, ул. Садовая, д. {n}, кв. 1") for n in range(1, 4)]
    result = _plan(inspectors[:1], on=ON, days=5, per_day=2)
    by_meter = {i.meter: i for i in result.planned}
    assert by_meter[silent].reason == Reason.SILENT
    assert by_meter[silent].planned_on <= TODAY + timedelta(days=RULES.silent_within_days)
    assert by_meter[silent].planned_on == ON  # first, before the yearly ones
    assert {by_meter[m].planned_on for m in yearly} == {ON, ON + timedelta(days=1)}


def test_silent_past_its_deadline_is_not_planned_outside_the_fifteen_days(inspectors):
    MeterFactory(installed_on=date(2024, 1, 10))  # silent
    result = _plan(inspectors, on=TODAY + timedelta(days=16), days=2)
    assert result.planned == [] and result.left == 1


def test_fourteen_days_notice_at_least(inspectors):
    _meter()
    with pytest.raises(PlanError) as error:
        _plan(inspectors, on=TODAY + timedelta(days=13))
    assert error.value.code == "notice_too_short"
    assert not Inspection.objects.exists()


def test_planning_again_plans_nothing_twice(inspectors):
    for n in range(5):
        _meter(f"г. Москва, ул. Ленина, д. {n + 1}, кв. 1")
    first = _plan(inspectors, days=3)
    assert len(first.planned) == 5
    again = _plan(inspectors, days=3)
    assert again.planned == [] and again.left == 0
    assert Inspection.objects.count() == 5


def test_removed_lost_and_closed_are_left_out(inspectors):
    _meter(removed_on=date(2026, 1, 1), status=MeterStatus.REMOVED)
    _meter(status=MeterStatus.LOST)
    _meter(account__closed_on=date(2026, 1, 1))
    assert _plan(inspectors).planned == []


def test_a_day_by_street_over_the_inspectors_and_their_room(inspectors):
    streets = ["ул. Садовая", "ул. Ленина", "ул. Садовая", "ул. Ленина", "пр-т Мира", "ул. Ленина"]
    for n, street in enumerate(streets):
        _meter(f"г. Москва, {street}, д. {n + 1}, кв. 1")
    result = _plan(inspectors, per_day=2, days=1)
    assert len(result.planned) == 4 and result.left == 2
    routes: dict[str, list[tuple[int, str, str]]] = {}
    for i in result.planned:
        routes.setdefault(i.inspector.email, []).append((i.route_order, i.street, i.hours))
    assert routes["ivan@office.example.com"] == [
        (1, "ул. Ленина", "09:00–13:00"),
        (2, "ул. Ленина", "14:00–18:00"),
    ]
    assert [s for _o, s, _h in routes["pyotr@office.example.com"]] == ["ул. Садовая", "ул. Садовая"]
    # the next day's run takes the rest; today's routes are full
    assert len(_plan(inspectors, per_day=2, days=2).planned) == 2


def test_notices_once_and_marked_notified(inspectors):
    meter = _meter()
    household = UserFactory(email="maria@example.com")
    link(household, meter.account)
    _meter()  # no login: stays planned
    _plan(inspectors)
    marked, prepared = inspections_notify(today=TODAY)
    assert marked == 1 and prepared.created >= 1
    notice = Notice.objects.get(user=household, topic=Topic.INSPECTION_SCHEDULED, channel="email")
    assert meter.serial in notice.subject and "09:00–13:00" in notice.subject
    asked = Inspection.objects.create(
        meter=_meter(), planned_on=ON, hours_from=time(9), hours_to=time(13), reason=Reason.REQUESTED
    )
    link(household, asked.meter.account)
    again, prepared = inspections_notify(today=TODAY)
    assert again == 0 and prepared.created == 0
    assert sorted(Inspection.objects.values_list("status", flat=True)) == [
        Status.NOTIFIED,
        Status.PLANNED,
        Status.PLANNED,  # the one asked for: agreed with the household, no notice
    ]


def test_households_without_a_login_get_a_letter_by_post(inspectors):
    online = _meter()
    link(UserFactory(email="maria@example.com"), online.account)
    offline = _meter(address="г. Москва, ул. Ленина, д. 7, кв. 3")
    _plan(inspectors)
    # Only the household no notice can reach is listed, before and after the notices are stored.
    assert [i.meter for i in inspections_by_post(today=TODAY)] == [offline]
    inspections_notify(today=TODAY)
    waiting = inspections_by_post(today=TODAY)
    assert [i.meter for i in waiting] == [offline]
    # Marked once: a stranger's id or a second call marks nothing more.
    online_one = Inspection.objects.get(meter=online)
    assert inspections_posted([waiting[0].pk, online_one.pk, 10**9], today=TODAY) == 1
    assert inspections_posted([waiting[0].pk], today=TODAY) == 0
    assert Inspection.objects.get(meter=offline).status == Status.NOTIFIED
    assert inspections_by_post(today=TODAY) == []


def test_the_command(inspectors, settings):
    from django.contrib.auth.models import Group

    from meterdesk.backoffice.roles import INSPECTOR, group_name
    from meterdesk.cli import main
    from meterdesk.utility.selectors import utility_now

    inspectors[0].groups.add(Group.objects.get(name=group_name(INSPECTOR)))
    _meter()
    today = utility_now().date()
    on = (today + timedelta(days=20)).isoformat()
    result = CliRunner().invoke(main, ["inspections", "plan", "--on", on, "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "Planned 1 inspections" in result.output
    again = CliRunner().invoke(main, ["inspections", "plan", "--on", on, "--days", "2"])
    assert "Planned 0 inspections" in again.output
    bad = CliRunner().invoke(main, ["inspections", "plan", "--on", today.isoformat()])
    assert bad.exit_code != 0 and "14 days ahead" in bad.output
