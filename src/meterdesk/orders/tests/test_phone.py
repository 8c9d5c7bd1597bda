"""The phone line's services menu: an identified caller's meter replacement or verification is a
service request of the phone channel (no separate callback request); without the catalogue's
service, a plain callback request as before."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest

from meterdesk.orders.catalogue import services_load
from meterdesk.orders.models import Channel, ServiceRequest
from meterdesk.phone.models import CallbackRequest
from meterdesk.phone.tests.helpers import IN_WINDOW, conversation, customer, keys

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now(settings):
    settings.METERDESK_READING_WINDOW = None
    settings.METERDESK_IVR_OPERATOR = ""
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW):
        yield


@pytest.mark.parametrize(("key", "code"), [("1", "meter-replacement"), ("2", "verification")])
def test_a_service_asked_on_the_phone_is_a_service_request(key, code):
    services_load(since=date(2024, 1, 1))
    person = customer()
    call = conversation()
    call.start()
    keys(call, "1")  # the address is confirmed
    text = keys(call, "5" + key)
    assert "перезвоним" in text.lower()
    made = ServiceRequest.objects.get()
    assert (made.service.code, made.channel, made.account_id) == (
        code,
        Channel.PHONE,
        person.meter.account_id,
    )
    assert "+79161234567" in made.comment
    assert not CallbackRequest.objects.exists()
