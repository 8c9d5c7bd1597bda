"""Registration verified by e-mail, linking, the letters to the other logins of an account, undoing
and removing links, and signing a login out everywhere (sessions and device tokens)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from meterdesk.api.auth import token_create
from meterdesk.api.models import ApiToken
from meterdesk.customers.consent import CONSENT_VERSION
from meterdesk.customers.models import AccountLink, LinkAction, LinkEvent, PendingLink, User
from meterdesk.customers.services import (
    UNDO_DAYS,
    AccountMismatch,
    AlreadyLinked,
    EmailNotVerified,
    LinkGone,
    RemoveNotYet,
    TooManyAttempts,
    account_link,
    account_link_remove,
    email_verification_resend,
    email_verify,
    link_undo,
    link_undo_check,
    user_password_set,
    user_register,
    user_sign_out_everywhere,
    verification_tokens,
)
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

STRONG = "Lyublino-Marino-2026"
SITE = "https://lk.example.ru"


@pytest.fixture
def meter():
    return MeterFactory(serial="CE-102M0042")


def _register(meter, email="ivan@example.com", **extra):
    return user_register(
        email=email,
        password=STRONG,
        account_number=meter.account.number,
        meter_serial=meter.serial,
        site=SITE,
        **{"consent": CONSENT_VERSION, **extra},
    )


def _url(message, path: str) -> str:
    match = re.search(re.escape(SITE) + re.escape(path) + r"\S+", message.body)
    assert match, message.body
    return match.group(0)


def _verify_from_mail(message):
    parts = _url(message, "/register/confirm/").split("/")
    return email_verify(uidb64=parts[-3], token=parts[-2], site=SITE)


def _undo_token(message) -> str:
    return _url(message, "/accounts/undo/").rstrip("/").split("/")[-1]


# --- registration -------------------------------------------------------------------------------


def test_a_registered_login_sees_nothing_until_its_email_is_verified(meter):
    user = _register(meter, email="  Ivan.Petrov@Example.RU ", phone="+79161234567", language="en")
    user.refresh_from_db()
    assert user.email == "ivan.petrov@example.ru"
    assert list(user.phones.values_list("number", flat=True)) == ["+79161234567"]
    assert user.check_password(STRONG)
    assert not user.email_verified
    assert not AccountLink.objects.filter(user=user).exists()  # nothing of the account is shown
    assert PendingLink.objects.get(user=user).account == meter.account
    (letter,) = mail.outbox
    assert letter.to == ["ivan.petrov@example.ru"]
    assert "/register/confirm/" in letter.body


def test_following_the_link_verifies_the_email_and_links_the_account(meter):
    user = _register(meter)
    assert _verify_from_mail(mail.outbox[0]) == user
    user.refresh_from_db()
    assert user.email_verified
    assert [link.account for link in user.account_links.all()] == [meter.account]
    assert not PendingLink.objects.filter(user=user).exists()
    event = LinkEvent.objects.get()
    assert (event.account, event.user, event.action, event.channel) == (
        meter.account,
        user,
        LinkAction.LINKED,
        "registration",
    )


def test_the_verification_link_works_once_and_cannot_be_forged(meter):
    user = _register(meter)
    message = mail.outbox[0]
    parts = _url(message, "/register/confirm/").split("/")
    assert email_verify(uidb64=parts[-3], token=parts[-2][:-1] + "x", site=SITE) is None
    assert email_verify(uidb64="bm90LWEtbnVtYmVy", token=parts[-2], site=SITE) is None
    assert _verify_from_mail(message) == user
    assert _verify_from_mail(message) is None  # used
    assert AccountLink.objects.filter(user=user).count() == 1


def test_the_verification_link_expires_like_a_password_reset(meter, settings, monkeypatch):
    _register(meter)
    later = verification_tokens._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(verification_tokens, "_now", lambda: later)
    assert _verify_from_mail(mail.outbox[0]) is None
    assert AccountLink.objects.count() == 0


def test_a_known_address_gets_the_same_answer_and_its_owner_a_letter(meter):
    """As the password reset: nothing tells whether the address has a login. Nothing is made, and
    the address's owner learns that someone tried."""
    existing = UserFactory(email="ivan@example.com", language="en")
    for typed in ("ivan@example.com", "IVAN@Example.com"):
        assert _register(meter, email=typed) is None
    assert list(User.objects.all()) == [existing]
    assert AccountLink.objects.count() == PendingLink.objects.count() == 0
    assert len(mail.outbox) == 2
    assert {m.to[0] for m in mail.outbox} == {"ivan@example.com"}
    assert "Someone tried to register" in mail.outbox[0].subject
    assert "/login/" in mail.outbox[0].body and "/password/reset/" in mail.outbox[0].body


def test_a_mismatch_makes_nothing_and_sends_nothing(meter):
    with pytest.raises(AccountMismatch):
        user_register(
            email="x@example.com",
            password=STRONG,
            account_number="9999999999",
            meter_serial="NOPE",
            site=SITE,
            consent=CONSENT_VERSION,
        )
    assert User.objects.count() == 0
    assert mail.outbox == []


def test_the_pair_is_checked_before_the_password(meter):
    with pytest.raises(AccountMismatch):
        user_register(
            email="x@example.com",
            password="123",
            account_number="9999999999",
            meter_serial="NO",
            site=SITE,
            consent=CONSENT_VERSION,
        )


@pytest.mark.parametrize("password", ["short", "1234567890123", "password1234", "ivanpetrov-example"])
def test_a_weak_password_is_refused(meter, password):
    with pytest.raises(ValidationError):
        user_register(
            email="ivanpetrov@example.com",
            password=password,
            account_number=meter.account.number,
            meter_serial=meter.serial,
            site=SITE,
            consent=CONSENT_VERSION,
        )
    assert User.objects.count() == 0


def test_a_new_link_can_be_asked_for_a_few_times_an_hour(meter):
    user = _register(meter)
    for _ in range(5):
        email_verification_resend(user=user, site=SITE)
    with pytest.raises(TooManyAttempts):
        email_verification_resend(user=user, site=SITE)
    assert len(mail.outbox) == 6
    assert _verify_from_mail(mail.outbox[-1]) == user  # the newest link works


def test_the_other_logins_are_told_when_the_new_one_is_verified(meter):
    wife = UserFactory(email="wife@example.com", language="en")
    link(wife, meter.account)
    user = _register(meter, email="stranger@example.com")
    assert [m.to for m in mail.outbox] == [["stranger@example.com"]]  # not before verification
    _verify_from_mail(mail.outbox[0])
    told = mail.outbox[1]
    assert told.to == ["wife@example.com"]
    assert meter.account.number in told.subject
    assert "s***r@e***.com" in told.body  # the new login, masked
    assert "stranger@example.com" not in told.body
    assert link_undo_check(_undo_token(told)).link.user == user


# --- linking ------------------------------------------------------------------------------------


def test_link_a_further_account_and_tell_its_logins(meter):
    user = UserFactory(email="anna@example.com")
    link(user, meter.account)
    dacha = MeterFactory(serial="DACHA-9")
    owner = UserFactory(email="owner@example.com")
    link(owner, dacha.account)
    created = account_link(user=user, account_number=dacha.account.number, meter_serial="dacha-9", site=SITE)
    assert (created.user, created.account) == (user, dacha.account)
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    event = LinkEvent.objects.get()
    assert (event.account, event.user, event.by, event.channel) == (dacha.account, user, user, "web")


def test_an_unverified_login_cannot_link(meter):
    user = UserFactory(email_verified_at=None)
    with pytest.raises(EmailNotVerified):
        account_link(user=user, account_number=meter.account.number, meter_serial=meter.serial, site=SITE)
    assert not AccountLink.objects.exists()


def test_link_an_account_already_linked(meter):
    user = UserFactory()
    link(user, meter.account)
    with pytest.raises(AlreadyLinked):
        account_link(user=user, account_number=meter.account.number, meter_serial=meter.serial, site=SITE)


def test_link_with_a_wrong_pair(meter):
    user = UserFactory()
    with pytest.raises(AccountMismatch):
        account_link(user=user, account_number=meter.account.number, meter_serial="OTHER", site=SITE)
    assert not AccountLink.objects.filter(user=user).exists()


# --- undoing a link from the letter -------------------------------------------------------------


@pytest.fixture
def intruder(meter):
    """The account's owner, a stranger who linked it through the API, and the owner's letter."""
    owner = UserFactory(email="owner@example.com")
    link(owner, meter.account)
    stranger = UserFactory(email="stranger@example.com")
    account_link(user=stranger, account_number=meter.account.number, meter_serial=meter.serial, site=SITE)
    (letter,) = mail.outbox
    mail.outbox.clear()
    return owner, stranger, letter


def test_undo_removes_the_link_signs_the_login_out_and_records_it(meter, intruder):
    owner, stranger, letter = intruder
    _token, raw = token_create(user=stranger, name="phone")
    session = Client()
    session.force_login(stranger)
    event = link_undo(token=_undo_token(letter), client="203.0.113.7")
    assert not AccountLink.objects.filter(user=stranger, account=meter.account).exists()
    assert (event.action, event.by, event.email, event.address) == (
        LinkAction.UNDONE,
        owner,
        "stranger@example.com",
        "203.0.113.7",
    )
    assert list(ApiToken.objects.live(User.objects.get(pk=stranger.pk))) == []
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/accounts").status_code == 401  # the device token is revoked
    assert session.get("/cabinet/").status_code == 302  # the session is over: back to the login
    assert [m.to for m in mail.outbox] == [["stranger@example.com"]]  # told


def test_an_undo_link_works_once(intruder):
    _owner, _stranger, letter = intruder
    link_undo(token=_undo_token(letter))
    with pytest.raises(LinkGone):
        link_undo(token=_undo_token(letter))


def test_an_undo_link_does_not_remove_a_later_link(meter, intruder):
    """Undone, linked again: the old letter's link names the old link only."""
    _owner, stranger, letter = intruder
    link_undo(token=_undo_token(letter))
    account_link(user=stranger, account_number=meter.account.number, meter_serial=meter.serial, site=SITE)
    with pytest.raises(LinkGone):
        link_undo_check(_undo_token(letter))


def test_a_forged_or_old_undo_link_does_nothing(intruder, monkeypatch):
    _owner, stranger, letter = intruder
    token = _undo_token(letter)
    with pytest.raises(LinkGone):
        link_undo_check(token[:-2] + "xx")
    later = timezone.now() + timedelta(days=UNDO_DAYS, minutes=1)
    monkeypatch.setattr("django.core.signing.time.time", lambda: later.timestamp())
    with pytest.raises(LinkGone):
        link_undo(token=token)
    assert AccountLink.objects.filter(user=stranger).exists()


# --- removing a login from the account's page ---------------------------------------------------


def test_a_login_removes_a_later_one(meter, intruder):
    owner, stranger, _letter = intruder
    _token, raw = token_create(user=stranger, name="phone")
    target = AccountLink.objects.get(user=stranger)
    event = account_link_remove(by=owner, account=meter.account, link_id=target.pk)
    assert (event.action, event.by, event.user) == (LinkAction.REMOVED, owner, stranger)
    assert not AccountLink.objects.filter(pk=target.pk).exists()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/accounts").status_code == 401
    assert [m.to for m in mail.outbox] == [["stranger@example.com"]]


def test_a_new_login_cannot_remove_the_older_ones_until_its_own_link_settles(meter, intruder):
    """Else a stranger who just linked could lock the owner out before the owner undoes it."""
    owner, stranger, _letter = intruder
    mine = AccountLink.objects.get(user=owner)
    with pytest.raises(RemoveNotYet) as refusal:
        account_link_remove(by=stranger, account=meter.account, link_id=mine.pk)
    assert AccountLink.objects.filter(pk=mine.pk).exists()
    assert refusal.value.until > timezone.now() + timedelta(days=UNDO_DAYS - 1)
    AccountLink.objects.filter(user=stranger).update(linked_at=timezone.now() - timedelta(days=UNDO_DAYS + 1))
    account_link_remove(by=stranger, account=meter.account, link_id=mine.pk)
    assert not AccountLink.objects.filter(pk=mine.pk).exists()


def test_only_another_login_of_the_same_account_can_be_removed(meter, intruder):
    owner, _stranger, _letter = intruder
    elsewhere = MeterFactory()
    theirs = link(UserFactory(), elsewhere.account)
    own = AccountLink.objects.get(user=owner)
    for link_id in (theirs.pk, own.pk, 0):
        with pytest.raises(AccountLink.DoesNotExist):
            account_link_remove(by=owner, account=meter.account, link_id=link_id)
    with pytest.raises(AccountLink.DoesNotExist):  # not a login of that account at all
        account_link_remove(by=UserFactory(), account=meter.account, link_id=own.pk)
    assert AccountLink.objects.count() == 3


# --- signing out everywhere ---------------------------------------------------------------------


def test_a_new_password_revokes_every_device_token_and_other_session(customer):
    user, _meter = customer
    old, raw = token_create(user=user, name="hub")
    other = Client()
    other.force_login(user)
    user_password_set(user=user, password=STRONG)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/accounts").status_code == 401
    assert other.get("/cabinet/").status_code == 302
    _new, fresh = token_create(user=user, name="hub again")  # a token made after it works
    assert Client(HTTP_AUTHORIZATION=f"Bearer {fresh}").get("/api/v1/accounts").status_code == 200
    assert [t.pk for t in ApiToken.objects.live(user)] == [_new.pk]
    assert old.pk not in ApiToken.objects.live(user).values_list("pk", flat=True)


def test_signing_out_everywhere_leaves_other_logins_alone(customer):
    user, _meter = customer
    other = UserFactory()
    _token, raw = token_create(user=other, name="phone")
    user_sign_out_everywhere(user=user)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/accounts").status_code == 200
    assert User.objects.get(pk=other.pk).signed_out_at is None
    assert UserFactory(email="x@example.com").check_password(PASSWORD)
