"""Who sees an account, on the web: guessing limits of registration and linking, the logins of an
account (see and remove each other), the undo page of the "new login" letter."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from meterdesk.customers.consent import CONSENT_VERSION
from meterdesk.customers.models import AccountLink, LinkAction, LinkEvent
from meterdesk.testing import MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "Vesna-na-Taganke-2026"


def _english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def _registration(number: str, serial: str, email: str = "guess@example.com") -> dict[str, str]:
    return {
        "account_number": number,
        "meter_serial": serial,
        "email": email,
        "phone": "",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        "consent": "on",
        "consent_version": CONSENT_VERSION,
    }


# --- guessing -----------------------------------------------------------------------------------


def test_registration_stops_guessing_serials_of_one_account(settings):
    """Ten tries a day per account number (from any address), then a clear refusal with the wait."""
    settings.METERDESK_LINK_RATE_ACCOUNT = "3/d"
    meter = MeterFactory()
    codes = []
    for n in range(4):
        client = _english(Client(REMOTE_ADDR=f"198.51.100.{n}"))  # each try from another address
        codes.append(client.post("/register/", _registration(meter.account.number, f"WRONG-{n}")).status_code)
    assert codes == [200, 200, 200, 429]
    refused = _english(Client(REMOTE_ADDR="198.51.100.9")).post(
        "/register/", _registration(meter.account.number, meter.serial)
    )
    assert refused.status_code == 429  # even the right serial waits: the count is per number
    errors = refused.context["form"].non_field_errors()
    assert len(errors) == 1
    assert re.fullmatch(
        r"Too many attempts for this account or from your address\. Try again in \d+ minutes\.", errors[0]
    )
    assert not mail.outbox
    other = MeterFactory()  # another account is not affected
    assert Client().post("/register/", _registration(other.account.number, other.serial)).status_code == 302


def test_registration_and_linking_stop_guessing_from_one_address(settings, customer):
    settings.METERDESK_LINK_RATE_ADDRESS = "2/h"
    user, _meter = customer
    client = Client(REMOTE_ADDR="203.0.113.5")
    client.force_login(user)
    targets = [MeterFactory() for _ in range(3)]
    assert (
        client.post(
            "/accounts/link/", {"account_number": targets[0].account.number, "meter_serial": "X"}
        ).status_code
        == 200
    )
    assert (
        Client(REMOTE_ADDR="203.0.113.5")
        .post("/register/", _registration(targets[1].account.number, "X"))
        .status_code
        == 200
    )
    refused = client.post(
        "/accounts/link/", {"account_number": targets[2].account.number, "meter_serial": targets[2].serial}
    )
    assert refused.status_code == 429
    assert "Слишком много попыток" in refused.content.decode()
    assert not AccountLink.objects.filter(account=targets[2].account).exists()
    elsewhere = Client(REMOTE_ADDR="203.0.113.6")
    elsewhere.force_login(user)
    assert (
        elsewhere.post(
            "/accounts/link/",
            {"account_number": targets[2].account.number, "meter_serial": targets[2].serial},
        ).status_code
        == 302
    )


# --- the logins of an account -------------------------------------------------------------------


@pytest.fixture
def shared(customer):
    """Anna's account, also linked to Boris (later) and to nobody else."""
    anna, meter = customer
    boris = UserFactory(email="boris.ivanov@example.com")
    link(boris, meter.account)
    return anna, boris, meter


def test_the_logins_page_lists_them_masked(client, shared):
    anna, _boris, meter = shared
    client.force_login(anna)
    _english(client)
    page = client.get(f"/accounts/{meter.account.number}/logins/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "anna@example.com (you)" in html
    assert "b***v@e***.com" in html
    assert "boris.ivanov" not in html
    assert html.count('name="link"') == 1  # a button for the other login only
    assert f'href="/accounts/{meter.account.number}/logins/"' in client.get("/cabinet/").content.decode()


def test_a_login_removes_another_from_the_page(client, shared):
    anna, boris, meter = shared
    boris_session = Client()
    boris_session.force_login(boris)
    client.force_login(anna)
    target = AccountLink.objects.get(user=boris)
    response = client.post(f"/accounts/{meter.account.number}/logins/", {"link": target.pk})
    assert response.status_code == 302
    assert not AccountLink.objects.filter(pk=target.pk).exists()
    assert LinkEvent.objects.get().action == LinkAction.REMOVED
    assert boris_session.get("/cabinet/").status_code == 302  # logged out everywhere
    assert [m.to for m in mail.outbox] == [["boris.ivanov@example.com"]]


def test_the_newer_login_cannot_remove_the_older_one_yet(client, shared):
    anna, boris, meter = shared
    client.force_login(boris)
    _english(client)
    response = client.post(
        f"/accounts/{meter.account.number}/logins/", {"link": AccountLink.objects.get(user=anna).pk}
    )
    assert response.status_code == 403
    assert "can remove the logins linked before it from" in response.content.decode()
    assert AccountLink.objects.filter(user=anna).exists()


def test_the_logins_of_someone_elses_account_are_not_shown(client, shared):
    _anna, _boris, meter = shared
    client.force_login(UserFactory())
    assert client.get(f"/accounts/{meter.account.number}/logins/").status_code == 404
    theirs = AccountLink.objects.first()
    assert theirs is not None
    assert client.post(f"/accounts/{meter.account.number}/logins/", {"link": theirs.pk}).status_code == 404
    assert AccountLink.objects.count() == 2


def test_a_bad_link_number_changes_nothing(client, shared):
    anna, _boris, meter = shared
    client.force_login(anna)
    for value in ("", "abc", "0", str(AccountLink.objects.get(user=anna).pk)):
        assert client.post(f"/accounts/{meter.account.number}/logins/", {"link": value}).status_code == 404
    assert AccountLink.objects.count() == 2


# --- the undo page ------------------------------------------------------------------------------


def test_the_letter_about_a_new_login_undoes_it_with_one_button(customer):
    anna, meter = customer
    stranger = UserFactory(email="stranger@example.com")
    intruder = Client()
    intruder.force_login(stranger)
    response = intruder.post(
        "/accounts/link/", {"account_number": meter.account.number, "meter_serial": meter.serial}
    )
    assert response.status_code == 302
    (letter,) = mail.outbox
    assert letter.to == ["anna@example.com"]
    found = re.search(r"https?://testserver(/accounts/undo/\S+)", str(letter.body))
    assert found
    path = found.group(1)

    browser = _english(Client(enforce_csrf_checks=True))  # from the mail: no login needed
    page = browser.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "s***r@e***.com" in html and meter.account.number in html
    assert AccountLink.objects.filter(user=stranger).exists()  # opening the link removes nothing
    done = browser.post(path, {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})
    assert done.status_code == 200
    assert 'data-testid="undone"' in done.content.decode()
    assert not AccountLink.objects.filter(user=stranger).exists()
    assert intruder.get("/cabinet/").status_code == 302  # signed out
    assert LinkEvent.objects.filter(action=LinkAction.UNDONE, by=anna).count() == 1
    again = browser.get(path)
    assert again.status_code == 404
    assert "This link no longer works" in again.content.decode()


def test_a_forged_undo_link_shows_that_it_does_not_work(client):
    response = _english(client).get("/accounts/undo/not-a-token/")
    assert response.status_code == 404
    assert "This link no longer works" in response.content.decode()
    assert client.post("/accounts/undo/not-a-token/").status_code == 404
