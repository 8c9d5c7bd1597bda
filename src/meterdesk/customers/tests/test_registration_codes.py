"""The optional one-time registration code printed on the bill (METERDESK_REGISTRATION_CODE):
issued per account, stored only as a hash, asked for by registration and linking, used once."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from django.core import mail
from django.test import Client

from meterdesk.cli import main
from meterdesk.customers.consent import CONSENT_VERSION
from meterdesk.customers.models import AccountLink, PendingLink, RegistrationCode
from meterdesk.customers.services import (
    AccountMismatch,
    account_link,
    account_match,
    registration_code_for_bill,
    registration_code_issue,
    user_register,
)
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://lk.example.ru"
STRONG = "Lyublino-Marino-2026"


@pytest.fixture
def codes_on(settings):
    settings.METERDESK_REGISTRATION_CODE = True


@pytest.fixture
def meter():
    return MeterFactory(serial="CE-102M0042")


def _match(meter, code: str):
    return account_match(number=meter.account.number, meter_serial=meter.serial, registration_code=code)


def test_a_code_is_ten_unambiguous_characters_stored_only_as_a_hash(meter):
    code = registration_code_issue(account=meter.account)
    assert len(code) == 11 and code[5] == "-"
    assert not set(code.replace("-", "")) & set("ILOU")
    row = RegistrationCode.objects.get(account=meter.account)
    assert code not in (row.code_hash, row.salt)
    assert code.replace("-", "") not in (row.code_hash + row.salt).upper()


def test_with_codes_on_the_pair_alone_matches_nothing(codes_on, meter):
    with pytest.raises(AccountMismatch):
        _match(meter, "")  # no code issued yet
    code = registration_code_issue(account=meter.account)
    for wrong in ("", "AAAAA-AAAAA", code[:-1]):
        with pytest.raises(AccountMismatch):
            _match(meter, wrong)
    for typed in (code, code.lower(), code.replace("-", " "), code.replace("0", "O").replace("1", "I")):
        assert _match(meter, typed) == meter.account


def test_without_the_setting_no_code_is_asked_for(meter):
    registration_code_issue(account=meter.account)
    assert _match(meter, "") == meter.account


def test_a_code_works_once_and_a_new_one_replaces_it(codes_on, meter):
    code = registration_code_issue(account=meter.account)
    user_register(
        email="a@example.com",
        password=STRONG,
        account_number=meter.account.number,
        meter_serial=meter.serial,
        registration_code=code,
        site=SITE,
        consent=CONSENT_VERSION,
    )
    assert PendingLink.objects.get().account == meter.account
    with pytest.raises(AccountMismatch):  # used by the first registration
        account_link(
            user=UserFactory(),
            account_number=meter.account.number,
            meter_serial=meter.serial,
            registration_code=code,
            site=SITE,
        )
    fresh = registration_code_issue(account=meter.account)
    assert fresh != code
    user = UserFactory()
    account_link(
        user=user,
        account_number=meter.account.number,
        meter_serial=meter.serial,
        registration_code=fresh,
        site=SITE,
    )
    assert AccountLink.objects.filter(user=user, account=meter.account).exists()


def test_the_bill_code_is_the_issued_one_only_while_codes_are_on_and_unused(settings, meter):
    code = registration_code_issue(account=meter.account)
    assert registration_code_for_bill(meter.account) is None  # the setting is off
    settings.METERDESK_REGISTRATION_CODE = True
    assert registration_code_for_bill(meter.account) == code
    RegistrationCode.objects.filter(account=meter.account).update(used_at="2026-01-01T00:00:00Z")
    assert registration_code_for_bill(meter.account) is None


def test_a_new_secret_key_prints_no_code_unless_the_old_one_is_kept(codes_on, settings, meter):
    code = registration_code_issue(account=meter.account)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "another-key-" + "x" * 50
    assert registration_code_for_bill(meter.account) is None  # a wrong code is never printed
    settings.SECRET_KEY_FALLBACKS = [old]
    assert registration_code_for_bill(meter.account) == code
    assert _match(meter, code) == meter.account  # checking needs no key: the hash is kept


def test_the_command_issues_codes_for_accounts_without_an_unused_one(codes_on, meter):
    has_one = MeterFactory().account
    kept = registration_code_issue(account=has_one)
    closed = AccountFactory(closed_on="2025-01-01")

    def issue(*args: str) -> str:
        done = CliRunner().invoke(main, ["issue-registration-codes", *args])
        assert done.exit_code == 0, done.output
        return done.stdout

    assert "1 registration code(s) issued" in issue()  # the account without one
    assert RegistrationCode.objects.filter(account=meter.account).exists()
    assert not RegistrationCode.objects.filter(account=closed).exists()
    assert registration_code_for_bill(has_one) == kept  # left as it was
    issue("--account", has_one.number)
    assert registration_code_for_bill(has_one) not in (None, kept)  # replaced
    assert "2 registration code(s) issued" in issue("--all")
    refused = CliRunner().invoke(main, ["issue-registration-codes", "--account", "9999999999"])
    assert refused.exit_code == 1
    assert "no such account: 9999999999" in refused.stderr


def test_the_admin_action_issues_codes(meter):
    staff = Client()
    staff.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    response = staff.post(
        "/admin/customers/account/",
        {"action": "issue_registration_codes", "_selected_action": [meter.account.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert RegistrationCode.objects.filter(account=meter.account, used_at__isnull=True).exists()


def test_the_registration_page_asks_for_the_code(codes_on, client, meter):
    assert 'name="registration_code"' in client.get("/register/").content.decode()
    data = {
        "account_number": meter.account.number,
        "meter_serial": meter.serial,
        "email": "new@example.com",
        "phone": "",
        "password1": STRONG,
        "password2": STRONG,
        "consent": "on",
        "consent_version": CONSENT_VERSION,
    }
    code = registration_code_issue(account=meter.account)
    client.cookies["django_language"] = "en"
    refused = client.post("/register/", {**data, "registration_code": "AAAAA-AAAAA"})
    assert refused.context["form"].non_field_errors() == [
        "The account number and meter serial number do not match."
    ]
    assert client.post("/register/", {**data, "registration_code": code}).status_code == 302
    assert len(mail.outbox) == 1
