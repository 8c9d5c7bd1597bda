"""Access control: a login sees and touches only the accounts linked to it."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from meterdesk.customers.models import AccountLink
from meterdesk.metering.models import Reading
from meterdesk.testing import MeterFactory, ReadingFactory, UserFactory, link

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _window_open(settings):
    settings.METERDESK_READING_WINDOW = "1-31"


@pytest.fixture
def stranger_meter(db):
    """A meter of an account that belongs to somebody else, with one reading."""
    owner = UserFactory(email="owner@example.com")
    meter = MeterFactory(zones=2)
    meter.account.address = "г. Москва, ул. Секретная, д. 7, кв. 13"
    meter.account.save()
    link(owner, meter.account)
    ReadingFactory(meter=meter, period=date(2024, 3, 1), t1=1111, t2=555, confirmation="777000111222")
    return meter


@pytest.fixture
def anna_client(client, customer):
    client.force_login(customer[0])
    return client


def _personal_pages(meter_id: int, number: str, confirmation: str) -> list[str]:
    return [
        "/cabinet/",
        "/accounts/link/",
        f"/accounts/{number}/history/",
        f"/accounts/{number}/statements/",
        f"/accounts/{number}/statements/2024-03/",
        f"/meters/{meter_id}/readings/new/",
        f"/readings/{confirmation}/",
        "/password/change/",
        "/password/change/done/",
    ]


def test_anonymous_users_are_sent_to_login_from_every_personal_page(client, stranger_meter):
    pages = _personal_pages(stranger_meter.pk, stranger_meter.account.number, "777000111222")
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/login/?next={path}", path


def test_anonymous_posts_are_sent_to_login_and_store_nothing(client, stranger_meter):
    path = f"/meters/{stranger_meter.pk}/readings/new/"
    response = client.post(path, {"t1": "1200", "t2": "600"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    response = client.post("/accounts/link/", {"account_number": stranger_meter.account.number})
    assert response.status_code == 302
    assert Reading.objects.count() == 1


def test_another_users_submit_page_is_not_found(anna_client, stranger_meter):
    response = anna_client.get(f"/meters/{stranger_meter.pk}/readings/new/")
    assert response.status_code == 404
    assert stranger_meter.account.address not in response.content.decode()
    assert stranger_meter.serial not in response.content.decode()


def test_posting_to_another_users_meter_stores_nothing(anna_client, stranger_meter):
    before = list(Reading.objects.values_list("pk", "status"))
    for data in ({"t1": "1200", "t2": "600"}, {"t1": "1200", "t2": "600", "confirm": ["rollover"]}):
        response = anna_client.post(f"/meters/{stranger_meter.pk}/readings/new/", data)
        assert response.status_code == 404
    assert list(Reading.objects.values_list("pk", "status")) == before


def test_a_meter_that_does_not_exist_is_not_found_just_the_same(anna_client):
    assert anna_client.get("/meters/999999/readings/new/").status_code == 404
    assert anna_client.post("/meters/999999/readings/new/", {"t1": "1"}).status_code == 404


def test_another_users_history_is_not_found(anna_client, stranger_meter):
    response = anna_client.get(f"/accounts/{stranger_meter.account.number}/history/")
    assert response.status_code == 404
    assert stranger_meter.account.address not in response.content.decode()
    assert anna_client.get("/accounts/0000000000/history/").status_code == 404


def test_another_users_statements_are_not_found(anna_client, stranger_meter):
    number = stranger_meter.account.number
    for path in (f"/accounts/{number}/statements/", f"/accounts/{number}/statements/2024-03/"):
        response = anna_client.get(path)
        assert response.status_code == 404, path
        assert stranger_meter.account.address not in response.content.decode()


def test_another_users_reading_page_is_not_found(anna_client, stranger_meter):
    response = anna_client.get("/readings/777000111222/")
    assert response.status_code == 404
    assert "1111" not in response.content.decode()
    assert anna_client.get("/readings/000000000000/").status_code == 404


def test_the_owner_does_see_the_same_pages(client, stranger_meter):
    """The 404s above are about ownership, not broken pages."""
    client.force_login(AccountLink.objects.get(account=stranger_meter.account).user)
    assert client.get(f"/meters/{stranger_meter.pk}/readings/new/").status_code == 200
    assert client.get(f"/accounts/{stranger_meter.account.number}/history/").status_code == 200
    assert client.get(f"/accounts/{stranger_meter.account.number}/statements/").status_code == 200
    page = client.get("/readings/777000111222/")
    assert page.status_code == 200
    assert "777000111222" in page.content.decode()


def test_dashboard_lists_only_the_users_own_accounts(anna_client, customer, stranger_meter):
    html = anna_client.get("/cabinet/").content.decode()
    assert customer[1].account.number in html
    assert stranger_meter.account.number not in html
    assert stranger_meter.serial not in html
    assert stranger_meter.account.address not in html


def test_staff_without_a_link_get_no_access_in_the_portal(client, stranger_meter):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    assert client.get(f"/meters/{stranger_meter.pk}/readings/new/").status_code == 404
    assert client.get(f"/accounts/{stranger_meter.account.number}/history/").status_code == 404
    assert client.get(f"/accounts/{stranger_meter.account.number}/statements/").status_code == 404
    assert client.get("/readings/777000111222/").status_code == 404


def test_a_shared_account_is_visible_to_every_linked_login(client, stranger_meter):
    second = UserFactory(email="second@example.com")
    link(second, stranger_meter.account)
    client.force_login(second)
    assert client.get("/readings/777000111222/").status_code == 200
    response = client.post(f"/meters/{stranger_meter.pk}/readings/new/", {"t1": "1200", "t2": "600"})
    assert response.status_code == 302
    assert Reading.objects.filter(meter=stranger_meter, submitted_by=second).count() == 1


def test_access_ends_when_the_link_is_removed(anna_client, customer):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2024, 3, 1), confirmation="555000111222")
    assert anna_client.get("/readings/555000111222/").status_code == 200
    AccountLink.objects.filter(user=user).delete()
    assert anna_client.get(f"/meters/{meter.pk}/readings/new/").status_code == 404
    assert anna_client.get(f"/accounts/{meter.account.number}/history/").status_code == 404
    assert anna_client.get("/readings/555000111222/").status_code == 404


def test_a_reading_of_a_shared_meter_is_visible_only_through_the_link(client, customer, stranger_meter):
    """A user linked to one account cannot reach a reading of another by its confirmation number,
    even when both users have readings."""
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2024, 3, 1), confirmation="555000111333")
    owner = AccountLink.objects.get(account=stranger_meter.account).user
    client.force_login(owner)
    assert client.get("/readings/555000111333/").status_code == 404
    other = Client()
    other.force_login(user)
    assert other.get("/readings/777000111222/").status_code == 404
    assert other.get("/readings/555000111333/").status_code == 200
