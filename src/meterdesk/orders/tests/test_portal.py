"""Services in the personal account: the catalogue with prices, the order form, the list of the
login's own requests; another login's account cannot be chosen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from meterdesk.orders.models import Channel, ServiceRequest
from meterdesk.orders.services import request_order
from meterdesk.testing import MeterFactory, UserFactory, link
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def test_the_catalogue_shows_prices_and_a_visitor_is_sent_to_log_in(client, household):
    assert client.get(reverse("orders:services")).status_code == 302
    user, _meter = household
    client.force_login(user)
    html = client.get(reverse("orders:services"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Замена прибора учёта" in html
    assert "3\xa0500,00" in html or "3 500,00" in html or "3\u202f500,00" in html
    assert "бесплатно" in html  # sealing


def test_an_order_from_the_personal_account(client, household):
    user, meter = household
    client.force_login(user)
    url = reverse("orders:order", args=["meter-replacement"])
    assert client.get(url).status_code == 200
    day = utility_now().date() + timedelta(days=4)
    answer = client.post(
        url, {"account": meter.account.pk, "preferred_on": day.isoformat(), "comment": "Звонить заранее"}
    )
    assert answer.status_code == 302
    made = ServiceRequest.objects.get()
    assert (made.account, made.user, made.channel, made.preferred_on) == (
        meter.account,
        user,
        Channel.WEB,
        day,
    )
    listing = client.get(reverse("orders:services")).content.decode()
    assert made.number in listing and "заказана" in listing


def test_a_bad_day_is_refused_with_words_and_nothing_stored(client, household):
    user, meter = household
    client.force_login(user)
    past = utility_now().date() - timedelta(days=2)
    answer = client.post(
        reverse("orders:order", args=["verification"]), {"account": meter.account.pk, "preferred_on": past}
    )
    assert answer.status_code == 400
    assert "Выберите день" in answer.content.decode()
    assert ServiceRequest.objects.count() == 0


def test_only_the_logins_own_accounts_and_requests(client, household):
    user, _meter = household
    other = MeterFactory(zones=1, account__number="2000000077")
    owner = UserFactory(email="boris@example.com")
    link(owner, other.account)
    theirs = request_order(
        account=other.account, service_code="verification", channel=Channel.WEB, user=owner
    )
    client.force_login(user)
    assert theirs.number not in client.get(reverse("orders:services")).content.decode()
    answer = client.post(reverse("orders:order", args=["verification"]), {"account": other.account.pk})
    assert answer.status_code == 400  # not a choice
    assert ServiceRequest.objects.count() == 1
    assert client.get(reverse("orders:order", args=["no-such-service"])).status_code == 404


def test_the_household_cancels_its_own_request_and_no_one_elses(client, household):
    user, meter = household
    made = request_order(account=meter.account, service_code="verification", channel=Channel.WEB, user=user)
    other = UserFactory(email="other@example.com")
    client.force_login(other)
    assert client.post(reverse("orders:cancel", args=[made.pk])).status_code == 404
    client.force_login(user)
    assert client.get(reverse("orders:cancel", args=[made.pk])).status_code == 405
    page = client.get(reverse("orders:services"))
    assert reverse("orders:cancel", args=[made.pk]).encode() in page.content
    answer = client.post(reverse("orders:cancel", args=[made.pk]), follow=True)
    made.refresh_from_db()
    assert made.status == "cancelled" and made.reason == "отменена клиентом"
    assert f"Заявка {made.number} отменена".encode() in answer.content
    assert reverse("orders:cancel", args=[made.pk]).encode() not in answer.content
    again = client.post(reverse("orders:cancel", args=[made.pk]), follow=True)
    assert "Заявка уже закрыта".encode() in again.content or "уже закрыта".encode() in again.content
