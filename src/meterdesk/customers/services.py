"""Writes of logins and account links."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from meterdesk.customers.models import Account, AccountLink, User


class AccountMismatch(Exception):
    """The account number and meter serial do not identify a meter of that account.

    Deliberately one error for every case (unknown account, unknown meter, a meter of another
    account) so that the answer does not reveal which part was wrong.
    """

    code = "account_meter_mismatch"


class AlreadyLinked(Exception):
    code = "already_linked"


class EmailTaken(Exception):
    code = "email_taken"


def _normalise_number(number: str) -> str:
    return "".join(number.split())


def _normalise_serial(serial: str) -> str:
    return "".join(serial.split())


def account_match(*, number: str, meter_serial: str) -> Account:
    """The account with this number that has a meter (not removed) with this serial."""
    number = _normalise_number(number)
    serial = _normalise_serial(meter_serial)
    if not number.isdigit() or len(number) != 10 or not serial:
        raise AccountMismatch
    account = Account.objects.filter(number=number, closed_on__isnull=True).first()
    if account is None:
        raise AccountMismatch
    # Compare in Python: spaces and case are ignored on both sides, for any alphabet.
    wanted = serial.casefold()
    serials = account.meters.filter(removed_on__isnull=True).values_list("serial", flat=True)
    if not any(_normalise_serial(s).casefold() == wanted for s in serials):
        raise AccountMismatch
    return account


def user_register(
    *,
    email: str,
    password: str,
    account_number: str,
    meter_serial: str,
    phone: str = "",
    language: str = "ru",
) -> User:
    """Create a login linked to the account identified by number + meter serial."""
    account = account_match(number=account_number, meter_serial=meter_serial)
    email = User.objects.normalize_email(email).lower()
    candidate = User(email=email, phone=phone)
    validate_password(password, candidate)
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=email).exists():
                raise EmailTaken
            user = User.objects.create_user(email, password, phone=phone, language=language)
            AccountLink.objects.create(user=user, account=account)
    except IntegrityError as exc:  # a concurrent registration with the same e-mail
        raise EmailTaken from exc
    return user


def account_link(*, user: User, account_number: str, meter_serial: str) -> AccountLink:
    """Link a further account to a login (again by number + meter serial)."""
    account = account_match(number=account_number, meter_serial=meter_serial)
    if AccountLink.objects.filter(user=user, account=account).exists():
        raise AlreadyLinked
    try:
        with transaction.atomic():
            return AccountLink.objects.create(user=user, account=account)
    except IntegrityError as exc:
        raise AlreadyLinked from exc
