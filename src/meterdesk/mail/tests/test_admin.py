"""Staff see every letter with its outcome and raw source, resolve the queue of letters not
understood by keying the reading (which answers the sender), and read the counts per day."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from meterdesk.mail.models import Letter, Outcome, Via
from meterdesk.mail.services import letter_store
from meterdesk.mail.tests.helpers import letter
from meterdesk.metering.models import Reading
from meterdesk.testing import UserFactory, moscow

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def unclear(customer, django_capture_on_commit_callbacks):
    _user, meter = customer
    raw = letter(f"л/с {meter.account.number} № {meter.serial}: 1300 650, фото во вложении")
    now = mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20))
    with now, django_capture_on_commit_callbacks(execute=True):
        stored = letter_store(raw=raw, via=Via.SMTP, mail_from="anna@example.com")
    mail.outbox.clear()
    return Letter.objects.get(pk=stored.pk)


def test_letters_with_their_outcome_and_raw_source(staff, unclear):
    listing = staff.get(reverse("admin:mail_letter_changelist"))
    assert listing.status_code == 200 and "anna@example.com" in listing.content.decode()
    page = staff.get(reverse("admin:mail_letter_change", args=[unclear.pk])).content.decode()
    assert "Message-ID:" in page and "1300 650" in page  # the raw source, decoded


def test_staff_key_the_reading_of_a_letter_not_understood(
    staff, unclear, customer, django_capture_on_commit_callbacks
):
    _user, meter = customer
    assert unclear.outcome == Outcome.NOT_UNDERSTOOD
    queue = reverse("admin:mail_unresolved_changelist")
    assert reverse("admin:mail_unresolved_resolve", args=[unclear.pk]) in staff.get(queue).content.decode()
    url = reverse("admin:mail_unresolved_resolve", args=[unclear.pk])
    assert staff.get(url).status_code == 200
    data = {"account": meter.account.number, "serial": meter.serial, "t1": "1300", "t2": "650"}
    now = mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20))
    with now, django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, data)
    assert response.status_code == 302
    assert Reading.objects.get(meter=meter).t1 == 1300
    unclear.refresh_from_db()
    assert unclear.resolved_at is not None and unclear.resolved_by.email == "staff@example.com"
    assert mail.outbox[0].to == ["anna@example.com"] and "1300" in mail.outbox[0].body
    assert mail.outbox[0].extra_headers["In-Reply-To"] == unclear.message_id
    assert url not in staff.get(queue).content.decode()  # out of the queue


def test_a_wrong_serial_is_refused_in_the_form(staff, unclear, customer):
    _user, meter = customer
    url = reverse("admin:mail_unresolved_resolve", args=[unclear.pk])
    response = staff.post(url, {"account": meter.account.number, "serial": "nope", "t1": "1"})
    assert response.status_code == 200 and not Reading.objects.exists()


def test_counts_per_day(staff, unclear):
    page = staff.get(reverse("admin:mail_letter_daily")).content.decode()
    assert 'data-day="2026-11-20"' in page
    row = page.split('data-day="2026-11-20"')[1].split("</tr>")[0]
    assert "<td>1</td>" in row and "ambiguous: 1" in row
