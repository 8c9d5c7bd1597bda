"""Payment links: a short address that pays one account without logging in, sent by SMS.

The phone line offers one to a caller whose number is on file for the account (and only then:
the link shows the amount due and the street). ``pay_link_send`` makes the link and sends it;
``pay_link_open`` finds a link that still works. The page is ``payments:link`` (views_link.py);
each payment made by it is an ordinary ``Payment`` (channel ``link``) with its fiscal receipt sent
to the phone the link went to.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meterdesk.billing.messages import money
from meterdesk.billing.selectors import account_balance
from meterdesk.customers.models import Account
from meterdesk.payments.models import PayLink
from meterdesk.sms import SmsError, is_mobile, sms_enabled, sms_send

#: Letters and digits that are not confused when a link is read or retyped from a phone's screen.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 10


class PayLinkGone(Exception):
    """No link of that code, or it no longer works."""


def pay_link_possible(number: str) -> bool:
    """Whether a link can be sent to ``number`` (E.164): SMS is set up and it is a mobile."""
    return sms_enabled() and is_mobile(number)


def pay_link_url(link: PayLink) -> str:
    return settings.METERDESK_SITE_URL + reverse("payments:link", args=[link.code])


def pay_link_send(*, account: Account, phone: str, via: str = "phone", language: str = "ru") -> PayLink:
    """Make a payment link for ``account`` and send it by SMS to ``phone`` (E.164, a mobile on
    file for the account: the caller checks that). SmsError when it could not be sent; then no
    link is kept."""
    days = int(getattr(settings, "METERDESK_PAY_LINK_DAYS", 7))
    link = PayLink(
        code="".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)),
        account=account,
        phone=phone,
        via=via,
        expires_at=timezone.now() + timedelta(days=days),
    )
    due = account_balance(account)
    with translation.override(language):
        if due > 0:
            text = _("Account %(number)s: %(amount)s due. Pay: %(url)s") % {
                "number": account.number,
                "amount": money(due),
                "url": pay_link_url(link),
            }
        else:
            text = _("Account %(number)s: nothing is due. Pay in advance: %(url)s") % {
                "number": account.number,
                "url": pay_link_url(link),
            }
    sms_send(phone, text)  # SmsError goes to the caller; the link is not kept
    link.save()
    return link


def pay_link_open(code: str) -> PayLink:
    """The link of ``code`` if it still works; PayLinkGone otherwise."""
    link = PayLink.objects.select_related("account").filter(code=code).first()
    if link is None or link.expires_at <= timezone.now():
        raise PayLinkGone
    return link


__all__ = ["PayLinkGone", "SmsError", "pay_link_open", "pay_link_possible", "pay_link_send", "pay_link_url"]
