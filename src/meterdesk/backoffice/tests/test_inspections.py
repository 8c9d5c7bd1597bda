"""The inspections' pages and writes: who may open them, the visit stored once per key, the
control reading through the core and the recalculation it brings, a refusal of access, the
supervisor's reassignment and cancellation."""

from __future__ import annotations

import io
from datetime import date, time, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from PIL import Image

from meterdesk.backoffice.inspection_services import VisitError, visit_record
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.billing import close as close_module
from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.tests.conftest import prices  # noqa: F401 - the tariffs of 2024–2026
from meterdesk.billing.tests.helpers import D, month, reading
from meterdesk.core.accounts import control_months_of, line_words
from meterdesk.inspections.models import Condition, Inspection, Reason, Status
from meterdesk.inspections.photos import photo_path, root
from meterdesk.metering.models import Channel, Reading, ReadingKind
from meterdesk.testing import MeterFactory, moscow
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db

SEP, OCT, NOV = (month(2026, m) for m in (9, 10, 11))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def _inspection(meter, inspector, on=None, status=Status.NOTIFIED):
    return Inspection.objects.create(
        meter=meter,
        planned_on=on or utility_now().date(),
        hours_from=time(9),
        hours_to=time(13),
        reason=Reason.ANNUAL,
        inspector=inspector,
        status=status,
        route_order=1,
    )


@pytest.fixture
def visit_world(office_world):
    _user, meter = office_world
    inspector = staff_of("inspector")
    return meter, inspector, _inspection(meter, inspector)


def _form(key="key-0123456789", t1="1200", t2="600", **extra):
    return {"key": key, "t1": t1, "t2": t2, "condition": Condition.OK, "seals": "П-000123", **extra}


# --- pages and roles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "plan", "route"),
    [
        ("inspector", 200, 200),
        ("supervisor", 200, 200),
        ("admin", 200, 200),
        ("operator", 403, 403),
        ("billing", 403, 403),
        ("support", 403, 403),
    ],
)
def test_pages_by_role(visit_world, role, plan, route):
    client = client_of(staff_of(role, f"{role}2@office.example.com"))
    assert client.get(reverse("backoffice:inspections")).status_code == plan
    assert client.get(reverse("backoffice:inspector_route")).status_code == route


def test_the_route_shows_todays_visits_of_the_inspector_only(visit_world):
    _meter, inspector, inspection = visit_world
    other = staff_of("inspector", "other@office.example.com")
    _inspection(MeterFactory(serial="SN-OTHER"), other)
    _inspection(MeterFactory(serial="SN-TOMORROW"), inspector, on=utility_now().date() + timedelta(days=1))
    page = client_of(inspector).get(reverse("backoffice:inspector_route")).content.decode()
    assert "SN-77123" in page and "SN-OTHER" not in page and "SN-TOMORROW" not in page
    assert reverse("backoffice:inspection_visit", args=[inspection.pk]) in page
    # another inspector's visit is not theirs to open
    assert (
        client_of(other).get(reverse("backoffice:inspection_visit", args=[inspection.pk])).status_code == 404
    )


def test_the_plan_filters_and_the_account_page_lists_the_inspections(visit_world):
    meter, _inspector, inspection = visit_world
    supervisor = client_of(staff_of("supervisor"))
    page = supervisor.get(reverse("backoffice:inspections"), {"status": "notified"}).content.decode()
    assert "SN-77123" in page
    page = supervisor.get(reverse("backoffice:inspections"), {"status": "done"}).content.decode()
    assert "SN-77123" not in page
    account = supervisor.get(reverse("backoffice:account", args=[meter.account.number])).content.decode()
    assert 'data-testid="account-inspections"' in account
    assert reverse("backoffice:inspection", args=[inspection.pk]) in account


# --- the visit ----------------------------------------------------------------------------------------


def test_a_visit_stores_the_control_reading_photo_and_seals_once_per_key(visit_world):
    meter, inspector, inspection = visit_world
    client = client_of(inspector)
    url = reverse("backoffice:inspection_visit", args=[inspection.pk])
    assert client.get(url).status_code == 200
    data = _form(photo=io.BytesIO(png()))
    data["photo"].name = "meter.png"
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == reverse("backoffice:inspector_route")
    inspection.refresh_from_db()
    assert inspection.status == Status.DONE and inspection.seals == "П-000123"
    control = inspection.reading
    assert (control.kind, control.channel, control.values) == (
        ReadingKind.CONTROL,
        Channel.INSPECTOR,
        (D(1200), D(600)),
    )
    path = photo_path(inspection.photo)
    assert path.read_bytes() == png() and root() in path.parents
    assert LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Reading), object_id=control.pk
    ).exists()
    files = list(root().rglob("*.png"))

    # The same form again (the phone's outbox resending): the same answer, nothing stored twice.
    again = _form(photo=io.BytesIO(png()))
    again["photo"].name = "meter.png"
    response = client.post(url, again, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["ok"] and response.json()["repeated"] and response.json()["status"] == "done"
    assert Reading.objects.filter(meter=meter, kind=ReadingKind.CONTROL).count() == 1
    assert list(root().rglob("*.png")) == files
    # A new form for a visit already done is refused.
    response = client.post(url, _form(key="key-another-1234"))
    assert response.status_code == 422


def test_a_bad_photo_or_value_stores_nothing(visit_world):
    meter, inspector, inspection = visit_world
    client = client_of(inspector)
    url = reverse("backoffice:inspection_visit", args=[inspection.pk])
    data = _form(photo=io.BytesIO(b"not a picture at all"))
    data["photo"].name = "meter.png"
    response = client.post(url, data, HTTP_ACCEPT="application/json")
    assert response.status_code == 422 and response.json()["ok"] is False
    response = client.post(url, _form(t1="12a"))  # not a number
    assert response.status_code == 422
    assert "t1" in response.context["form"].errors
    response = client.post(url, _form(condition=""))
    assert response.status_code == 422
    inspection.refresh_from_db()
    assert inspection.status == Status.NOTIFIED and inspection.client_key == ""
    assert not Reading.objects.filter(meter=meter, kind=ReadingKind.CONTROL).exists()


def test_a_refusal_of_access_is_an_act_and_the_second_allows_the_estimate(visit_world):
    meter, inspector, inspection = visit_world
    client = client_of(inspector)
    url = reverse("backoffice:inspection_visit", args=[inspection.pk])
    response = client.post(url, {"key": "key-refusal-0001", "refused": "1", "note": "не открыли дверь"})
    assert response.status_code == 302
    inspection.refresh_from_db()
    assert (inspection.status, inspection.refusals_in_row, inspection.reading) == (Status.REFUSED, 1, None)
    second = _inspection(meter, inspector)
    result = visit_record(staff=inspector, inspection=second, client_key="key-refusal-0002", refused=True)
    assert result.inspection.refusals_in_row == 2
    kind = ContentType.objects.get_for_model(Inspection)
    entries = LogEntry.objects.filter(content_type=kind).order_by("pk")
    assert [e.additional_data["estimate_allowed"] for e in entries] == [False, True]
    assert entries[0].changes_dict["status"] == ["notified", "refused"]
    assert entries[0].additional_data["reason"] == "не открыли дверь"
    history = client_of(staff_of("supervisor")).get(
        reverse("backoffice:changes", args=[meter.account.number])
    )
    assert "не открыли дверь" in history.content.decode()  # the act is in the account's history


def test_the_key_is_required_and_not_reused_for_another_visit(visit_world):
    meter, inspector, inspection = visit_world
    with pytest.raises(VisitError) as error:
        visit_record(staff=inspector, inspection=inspection, client_key="", refused=True)
    assert error.value.code == "client_key"
    visit_record(staff=inspector, inspection=inspection, client_key="key-shared-0001", refused=True)
    other = _inspection(meter, inspector)
    with pytest.raises(VisitError) as error:
        visit_record(staff=inspector, inspection=other, client_key="key-shared-0001", refused=True)
    assert error.value.code == "client_key_used"


# --- the supervisor -----------------------------------------------------------------------------------


def test_reassign_and_cancel_with_a_reason(visit_world):
    _meter, _inspector, inspection = visit_world
    other = staff_of("inspector", "other@office.example.com")
    client = client_of(staff_of("supervisor"))
    tomorrow = utility_now().date() + timedelta(days=1)
    response = client.post(
        reverse("backoffice:inspection_reassign", args=[inspection.pk]),
        {"inspector": other.pk, "day": tomorrow.isoformat(), "reason": "заболел"},
    )
    assert response.status_code == 302
    inspection.refresh_from_db()
    assert (inspection.inspector, inspection.planned_on) == (other, tomorrow)
    cancel = reverse("backoffice:inspection_cancel", args=[inspection.pk])
    assert client.post(cancel, {"reason": ""}).status_code == 422
    assert client.post(cancel, {"reason": "счётчик заменён"}).status_code == 302
    inspection.refresh_from_db()
    assert (inspection.status, inspection.cancel_reason) == (Status.CANCELLED, "счётчик заменён")
    assert LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Inspection)).count() == 2


def test_the_photo_is_for_staff_with_the_role_only(visit_world, office_world):
    customer, _meter = office_world
    _same, inspector, inspection = visit_world
    visit_record(
        staff=inspector,
        inspection=inspection,
        client_key="key-photo-00001",
        values=["1200", "600"],
        condition=Condition.OK,
        photo=png(),
    )
    url = reverse("backoffice:inspection_photo", args=[inspection.pk])
    response = client_of(staff_of("supervisor")).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png()  # type: ignore[attr-defined]
    assert client_of(customer).get(url).status_code == 403
    assert client_of(staff_of("operator")).get(url).status_code == 403


# --- the control reading and the bill --------------------------------------------------------------


@pytest.fixture
def billed(prices, settings):  # noqa: F811 - the fixture imported above
    """A one-zone meter read by the household in September (1100) and October (1200), both closed."""
    close_module._PRICING.clear()
    settings.METERDESK_READING_WINDOW = "1-31"
    meter = MeterFactory(zones=1, installed_on=date(2024, 1, 10))
    reading(meter, SEP, 1100)
    reading(meter, OCT, 1200)
    billing_close(SEP)
    billing_close(OCT)
    inspector = staff_of("inspector")
    return meter, inspector


def test_a_control_reading_below_the_billed_values_is_credited_on_the_next_bill(billed):
    meter, inspector = billed
    inspection = _inspection(meter, inspector, on=date(2026, 11, 5))
    visit_record(
        staff=inspector,
        inspection=inspection,
        client_key="key-control-0001",
        values=["1150"],
        condition=Condition.OK,
        now=moscow(2026, 11, 5, 11),
    )
    billing_close(NOV)
    lines = list(LedgerEntry.objects.filter(account=meter.account, period=NOV, basis="control"))
    assert [line.volume for line in lines] == [D("-50.000")]
    control = control_months_of(meter.account, [NOV])
    assert "контрольным показаниям" in line_words(lines[0], control)  # the bill says why


def test_a_control_reading_in_a_closed_month_rebills_it(billed):
    meter, inspector = billed
    inspection = _inspection(meter, inspector, on=date(2026, 10, 28))
    result = visit_record(
        staff=inspector,
        inspection=inspection,
        client_key="key-control-0002",
        values=["1150"],
        condition=Condition.OK,
        now=moscow(2026, 10, 28, 11),  # after October's close: the phone sent it late
    )
    control = result.inspection.reading
    assert control is not None and control.period == OCT
    assert result.rebilled, "October is billed again from the control reading"
    corrections = LedgerEntry.objects.filter(account=meter.account, kind=EntryKind.CORRECTION)
    assert {e.period for e in corrections} == {NOV}  # on the next bill
    assert {e.detail["cause"] for e in corrections} == {"control_reading"}
    assert sum(e.volume or 0 for e in corrections) == D("-50.000")


def test_a_control_reading_that_agrees_gives_nothing_to_recalculate(billed):
    meter, inspector = billed
    inspection = _inspection(meter, inspector, on=date(2026, 10, 28))
    result = visit_record(
        staff=inspector,
        inspection=inspection,
        client_key="key-control-0003",
        values=["1200"],
        condition=Condition.OK,
        now=moscow(2026, 10, 28, 11),
    )
    assert result.inspection.status == Status.DONE and result.rebilled == []
    assert not LedgerEntry.objects.filter(account=meter.account, kind=EntryKind.CORRECTION).exists()


def test_an_inspection_asked_for_is_planned_once(visit_world):
    meter, inspector, inspection = visit_world
    client = client_of(staff_of("supervisor"))
    url = reverse("backoffice:inspection_request")
    tomorrow = utility_now().date() + timedelta(days=1)
    data = {
        "account": meter.account.number,
        "serial": "",
        "day": tomorrow.isoformat(),
        "hours": "1",
        "inspector": inspector.pk,
        "reason": "просьба потребителя",
    }
    response = client.post(url, data)
    assert response.status_code == 422  # the meter has one open already
    assert "уже запланирована" in response.content.decode()
    inspection.status = Status.DONE
    inspection.save()
    response = client.post(url, data)
    assert response.status_code == 302
    asked = Inspection.objects.get(reason=Reason.REQUESTED)
    assert (asked.meter, asked.planned_on, asked.hours, asked.inspector) == (
        meter,
        tomorrow,
        "14:00–18:00",
        inspector,
    )
    yesterday = {**data, "day": (utility_now().date() - timedelta(days=1)).isoformat()}
    assert client.post(url, yesterday).status_code == 422
    assert client.post(url, {**data, "account": "9999999999"}).status_code == 422
    assert Inspection.objects.filter(reason=Reason.REQUESTED).count() == 1


def test_letters_by_post_for_households_without_a_login(office_world):
    import csv

    offline = MeterFactory(serial="SN-POST-1", account__holder_name="Пётр Сидоров")
    ahead = utility_now().date() + timedelta(days=15)
    waiting = _inspection(offline, staff_of("inspector"), on=ahead, status=Status.PLANNED)
    supervisor = client_of(staff_of("supervisor"))
    page = supervisor.get(reverse("backoffice:inspections")).content.decode()
    assert 'data-testid="by-post"' in page and f'value="{waiting.pk}"' in page
    answer = supervisor.get(reverse("backoffice:inspection_letters"))
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert [r[0] for r in rows[1:]] == [str(waiting.pk)]
    assert rows[1][2] == "Пётр Сидоров" and "SN-POST-1" in rows[1][7] and "Контролёр" in rows[1][7]
    operator = client_of(staff_of("operator"))
    assert operator.get(reverse("backoffice:inspection_letters")).status_code == 403
    assert (
        operator.post(reverse("backoffice:inspection_letters_posted"), {"inspection": waiting.pk}).status_code
        == 403
    )
    supervisor.post(reverse("backoffice:inspection_letters_posted"), {"inspection": [waiting.pk, "x"]})
    waiting.refresh_from_db()
    assert waiting.status == Status.NOTIFIED and waiting.notified_at is not None
    assert 'data-testid="by-post"' not in supervisor.get(reverse("backoffice:inspections")).content.decode()
