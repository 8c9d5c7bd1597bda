"""Writes of logins and account links.

Registration and linking take the account number and a meter serial (both printed on the bill),
and, when ``METERDESK_REGISTRATION_CODE`` is on, the one-time code printed on the bill too. They
are limited per account number and per client address (meterdesk.ratelimit, shared by every server
process). A registered login sees nothing of the account until it follows the link e-mailed to it
(``email_verify``), which also sends it a welcome letter; then, as after every new link, each
other login of the account is told by e-mail, with a link that undoes it (``link_undo``).
Registration records the consent to personal data processing (``customers.consent``). The
logins of an account can remove each other (``account_link_remove``). Taking access away,
changing or resetting a password sign the login out everywhere: its sessions and its device
tokens stop working (``User.signed_out_at``). The profile's own writes (phones, language, a new
e-mail) are in ``customers.profile``.
docs/security.md describes it for a security officer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from meterdesk import ratelimit
from meterdesk.customers.consent import Given, consent_check, consent_record
from meterdesk.customers.models import (
    Account,
    AccountLink,
    LinkAction,
    LinkEvent,
    PendingLink,
    Phone,
    PhoneLabel,
    RegistrationCode,
    User,
)
from meterdesk.customers.selectors import email_masked
from meterdesk.domain.phones import phone_parse
from meterdesk.utility.selectors import utility_get

log = logging.getLogger(__name__)

#: How long the link in the "a new login was linked" letter undoes the link; a login linked less
#: long ago cannot remove the logins linked before it (so that it cannot lock out the owner who
#: would undo it).
UNDO_DAYS = 14
#: Letters with a new verification link a login may ask for, per hour.
VERIFY_RESENDS = (5, 3600)


class AccountMismatch(Exception):
    """The account number and meter serial (and the registration code, when asked for) do not
    identify a meter of that account.

    Deliberately one error for every case (unknown account, unknown meter, a meter of another
    account, a wrong or used code) so that the answer does not reveal which part was wrong.
    """

    code = "account_meter_mismatch"


class AlreadyLinked(Exception):
    code = "already_linked"


class EmailNotVerified(Exception):
    """The login has not yet followed the link e-mailed at registration."""

    code = "email_not_verified"


class TooManyAttempts(Exception):
    """Too many attempts for this account number or from this address; ``wait`` seconds to go."""

    code = "rate_limited"

    def __init__(self, wait: float) -> None:
        super().__init__(f"retry in {wait:.0f} s")
        self.wait = wait


class LinkGone(Exception):
    """An undo link that is forged, expired, or whose link was already removed."""


class RemoveNotYet(Exception):
    """A login linked less than UNDO_DAYS ago may not yet remove a login linked before it."""

    code = "remove_not_yet"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"not before {until:%Y-%m-%d}")
        self.until = until


# --- matching the numbers of the bill ----------------------------------------------------------


def _normalise_number(number: str) -> str:
    return "".join(number.split())


def _normalise_serial(serial: str) -> str:
    return "".join(serial.split())


def registration_code_required() -> bool:
    return bool(getattr(settings, "METERDESK_REGISTRATION_CODE", False))


def account_match(*, number: str, meter_serial: str, registration_code: str = "") -> Account:
    """The account with this number that has a meter (not removed) with this serial, and, when
    the setting asks for it, an unused registration code equal to ``registration_code``."""
    account = _account_of(number, meter_serial)
    if registration_code_required() and not _code_matches(account, registration_code):
        raise AccountMismatch
    return account


def account_identify(*, number: str, meter_serial: str, client: str) -> Account:
    """The account of a number and meter serial, for a household that identifies itself without a
    login (the office terminal): counted against registration's guessing limits (TooManyAttempts),
    AccountMismatch as there. The one-time registration code is not asked: registration spends it."""
    _guess_limits(number, client)
    return _account_of(number, meter_serial)


def _account_of(number: str, meter_serial: str) -> Account:
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


def _guess_limits(number: str, client: str) -> None:
    """Count one attempt against the account number's and the client address's limits (a number
    that is not 10 digits matches nothing: it is counted for the address only)."""
    number = _normalise_number(number)
    if not re.fullmatch(r"[0-9]{10}", number):
        number = ""
    if client and not re.fullmatch(r"[0-9A-Za-z.:_-]{1,64}", client):  # a cache key stays plain
        client = hashlib.sha256(client.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    limits = []
    for scope, ident, name in (
        ("link-acct", number, "METERDESK_LINK_RATE_ACCOUNT"),
        ("link-addr", client, "METERDESK_LINK_RATE_ADDRESS"),
    ):
        rate = ratelimit.rate_setting(name)
        if rate is not None and ident:
            limits.append((scope, ident, *rate))
    wait = ratelimit.hit_many(limits)
    if wait is not None:
        raise TooManyAttempts(wait)


# --- registration and its verification ---------------------------------------------------------


class _VerificationTokens(PasswordResetTokenGenerator):
    """Like the password reset's tokens (same lifetime), for the verification of the e-mail: the
    token no longer matches once the e-mail is verified, so the link works once."""

    key_salt = "meterdesk.customers.services.EmailVerification"

    def _make_hash_value(self, user: User, timestamp: int) -> str:  # type: ignore[override]
        return f"{user.pk}{user.email}{user.email_verified_at}{user.password}{timestamp}"


verification_tokens = _VerificationTokens()


def user_register(
    *,
    email: str,
    password: str,
    account_number: str,
    meter_serial: str,
    site: str,
    consent: str,
    registration_code: str = "",
    phone: str = "",
    language: str = "ru",
    client: str = "",
    user_agent: str = "",
) -> User | None:
    """Register a login for the account identified by number + meter serial (+ code).

    ``consent``: the version of the text of the consent to personal data processing that the
    form showed and the person agreed to (ConsentMissing without it, ConsentOutdated for an old
    one, before anything is counted or made). It is recorded with the new login, the client's
    address and browser. ``phone`` (optional, any usual form; PhoneInvalid if it is no number)
    becomes the login's first phone number.

    The answer does not tell whether the address already has a login, as the password reset does
    not: for a new address a login is made, unverified, and a verification link is e-mailed; for
    a known one nothing is made and its owner is told by e-mail that someone tried. Returns the new
    login, or None for a known address (for the caller's tests; the page must not differ).
    """
    consent_check(consent)
    number = phone_parse(phone) if phone.strip() else ""
    _guess_limits(account_number, client)
    account = account_match(
        number=account_number, meter_serial=meter_serial, registration_code=registration_code
    )
    email = User.objects.normalize_email(email).lower()
    validate_password(password, User(email=email))
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password, language=language, email_verified_at=None)
                PendingLink.objects.create(user=user, account=account)
                _code_use(account)
                if number:
                    Phone.objects.create(user=user, number=number, label=PhoneLabel.MOBILE)
                consent_record(
                    user=user,
                    version=consent,
                    language=language,
                    given=Given(address=client, user_agent=user_agent),
                )
        except IntegrityError:  # a concurrent registration with the same e-mail
            existing = User.objects.filter(email__iexact=email).first()
        else:
            _verification_send(user, site)
            return user
    make_password(password)  # as long as the new login's hashing: the time tells nothing either
    if existing is not None:
        user_mail(
            existing,
            "customers/email/registration_tried",
            {
                "login_url": site + reverse("portal:login"),
                "reset_url": site + reverse("portal:password_reset"),
            },
        )
    return None


def _verification_send(user: User, site: str) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    url = site + reverse("portal:verify_email", args=[uid, verification_tokens.make_token(user)])
    user_mail(user, "customers/email/verify", {"url": url, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600})


def email_verification_resend(*, user: User, site: str) -> None:
    """A new verification link for a login that has not used the first one (limited per login)."""
    if user.email_verified:
        return
    wait = ratelimit.hit("verify", f"u{user.pk}", *VERIFY_RESENDS)
    if wait is not None:
        raise TooManyAttempts(wait)
    _verification_send(user, site)


def email_verify(*, uidb64: str, token: str, site: str) -> User | None:
    """Follow a verification link: the e-mail is verified, the account asked for at registration
    is linked and its other logins are told. None for a link that is wrong or expired (a link
    already used is wrong too: the login is then verified and may simply log in)."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError):
        return None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=pk, is_active=True).first()
        if user is None or user.email_verified or not verification_tokens.check_token(user, token):
            return None
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        pending = PendingLink.objects.select_related("account").filter(user=user).first()
        link = None
        if pending is not None:
            link, created = AccountLink.objects.get_or_create(user=user, account=pending.account)
            pending.delete()
            if created:
                _record(link, LinkAction.LINKED, by=user, channel="registration")
            else:
                link = None
    if link is not None:
        _notify_new_link(link, site)
    user_mail(
        user,
        "customers/email/welcome",
        {"cabinet_url": site + reverse("portal:dashboard"), "profile_url": site + reverse("portal:profile")},
    )
    return user


# --- linking a further account -----------------------------------------------------------------


def account_link(
    *,
    user: User,
    account_number: str,
    meter_serial: str,
    site: str,
    registration_code: str = "",
    client: str = "",
    channel: str = "web",
) -> AccountLink:
    """Link a further account to a verified login (again by number + meter serial + code); the
    account's other logins are told by e-mail, with a link to undo it."""
    if not user.email_verified:
        raise EmailNotVerified
    _guess_limits(account_number, client)
    account = account_match(
        number=account_number, meter_serial=meter_serial, registration_code=registration_code
    )
    if AccountLink.objects.filter(user=user, account=account).exists():
        raise AlreadyLinked
    try:
        with transaction.atomic():
            link = AccountLink.objects.create(user=user, account=account)
            _code_use(account)
            _record(link, LinkAction.LINKED, by=user, channel=channel, address=client)
    except IntegrityError as exc:
        raise AlreadyLinked from exc
    _notify_new_link(link, site)
    return link


def _record(
    link: AccountLink, action: str, *, by: User | None, channel: str = "", address: str = ""
) -> LinkEvent:
    return LinkEvent.objects.create(
        account=link.account,
        user=link.user,
        email=link.user.email,
        action=action,
        by=by,
        by_email=by.email if by is not None else "",
        channel=channel,
        address=address[:64],
    )


def _notify_new_link(link: AccountLink, site: str) -> None:
    """Tell every other login of the account that ``link``'s login now sees it."""
    others = (
        AccountLink.objects.filter(account=link.account, user__is_active=True)
        .exclude(user=link.user)
        .select_related("user")
    )
    for other in others:
        token = signing.dumps({"l": link.pk, "u": link.user_id, "to": other.user_id}, salt=_UNDO_SALT)
        user_mail(
            other.user,
            "customers/email/new_link",
            {
                "account": link.account,
                "new_email": email_masked(link.user.email),
                "linked_at": timezone.localtime(link.linked_at),
                "undo_url": site + reverse("portal:link_undo", args=[token]),
                "days": UNDO_DAYS,
            },
        )


# --- undoing and removing links ----------------------------------------------------------------

_UNDO_SALT = "meterdesk.customers.link-undo"


@dataclass(frozen=True)
class UndoRequest:
    """What an undo link would remove: ``link`` (its login and account), asked by ``recipient``."""

    link: AccountLink
    recipient: User


def link_undo_check(token: str) -> UndoRequest:
    """The link an undo link names, if it still applies; else LinkGone."""
    try:
        data = signing.loads(token, salt=_UNDO_SALT, max_age=timedelta(days=UNDO_DAYS))
        link_id, user_id, recipient_id = int(data["l"]), int(data["u"]), int(data["to"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkGone from exc
    link = AccountLink.objects.select_related("user", "account").filter(pk=link_id, user_id=user_id).first()
    recipient = User.objects.filter(pk=recipient_id).first()
    if link is None or recipient is None:
        raise LinkGone
    return UndoRequest(link, recipient)


def link_undo(*, token: str, client: str = "") -> LinkEvent:
    """Remove the link an undo link names: the login loses the account, and its sessions and
    device tokens stop working; recorded, and the login is told."""
    with transaction.atomic():
        request = link_undo_check(token)
        event = _unlink(
            request.link, LinkAction.UNDONE, by=request.recipient, channel="email", address=client
        )
    _mail_removed(event, request.link)
    return event


def account_link_remove(*, by: User, account: Account, link_id: int, client: str = "") -> LinkEvent:
    """One login of the account removes another's access (AccountLink.DoesNotExist for anything
    that is not another login of this account). A login linked less than UNDO_DAYS ago cannot
    yet remove those linked before it."""
    with transaction.atomic():
        own = AccountLink.objects.get(user=by, account=account)
        target = (
            AccountLink.objects.select_for_update()
            .select_related("user", "account")
            .exclude(user=by)
            .get(pk=link_id, account=account)
        )
        settled = own.linked_at + timedelta(days=UNDO_DAYS)
        if target.linked_at < own.linked_at and timezone.now() < settled:
            raise RemoveNotYet(settled)
        event = _unlink(target, LinkAction.REMOVED, by=by, channel="web", address=client)
    _mail_removed(event, target)
    return event


def _unlink(link: AccountLink, action: str, *, by: User, channel: str, address: str) -> LinkEvent:
    event = _record(link, action, by=by, channel=channel, address=address)
    link.delete()
    user_sign_out_everywhere(user=link.user)
    return event


def _mail_removed(event: LinkEvent, link: AccountLink) -> None:
    user_mail(
        link.user,
        "customers/email/link_removed",
        {"account": link.account, "undone": event.action == LinkAction.UNDONE},
    )


# --- signing out, passwords ----------------------------------------------------------------------


def user_sign_out_everywhere(*, user: User) -> None:
    """End every session and revoke every device token of the login (they carry an earlier time
    than ``signed_out_at``; see User._get_session_auth_hash and api.auth)."""
    user.signed_out_at = timezone.now()
    User.objects.filter(pk=user.pk).update(signed_out_at=user.signed_out_at)


def user_password_set(*, user: User, password: str) -> User:
    """A new password (changed or reset): the login is signed out everywhere, its device tokens
    revoked. The caller keeps the current session with update_session_auth_hash."""
    user.set_password(password)
    user.signed_out_at = timezone.now()
    user.save(update_fields=["password", "signed_out_at"])
    return user


# --- registration codes -----------------------------------------------------------------------

#: Crockford's base 32: no I, L, O or U, so that a code read off paper is typed right.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_SALT = "meterdesk.customers.registration-code"


def _code_derive(secret: str | bytes, account_id: int, salt: str) -> str:
    digest = hmac.new(force_bytes(secret), f"{_CODE_SALT}:{account_id}:{salt}".encode(), hashlib.sha256)
    value = int.from_bytes(digest.digest()[:7], "big")  # 56 bits, 50 of them used
    chars = [_CODE_ALPHABET[(value >> (5 * i)) & 31] for i in range(10)]
    return "".join(chars[:5]) + "-" + "".join(chars[5:])


def _code_normalise(text: str) -> str:
    text = "".join(ch for ch in text.upper() if ch not in " -\u00a0")
    return text.translate(str.maketrans("OIL", "011"))


def _code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{_code_normalise(code)}".encode()).hexdigest()


def _code_matches(account: Account, entered: str) -> bool:
    code = RegistrationCode.objects.filter(account=account, used_at__isnull=True).first()
    if code is None or not entered:
        return False
    return hmac.compare_digest(_code_hash(code.salt, entered), code.code_hash)


def _code_use(account: Account) -> None:
    """Mark the account's code used (when codes are asked for); a concurrent use is a mismatch."""
    if not registration_code_required():
        return
    used = RegistrationCode.objects.filter(account=account, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not used:
        raise AccountMismatch


def registration_code_issue(*, account: Account) -> str:
    """A new one-time registration code for the account (any earlier one stops working); the code
    itself, which the bill prints (registration_code_for_bill)."""
    salt = secrets.token_hex(16)
    code = _code_derive(settings.SECRET_KEY, account.pk, salt)
    RegistrationCode.objects.update_or_create(
        account=account,
        defaults={
            "salt": salt,
            "code_hash": _code_hash(salt, code),
            "issued_at": timezone.now(),
            "used_at": None,
        },
    )
    return code


def registration_code_for_bill(account: Account) -> str | None:
    """The account's unused code, to print on its bill; None when codes are not asked for, when
    there is none, or when the secret key changed since it was issued (issue a new one)."""
    if not registration_code_required():
        return None
    code = RegistrationCode.objects.filter(account=account, used_at__isnull=True).first()
    if code is None:
        return None
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        candidate = _code_derive(secret, account.pk, code.salt)
        if hmac.compare_digest(_code_hash(code.salt, candidate), code.code_hash):
            return candidate
    log.warning("registration code of account %s was issued under another secret key", account.pk)
    return None


# --- mail ---------------------------------------------------------------------------------------


def user_mail(user: User, template: str, context: dict[str, object], *, to: str = "") -> None:
    """One letter to ``user`` (at ``to`` if given: a new or an old address) in the login's
    language. A failure to send is logged, as the password reset does, and does not undo what was
    done (a verification link can be sent again)."""
    with translation.override(user.language or "ru"):
        context = {**context, "user": user, "utility": utility_get()}
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}.txt", context)
    try:
        EmailMessage(subject, body, None, [to or user.email]).send()
    except Exception:
        log.exception("could not send %s to login %s", template, user.pk)
