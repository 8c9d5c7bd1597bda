"""Consent to the processing of personal data (152-ФЗ «О персональных данных», art. 9).

Registration asks for it with a box that must be ticked; a login made before (by staff, an import,
the demo) may give it in its profile. What is recorded (``Consent``): the login and its e-mail,
the moment, the client's address and browser, the version of the text, and the text itself word
for word as it was shown (``ConsentText``, kept once per distinct text), so that the utility can
show what a customer agreed to years later, whatever the templates say by then.

The texts are plain files, one per version and language
(``customers/consent/personal_data_<version>.<language>.txt``), filled with the utility's
name, INN and address: legal wording is not put through the translation catalogue, where an edit
would change what a version says without anyone deciding it. A change of meaning is a new file and
a new ``CONSENT_VERSION``; docs/security.md, "Consent to personal data processing".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from meterdesk.customers.models import Consent, ConsentText, User
from meterdesk.utility.selectors import utility_get

#: The version of the text registration shows now.
CONSENT_VERSION = "1"
_LANGUAGES = ("ru", "en")


class ConsentOutdated(Exception):
    """The form showed a version of the text that is no longer the current one."""

    code = "consent_outdated"


class ConsentMissing(Exception):
    """Registration without the consent: nothing may be made."""

    code = "consent_required"


def consent_check(version: str) -> None:
    """ConsentMissing unless a version was agreed to, ConsentOutdated unless it is the current one."""
    if not version:
        raise ConsentMissing
    if version != CONSENT_VERSION:
        raise ConsentOutdated


@dataclass(frozen=True)
class Given:
    """Where a consent was given from: the client's address and browser, and the channel."""

    address: str = ""
    user_agent: str = ""
    channel: str = "registration"


def consent_text(language: str, version: str = CONSENT_VERSION) -> str:
    """The text of ``version`` in ``language`` (Russian for any other), with the utility's details."""
    language = language if language in _LANGUAGES else "ru"
    utility = utility_get()
    return render_to_string(
        f"customers/consent/personal_data_{version}.{language}.txt", {"utility": utility}
    ).strip()


def _text_row(version: str, language: str) -> ConsentText:
    text = consent_text(language, version)
    digest = hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()
    row = ConsentText.objects.filter(sha256=digest).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return ConsentText.objects.create(version=version, language=language, text=text, sha256=digest)
    except IntegrityError:  # the same text stored by a concurrent registration
        return ConsentText.objects.get(sha256=digest)


def consent_record(*, user: User, version: str, language: str, given: Given) -> Consent:
    """Record that ``user`` agreed to the text of ``version`` as shown in ``language`` (the
    caller's transaction); ConsentMissing or ConsentOutdated as ``consent_check``."""
    consent_check(version)
    language = language if language in _LANGUAGES else "ru"
    return Consent.objects.create(
        user=user,
        email=user.email,
        text=_text_row(version, language),
        version=version,
        address=given.address[:64],
        user_agent=given.user_agent[:300],
        channel=given.channel,
    )
