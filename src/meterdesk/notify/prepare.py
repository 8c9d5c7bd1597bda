"""Preparing the readings reminders: one notice per household's login and channel, stored once.

``reminders_prepare(topic, today)`` finds the households to remind — accounts open, with a meter in
service that has no customer's reading for the month yet — and, for each verified login linked to
one, stores a notice for every channel the login gets (its ``Preference`` rows, else
``DEFAULT_ON``; SMS to the login's first Russian mobile number). Each notice's key names its event
(``window_open:2026-12:<account>:<login>:email``) and is unique: preparing again, after a crash
or by a second run, adds only what is missing and never a second notice of the same event. Notices
in the personal account are delivered as they are stored; e-mails and SMS wait for the sender
(``send.py``). Work goes in chunks of logins, so memory does not grow with the number of accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from meterdesk.billing.messages import month_name
from meterdesk.customers.models import AccountLink, Phone
from meterdesk.domain.periods import month_start
from meterdesk.metering.models import Meter, Reading, ReadingKind
from meterdesk.notify.models import DEFAULT_ON, Notice, NoticeChannel, Preference, Topic
from meterdesk.utility.selectors import reading_window_get, utility_get

CHUNK = 2000


@dataclass(frozen=True)
class Prepared:
    households: int = 0  # (login, account) pairs to remind
    created: int = 0  # notices stored now
    existing: int = 0  # notices of the same events stored before


def _households(period: date) -> Iterator[tuple[int, int, str, str, str, str]]:
    """(login, account, number, address, e-mail, language) of each verified login linked to an
    open account with a meter in service and no customer's reading for ``period``."""
    read = Reading.objects.filter(meter_id=OuterRef("pk"), period=period, kind=ReadingKind.CUSTOMER)
    unread = Meter.objects.filter(account_id=OuterRef("account_id"), removed_on__isnull=True).exclude(
        Exists(read)
    )
    links = (
        AccountLink.objects.filter(
            user__is_active=True, user__email_verified_at__isnull=False, account__closed_on__isnull=True
        )
        .filter(Exists(unread))
        .order_by("user_id", "account_id")
        .values_list(
            "user_id", "account_id", "account__number", "account__address", "user__email", "user__language"
        )
    )
    yield from links.iterator(chunk_size=CHUNK)


def _texts(topic: str, language: str, number: str, start: date, end: date, url: str) -> tuple[str, str, str]:
    """(subject, e-mail and personal-account text, SMS text) in ``language``."""
    with translation.override(language):
        values = {
            "number": number,
            "month": month_name(start),
            "start": date_format(start, "j E"),
            "end": date_format(end, "j E"),
            "url": url,
            "utility": utility_get().short_name,
        }
        if topic == Topic.WINDOW_OPEN:
            subject = _("Readings for %(month)s: accepted until %(end)s") % values
            body = (
                _(
                    "Readings of account %(number)s for %(month)s are accepted from %(start)s to %(end)s. "
                    "Give them in the personal account: %(url)s"
                )
                % values
            )
            sms = (
                _("%(utility)s: readings of account %(number)s are accepted until %(end)s. %(url)s") % values
            )
        else:
            subject = _("Two days left to give readings for %(month)s") % values
            body = (
                _(
                    "We have not received readings of account %(number)s for %(month)s yet. They are accepted "
                    "until %(end)s inclusive; after that the month is billed by the average. Give them in the "
                    "personal account: %(url)s"
                )
                % values
            )
            sms = (
                _("%(utility)s: readings of account %(number)s are accepted until %(end)s inclusive. %(url)s")
                % values
            )
    return subject, body, sms


def reminders_prepare(topic: str, today: date) -> Prepared:
    """Store the ``topic`` reminders of ``today``'s month for every household still to give readings."""
    period = month_start(today)
    start, end = reading_window_get().bounds(period.year, period.month)
    url = settings.METERDESK_SITE_URL + reverse("portal:dashboard")
    choices = {(p.user_id, p.channel): p.enabled for p in Preference.objects.filter(topic=topic)}
    households = created = existing = 0
    rows = _households(period)
    while True:
        chunk = [row for _n, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            break
        households += len(chunk)
        mobiles: dict[int, str] = {}
        for user_id, number in (
            Phone.objects.filter(user_id__in={row[0] for row in chunk}, number__startswith="+79")
            .order_by("-added_at")
            .values_list("user_id", "number")
        ):
            mobiles[user_id] = number  # the first one added wins
        notices = []
        now = timezone.now()
        for user_id, account_id, number, _address, email, language in chunk:
            subject, body, sms = _texts(topic, language or "ru", number, start, end, url)
            for channel in NoticeChannel:
                if not choices.get((user_id, channel), DEFAULT_ON[channel]):
                    continue
                to = {NoticeChannel.EMAIL: email, NoticeChannel.SMS: mobiles.get(user_id, "")}.get(
                    channel, ""
                )
                if channel != NoticeChannel.CABINET and not to:
                    continue
                notices.append(
                    Notice(
                        user_id=user_id,
                        account_id=account_id,
                        topic=topic,
                        channel=channel,
                        key=f"{topic}:{period:%Y-%m}:{account_id}:{user_id}:{channel}",
                        to=to,
                        language=language or "ru",
                        subject=subject if channel != NoticeChannel.SMS else "",
                        body=sms if channel == NoticeChannel.SMS else body,
                        created_at=now,
                        next_attempt_at=now,
                        sent_at=now if channel == NoticeChannel.CABINET else None,
                    )
                )
        known = set(Notice.objects.filter(key__in=[n.key for n in notices]).values_list("key", flat=True))
        fresh = [n for n in notices if n.key not in known]
        Notice.objects.bulk_create(fresh, ignore_conflicts=True)  # a concurrent run's rows stay theirs
        created += len(fresh)
        existing += len(known)
    return Prepared(households, created, existing)


def reminders_due(today: date) -> list[str]:
    """The reminders ``today`` calls for: the window opens today, or closes in two days."""
    start, end = reading_window_get().bounds(today.year, today.month)
    due: list[str] = []
    if today == start:
        due.append(Topic.WINDOW_OPEN)
    if (end - today).days == 2:
        due.append(Topic.WINDOW_CLOSING)
    return due
