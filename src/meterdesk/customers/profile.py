"""Writes of a login's profile: its phone numbers, its language, and a new e-mail.

- **Phone numbers** are stored in E.164 (``domain.phones``), at most ``MAX_PHONES`` a login, each
  once; the phone line finds a caller's accounts by them (``selectors.phone_accounts``).
- **The language** (ru/en) is the one of the pages once logged in and of every letter.
- **A new e-mail** is taken only once the link sent to it is followed, as at registration: the
  request needs the current password, is limited per login, and the link (signed, not stored)
  works for ``PASSWORD_RESET_TIMEOUT`` and only while the login still has the e-mail it was asked
  from, so once. The old address is told. An address that already has a login gets a letter saying
  so, and the page says the same as for any other address (docs/security.md).

The refusals carry stable codes; ``phone_error_message`` and ``email_error_message`` word them
for the pages and the API alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from meterdesk import ratelimit
from meterdesk.customers.models import LANGUAGE_CHOICES, Phone, PhoneLabel, User
from meterdesk.customers.selectors import email_masked
from meterdesk.customers.services import TooManyAttempts, user_mail
from meterdesk.domain.phones import PHONE_INVALID, PhoneInvalid, phone_format, phone_parse

#: Phone numbers one login may keep.
MAX_PHONES = 10
PHONE_DUPLICATE = "phone_duplicate"
PHONE_LIMIT = "phone_limit"
#: Requests for a new e-mail a login may make, per hour (each checks the password).
EMAIL_CHANGES = (5, 3600)
EMAIL_INVALID = "email_invalid"
EMAIL_SAME = "email_same"
PASSWORD_WRONG = "password_wrong"  # noqa: S105 - an error code, not a password

_EMAIL_SALT = "meterdesk.customers.email-change"


class PhoneError(Exception):
    """A phone number refused: ``code`` is PHONE_INVALID, PHONE_DUPLICATE or PHONE_LIMIT."""

    def __init__(self, code: str, number: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.number = number


class EmailChangeError(Exception):
    """A new e-mail refused: ``code`` is EMAIL_INVALID, EMAIL_SAME or PASSWORD_WRONG."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def phone_error_message(error: PhoneError) -> str:
    if error.code == PHONE_DUPLICATE:
        return _("The number %(number)s is already in your profile.") % {"number": phone_format(error.number)}
    if error.code == PHONE_LIMIT:
        return _("A profile holds at most %(n)d phone numbers: remove one first.") % {"n": MAX_PHONES}
    return _(
        "This is not a phone number we can call. Enter it with the area code, "
        "e.g. +7 916 123-45-67 or 8 916 123-45-67."
    )


def email_error_message(error: EmailChangeError) -> str:
    if error.code == EMAIL_SAME:
        return _("This is already the e-mail of your login.")
    if error.code == PASSWORD_WRONG:
        return _("The password is not correct.")
    return _("Enter a valid e-mail address.")


# --- phone numbers -------------------------------------------------------------------------------


def phone_add(*, user: User, number: str, label: str = PhoneLabel.MOBILE) -> Phone:
    """Add a number (as typed, any usual form) to the login's phones; PhoneError if it is not a
    number, is already there, or the login has MAX_PHONES."""
    if label not in PhoneLabel.values:
        raise ValueError(f"unknown phone label {label!r}")
    try:
        e164 = phone_parse(number)
    except PhoneInvalid as exc:
        raise PhoneError(PHONE_INVALID) from exc
    with transaction.atomic():
        # The login's row is the lock: two adds at once cannot both pass the limit.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        phones = Phone.objects.filter(user=user)
        if phones.filter(number=e164).exists():
            raise PhoneError(PHONE_DUPLICATE, e164)
        if phones.count() >= MAX_PHONES:
            raise PhoneError(PHONE_LIMIT, e164)
        try:
            with transaction.atomic():
                return Phone.objects.create(user=user, number=e164, label=label)
        except IntegrityError as exc:  # pragma: no cover - the lock above makes it unlikely
            raise PhoneError(PHONE_DUPLICATE, e164) from exc


def phone_remove(*, user: User, phone_id: int) -> Phone:
    """Remove one of the login's numbers (Phone.DoesNotExist for anyone else's)."""
    phone = Phone.objects.get(pk=phone_id, user=user)
    phone.delete()
    return phone


# --- language ------------------------------------------------------------------------------------


def user_language_set(*, user: User, language: str) -> None:
    """The language of the login's pages and letters (ValueError for one the site does not speak)."""
    if language not in dict(LANGUAGE_CHOICES):
        raise ValueError(f"unknown language {language!r}")
    user.language = language
    User.objects.filter(pk=user.pk).update(language=language)


# --- a new e-mail --------------------------------------------------------------------------------


def email_change_request(*, user: User, new_email: str, password: str, site: str) -> str:
    """Ask for ``new_email`` to become the login's e-mail: a link to confirm it goes to that
    address (or, if it already has a login, a letter saying so). Returns the address as written
    to. EmailChangeError for a wrong password, an invalid or unchanged address; TooManyAttempts
    past EMAIL_CHANGES."""
    new = User.objects.normalize_email(new_email.strip()).lower()
    try:
        validate_email(new)
    except ValidationError as exc:
        raise EmailChangeError(EMAIL_INVALID) from exc
    if len(new) > 254:
        raise EmailChangeError(EMAIL_INVALID)
    wait = ratelimit.hit("email-change", f"u{user.pk}", *EMAIL_CHANGES)
    if wait is not None:
        raise TooManyAttempts(wait)
    if not user.check_password(password):
        raise EmailChangeError(PASSWORD_WRONG)
    if new == user.email.lower():
        raise EmailChangeError(EMAIL_SAME)
    owner = User.objects.filter(email__iexact=new).first()
    if owner is not None:
        # Said to the address's owner only: the page answers as for any address.
        user_mail(
            owner,
            "customers/email/email_change_taken",
            {
                "login_url": site + reverse("portal:login"),
                "reset_url": site + reverse("portal:password_reset"),
            },
        )
        return new
    token = signing.dumps({"u": user.pk, "from": user.email, "to": new}, salt=_EMAIL_SALT)
    user_mail(
        user,
        "customers/email/email_change",
        {
            "url": site + reverse("portal:email_confirm", args=[token]),
            "new_email": new,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
        to=new,
    )
    return new


class EmailChangeGone(Exception):
    """A confirmation link that is forged, expired, already used, or whose address has meanwhile
    been taken by another login."""


@dataclass(frozen=True)
class EmailChange:
    """What a confirmation link asks: the login ``user_id`` to go from ``old`` to ``new``."""

    user_id: int
    old: str
    new: str


def email_change_check(token: str) -> EmailChange:
    """What a confirmation link would change, if it still applies; else EmailChangeGone."""
    try:
        data = signing.loads(token, salt=_EMAIL_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
        asked = EmailChange(int(data["u"]), str(data["from"]), str(data["to"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise EmailChangeGone from exc
    # Used already (or another change came first), or the address has a login by now.
    if not User.objects.filter(pk=asked.user_id, is_active=True, email=asked.old).exists():
        raise EmailChangeGone
    if User.objects.filter(email__iexact=asked.new).exclude(pk=asked.user_id).exists():
        raise EmailChangeGone
    return asked


def email_change_confirm(*, token: str) -> User:
    """Follow the link sent to a new address: it becomes the login's e-mail (verified, since the
    letter reached it) and the old address is told. EmailChangeGone if the link no longer applies."""
    try:
        with transaction.atomic():
            asked = email_change_check(token)
            user = User.objects.select_for_update().get(pk=asked.user_id)
            if user.email != asked.old:  # changed between the check and the lock
                raise EmailChangeGone
            now = timezone.now()
            user.email = asked.new
            user.email_verified_at = now
            user.save(update_fields=["email", "email_verified_at"])
    except IntegrityError as exc:  # the address taken by a registration at the same moment
        raise EmailChangeGone from exc
    _tell_old_address(user, asked.old, now)
    return user


def _tell_old_address(user: User, old: str, changed_at: datetime) -> None:
    user_mail(
        user,
        "customers/email/email_changed",
        {"new_email": email_masked(user.email), "changed_at": timezone.localtime(changed_at)},
        to=old,
    )
