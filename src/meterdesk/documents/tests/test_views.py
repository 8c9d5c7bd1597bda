"""Downloads from the personal account: login required, only the login's accounts, 404 otherwise;
the links on the portal's pages; the e-bill page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from meterdesk.billing.models import LedgerEntry
from meterdesk.documents.models import EbillSubscription
from meterdesk.documents.tests.conftest import OCT, SEP
from meterdesk.documents.tests.helpers import pdf_payload, pdf_text
from meterdesk.metering.models import Reading
from meterdesk.testing import MeterFactory, ReadingFactory, UserFactory, link

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(client, history):
    user, meter = history
    client.force_login(user)
    return client, meter


def _urls(meter):
    entry = LedgerEntry.objects.get(external_id="card-42")
    return {
        "bill": reverse("documents:bill", args=[meter.account.number, "2025-09"]),
        "receipt": reverse("documents:receipt", args=[entry.pk]),
        "confirmation": reverse("documents:reading_confirmation", args=["100000000001"]),
    }


def test_bill_download(anna):
    client, meter = anna
    number = meter.account.number
    response = client.get(reverse("documents:bill", args=[number, "2025-09"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="schet-{number}-2025-09.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")
    assert pdf_payload(response.content)["PersAcc"] == number


def test_receipt_and_confirmation_downloads(anna):
    client, meter = anna
    urls = _urls(meter)
    receipt = client.get(urls["receipt"])
    assert receipt.status_code == 200
    assert receipt["Content-Type"] == "application/pdf"
    assert receipt["Content-Disposition"].startswith(
        f'attachment; filename="kvitanciya-{meter.account.number}-'
    )
    assert "card-42" in pdf_text(receipt.content)
    confirmation = client.get(urls["confirmation"])
    assert confirmation.status_code == 200
    assert confirmation["Content-Disposition"] == 'attachment; filename="pokazaniya-100000000001.pdf"'
    assert "100000000001" in pdf_text(confirmation.content)


def test_login_required(client, history):
    _user, meter = history
    for url in _urls(meter).values():
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))


def test_documents_of_someone_else_are_not_found(client, history):
    _user, meter = history
    stranger = UserFactory(email="boris@example.com")
    other = MeterFactory(zones=1)
    link(stranger, other.account)  # Boris has an account of his own, but not Anna's
    client.force_login(stranger)
    for url in _urls(meter).values():
        assert client.get(url).status_code == 404


def test_a_month_not_closed_or_not_a_month_is_not_found(anna):
    client, meter = anna
    number = meter.account.number
    assert client.get(reverse("documents:bill", args=[number, "2025-10"])).status_code == 404
    assert client.get(f"/documents/accounts/{number}/bills/2025-13.pdf").status_code == 404
    assert client.get(reverse("documents:bill", args=["9999999999", "2025-09"])).status_code == 404


def test_a_charge_is_not_a_payment_receipt(anna):
    client, meter = anna
    charge = LedgerEntry.objects.filter(account=meter.account, kind="charge").first()
    assert charge is not None
    assert client.get(reverse("documents:receipt", args=[charge.pk])).status_code == 404
    assert client.get(reverse("documents:reading_confirmation", args=["000000000000"])).status_code == 404


def test_links_on_the_portal_pages(anna):
    client, meter = anna
    number = meter.account.number
    entry = LedgerEntry.objects.get(external_id="card-42")
    statements = client.get(reverse("portal:statements", args=[number])).content.decode()
    for month in ("2025-07", "2025-08", "2025-09"):
        assert reverse("documents:bill", args=[number, month]) in statements
    assert reverse("documents:ebill", args=[number]) in statements
    statement = client.get(reverse("portal:statement", args=[number, "2025-09"])).content.decode()
    assert reverse("documents:bill", args=[number, "2025-09"]) in statement
    assert reverse("documents:receipt", args=[entry.pk]) in statement
    reading = client.get(reverse("portal:reading", args=["100000000001"])).content.decode()
    assert reverse("documents:reading_confirmation", args=["100000000001"]) in reading


def test_links_in_english(anna):
    client, meter = anna
    number = meter.account.number
    page = client.get(reverse("portal:statement", args=[number, "2025-09"]), HTTP_ACCEPT_LANGUAGE="en")
    assert "Download the bill with the payment QR code (PDF)" in page.content.decode()
    page = client.get(reverse("portal:statement", args=[number, "2025-09"]), HTTP_ACCEPT_LANGUAGE="ru")
    assert "Скачать счёт с QR-кодом для оплаты (PDF)" in page.content.decode()


def test_ebill_opt_in_and_out(anna):
    client, meter = anna
    url = reverse("documents:ebill", args=[meter.account.number])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    assert page.status_code == 200
    assert "Присылать счёт по электронной почте вместо бумажного" in page.content.decode()
    response = client.post(url, {"action": "subscribe"})
    assert response.status_code == 302
    assert (
        EbillSubscription.objects.filter(account=meter.account, user__email="anna@example.com").count() == 1
    )
    client.post(url, {"action": "subscribe"})  # twice: still one
    assert EbillSubscription.objects.count() == 1
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert "is sent to anna@example.com" in page.content.decode()
    client.post(url, {"action": "unsubscribe"})
    assert EbillSubscription.objects.count() == 0
    assert client.post(url, {"action": "nonsense"}).status_code == 400


def test_ebill_page_of_someone_else_is_not_found(client, history):
    _user, meter = history
    client.force_login(UserFactory(email="boris@example.com"))
    url = reverse("documents:ebill", args=[meter.account.number])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "subscribe"}).status_code == 404
    assert EbillSubscription.objects.count() == 0


def test_a_shared_account_is_open_to_each_of_its_logins(client, history):
    _user, meter = history
    flatmate = UserFactory(email="ivan@example.com")
    link(flatmate, meter.account)
    client.force_login(flatmate)
    assert client.get(reverse("documents:bill", args=[meter.account.number, "2025-09"])).status_code == 200


def test_confirmation_of_another_accounts_reading_is_not_found(anna):
    client, _meter = anna
    other = MeterFactory(zones=1)
    reading = ReadingFactory(meter=other, period=OCT, t1=1100, t2=None, confirmation="999999999999")
    assert Reading.objects.filter(confirmation="999999999999").exists()
    assert (
        client.get(reverse("documents:reading_confirmation", args=[reading.confirmation])).status_code == 404
    )


def test_admin_lists_subscriptions_and_deliveries(admin_client, history):
    from meterdesk.documents.services import ebill_send, ebill_subscribe

    user, meter = history
    ebill_subscribe(user=user, account=meter.account)
    ebill_send(period=SEP)
    page = admin_client.get(reverse("admin:documents_ebillsubscription_changelist"))
    assert page.status_code == 200
    assert meter.account.number in page.content.decode()
    page = admin_client.get(reverse("admin:documents_ebilldelivery_changelist"))
    assert page.status_code == 200
    assert "anna@example.com" in page.content.decode()
    assert admin_client.get(reverse("admin:documents_ebilldelivery_add")).status_code == 403
