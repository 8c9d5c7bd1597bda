"""Preparing notices: one per household's login, event and channel, stored once.

Each topic has a source of **events** — a household still to give readings when the window opens
or is about to close, a month's bill ready, a payment received, a meter's verification due — each
naming the login, the account and what happened. ``notices_store`` turns them into notices, for
every channel the login gets (its ``Preference`` rows, else ``DEFAULT_ON``; SMS to the login's first
Russian mobile number). A notice's key names its event (``window_open:2026-12:<account>:<login>:
email``, ``payment_received:<ledger entry>:<login>:sms``) and is unique: preparing again, after a
crash or by a second run, adds only what is missing and never a second notice of the same event.
Notices in the personal account are delivered as they are stored; e-mails and SMS wait for the
sender (``send.py``). Work goes in chunks, so memory does not grow with the number of accounts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from meterdesk.billing.messages import money, month_name
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import AccountLink, Phone
from meterdesk.domain.periods import month_start
from meterdesk.metering.models import Meter, Reading, ReadingKind
from meterdesk.notify.models import DEFAULT_ON, Notice, NoticeChannel, Preference, Topic
from meterdesk.utility.selectors import reading_window_get, utility_get

CHUNK = 2000
ANALYZE_AFTER = 50_000  # notices stored by one run
EMAIL, SMS, CABINET = NoticeChannel.EMAIL.value, NoticeChannel.SMS.value, NoticeChannel.CABINET.value
CHANNELS = (EMAIL, SMS, CABINET)
_DEFAULT_ON = {str(channel.value): on for channel, on in DEFAULT_ON.items()}


@dataclass(frozen=True)
class Prepared:
    households: int = 0  # events found (a login and an account each)
    created: int = 0  # notices stored now
    existing: int = 0  # notices of the same events stored before


@dataclass(frozen=True)
class Event:
    user_id: int
    account_id: int | None
    key: str  # the event within its topic, e.g. "2026-12:<account>" or "<ledger entry>"
    email: str
    language: str
    values: dict[str, Any] = field(default_factory=dict)  # what its words need


def _logins(links: QuerySet[AccountLink]) -> QuerySet[AccountLink]:
    return links.filter(
        user__is_active=True, user__email_verified_at__isnull=False, account__closed_on__isnull=True
    ).order_by("user_id", "account_id")


_LOGIN = ("user_id", "account_id", "account__number", "user__email", "user__language")


def _days(value: date) -> str:
    return date_format(value, "j E")


# --- the sources of events -------------------------------------------------------------------------


def window_events(period: date) -> Iterator[Event]:
    """Each verified login of an open account with a meter in service and no customer's reading
    for ``period``."""
    start, end = reading_window_get().bounds(period.year, period.month)
    read = Reading.objects.filter(meter_id=OuterRef("pk"), period=period, kind=ReadingKind.CUSTOMER)
    unread = Meter.objects.filter(account_id=OuterRef("account_id"), removed_on__isnull=True).exclude(
        Exists(read)
    )
    links = _logins(AccountLink.objects.filter(Exists(unread))).values_list(*_LOGIN)
    for user_id, account_id, number, email, language in links.iterator(chunk_size=CHUNK):
        yield Event(
            user_id,
            account_id,
            f"{period:%Y-%m}:{account_id}",
            email,
            language,
            {"number": number, "month": period, "start": start, "end": end},
        )


def bill_events(period: date) -> Iterator[Event]:
    """Each verified login of an account billed for ``period``."""
    closes = AccountClose.objects.filter(period=period, account_id=OuterRef("account_id"))
    links = (
        _logins(AccountLink.objects.filter(Exists(closes)))
        .annotate(
            due=closes.values("closing_balance")[:1],
            due_date=closes.values("due_date")[:1],
        )
        .values_list(*_LOGIN, "due", "due_date")
    )
    for user_id, account_id, number, email, language, due, due_date in links.iterator(chunk_size=CHUNK):
        yield Event(
            user_id,
            account_id,
            f"{period:%Y-%m}:{account_id}",
            email,
            language,
            {"number": number, "month": period, "due": Decimal(due), "due_date": due_date},
        )


#: A verified, active login of an open account, seen from a row of the account (``account__``).
_OPEN_ACCOUNT_LOGIN = {
    "account__closed_on__isnull": True,
    "account__links__user__is_active": True,
    "account__links__user__email_verified_at__isnull": False,
}
_ITS_LOGIN = (
    "account__links__user_id",
    "account_id",
    "account__number",
    "account__links__user__email",
    "account__links__user__language",
)


def payment_events(since: datetime) -> Iterator[Event]:
    """Each verified login of an account, for each payment recorded in its ledger since ``since``
    (one query: the payments joined to their accounts' logins)."""
    rows = (
        LedgerEntry.objects.filter(kind=EntryKind.PAYMENT, created_at__gte=since, **_OPEN_ACCOUNT_LOGIN)
        .order_by("pk", "account__links__user_id")
        .values_list(*_ITS_LOGIN, "pk", "amount", "posted_on")
    )
    for user_id, account_id, number, email, language, entry_id, amount, posted_on in rows.iterator(CHUNK):
        yield Event(
            user_id,
            account_id,
            f"{entry_id}",
            email,
            language,
            {"number": number, "amount": -amount, "on": posted_on},
        )


def verification_events(today: date, days: int = 30) -> Iterator[Event]:
    """Each verified login of an account with a meter in service whose verification falls due
    within ``days`` (or is overdue): once per meter and due date (one query)."""
    rows = (
        Meter.objects.filter(
            removed_on__isnull=True, verification_due__lte=today + timedelta(days=days), **_OPEN_ACCOUNT_LOGIN
        )
        .order_by("account__links__user_id", "account_id", "pk")
        .values_list(*_ITS_LOGIN, "pk", "serial", "verification_due")
    )
    for user_id, account_id, number, email, language, meter_id, serial, when in rows.iterator(CHUNK):
        yield Event(
            user_id,
            account_id,
            f"{meter_id}:{when:%Y-%m-%d}",
            email,
            language,
            {"number": number, "serial": serial, "on": when},
        )


# --- the words -----------------------------------------------------------------------------------


def _words(topic: str, values: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, e-mail and personal-account text, SMS text) of an event, in the active language."""
    v = {
        **values,
        "url": settings.METERDESK_SITE_URL + reverse("portal:dashboard"),
        "utility": utility_get().short_name,
    }
    v.setdefault("link", v["url"])
    for name in ("month",):
        if name in v:
            v[name] = month_name(v[name])
    for name in ("start", "end", "due_date", "on"):
        if name in v:
            v[name] = _days(v[name])
    for name in ("due", "amount", "debt", "threshold"):
        if name in v:
            v[name] = money(v[name])
    if topic == Topic.WINDOW_OPEN:
        return (
            _("Readings for %(month)s: accepted until %(end)s") % v,
            _(
                "Readings of account %(number)s for %(month)s are accepted from %(start)s to %(end)s. "
                "Give them in the personal account: %(url)s"
            )
            % v,
            _("%(utility)s: readings of account %(number)s are accepted until %(end)s. %(url)s") % v,
        )
    if topic == Topic.WINDOW_CLOSING:
        return (
            _("Two days left to give readings for %(month)s") % v,
            _(
                "We have not received readings of account %(number)s for %(month)s yet. They are accepted "
                "until %(end)s inclusive; after that the month is billed by the average. Give them in the "
                "personal account: %(url)s"
            )
            % v,
            _("%(utility)s: readings of account %(number)s are accepted until %(end)s inclusive. %(url)s")
            % v,
        )
    if topic == Topic.BILL_READY:
        return (
            _("The bill for %(month)s is ready") % v,
            _(
                "The bill of account %(number)s for %(month)s is ready: %(due)s to pay by %(due_date)s. "
                "See it and pay in the personal account: %(url)s"
            )
            % v,
            _("%(utility)s: bill of account %(number)s for %(month)s: %(due)s, by %(due_date)s. %(url)s") % v,
        )
    if topic == Topic.PAYMENT_RECEIVED:
        return (
            _("Payment of %(amount)s received") % v,
            _("A payment of %(amount)s for account %(number)s has been received (%(on)s). Thank you.") % v,
            _("%(utility)s: payment %(amount)s for account %(number)s received. Thank you.") % v,
        )
    if topic == Topic.DEBT_WARNING:
        return (
            _("Warning of the debt of account %(number)s") % v,
            _(
                "The debt of account %(number)s for electricity of past months is %(debt)s: more than two "
                "months' charges (%(threshold)s). If it is not paid within %(days)s days of this warning, "
                "the supply of electricity may first be restricted and then suspended (Decree 354 of "
                "06.05.2011, pp. 117–119). If you have paid it already, disregard this warning. Pay in the "
                "personal account: %(url)s"
            )
            % v,
            _(
                "%(utility)s: the debt of account %(number)s is %(debt)s. Unpaid within %(days)s days, "
                "supply may be restricted. %(url)s"
            )
            % v,
        )
    if topic == Topic.INSPECTION_SCHEDULED:
        return (
            _("Meter %(serial)s: inspection on %(on)s, %(hours)s") % v,
            _(
                "An inspector of %(utility)s will check meter %(serial)s of account %(number)s on %(on)s "
                "between %(hours)s (Decree 354 pp. 82–85). Please let the inspector reach the meter; the "
                "inspector shows an identity card. To move the visit, answer this letter or call us."
            )
            % v,
            _("%(utility)s: meter %(serial)s of account %(number)s will be checked on %(on)s, %(hours)s.")
            % v,
        )
    if topic == Topic.SUPPORT_ANSWER:
        return (
            _("An answer to your question: %(subject)s") % v,
            _(
                "Support has answered your question “%(subject)s” about account %(number)s. "
                "Read the answer in the personal account: %(link)s"
            )
            % v,
            _("%(utility)s: support has answered your question about account %(number)s. %(link)s") % v,
        )
    if topic == Topic.SERVICE_SCHEDULED:
        return (
            _("%(service)s: on %(on)s, %(hours)s") % v,
            _(
                "Your request %(request)s for account %(number)s (%(service)s) is scheduled for %(on)s "
                "between %(hours)s. To move it, call us or write to support."
            )
            % v,
            _("%(utility)s: %(service)s on %(on)s, %(hours)s (request %(request)s).") % v,
        )
    if topic == Topic.PROGRAMME_WIN:
        return (
            _("You have won a prize of the draw for %(month)s") % v,
            _(
                "Account %(number)s has won the draw of the programme %(programme)s for %(month)s: "
                "%(prize)s. Thank you for giving readings on time and paying without debt. The draw's "
                "inputs and result are published: %(url)s"
            )
            % v,
            _("%(utility)s: account %(number)s has won the draw for %(month)s: %(prize)s.") % v,
        )
    return (
        _("Meter %(serial)s: verification due by %(on)s") % v,
        _(
            "The verification of meter %(serial)s of account %(number)s is due by %(on)s. After that date "
            "its readings no longer count and the account is billed by the norm. Have it verified or "
            "replaced; you can order it from us."
        )
        % v,
        _("%(utility)s: meter %(serial)s of account %(number)s must be verified by %(on)s.") % v,
    )


# --- storing -------------------------------------------------------------------------------------


_MARK = re.compile("\x00([a-z_]+)\x00")


class _Words:
    """The words of each event, rendered once per language and formatted values (dates, sums):
    the strings of an event (its account's number, a subject) go in as they are, so a reminder
    to a million households renders its text once per language."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.known: dict[tuple[Any, ...], tuple[str, str, str]] = {}

    def __call__(self, language: str, values: dict[str, Any]) -> tuple[str, str, str]:
        strings = {k: v for k, v in values.items() if isinstance(v, str)}
        rest = tuple(sorted((k, v) for k, v in values.items() if not isinstance(v, str)))
        key = (language, tuple(sorted(strings)), rest)
        texts = self.known.get(key)
        if texts is None:
            if len(self.known) > 10_000:
                self.known.clear()
            marked = {**values, **{k: f"\x00{k}\x00" for k in strings}}
            with translation.override(language):
                subject, body, sms = _words(self.topic, marked)
            texts = (subject, body, sms)
            self.known[key] = texts
        fill = lambda m: strings[m.group(1)]  # noqa: E731 - one pass: a value's own text stays as it is
        return _MARK.sub(fill, texts[0]), _MARK.sub(fill, texts[1]), _MARK.sub(fill, texts[2])


#: The columns of a notice as ``notices_store`` writes them.
_COLUMNS = (
    "user_id",
    "account_id",
    "topic",
    "channel",
    "key",
    "to",
    "language",
    "subject",
    "body",
    "created_at",
    "next_attempt_at",
    "attempts",
    "sent_at",
    "last_error",
)


_NAMES = ", ".join(f'"{c}"' for c in _COLUMNS)
_SCRATCH = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS notice_in ON COMMIT DELETE ROWS AS "  # noqa: S608 - own names
    f"SELECT {_NAMES} FROM notify_notice WITH NO DATA"
)
_COPY = f"COPY notice_in ({_NAMES}) FROM STDIN"
_INSERT = (
    f"INSERT INTO notify_notice ({_NAMES}, failed_at, read_at) SELECT {_NAMES}, NULL, NULL "  # noqa: S608
    "FROM notice_in ON CONFLICT (key) DO NOTHING"
)


def _rows_insert(rows: list[tuple[Any, ...]]) -> int:
    """Insert the notices ``rows`` (``_COLUMNS``) but those whose key is stored already; the number
    inserted. PostgreSQL: COPY into a scratch table, then one INSERT … ON CONFLICT DO NOTHING."""
    if not rows:
        return 0
    if db_connection.vendor != "postgresql":
        keys = {row[4] for row in rows}
        known = set(Notice.objects.filter(key__in=keys).values_list("key", flat=True))
        fresh = [Notice(**dict(zip(_COLUMNS, row, strict=True))) for row in rows if row[4] not in known]
        Notice.objects.bulk_create(fresh, ignore_conflicts=True)  # a concurrent run's rows stay theirs
        return len(fresh)
    with transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute(_SCRATCH)
        with cursor.cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(_INSERT)
        return int(cursor.rowcount)


def notices_store(topic: str, events: Iterable[Event]) -> Prepared:
    """Store the notices of ``events`` (nothing twice; see the module's text)."""
    choices = {(p.user_id, p.channel): p.enabled for p in Preference.objects.filter(topic=topic)}
    words = _Words(topic)
    found = created = existing = 0
    stream = iter(events)
    while True:
        chunk = [event for _n, event in zip(range(CHUNK), stream, strict=False)]
        if not chunk:
            break
        found += len(chunk)
        mobiles: dict[int, str] = {}
        for user_id, number in (
            Phone.objects.filter(user_id__in={e.user_id for e in chunk}, number__startswith="+79")
            .order_by("-added_at")
            .values_list("user_id", "number")
        ):
            mobiles[user_id] = number  # the first one added wins
        rows: list[tuple[Any, ...]] = []
        now = timezone.now()
        for event in chunk:
            language = event.language or "ru"
            subject, body, sms = words(language, event.values)
            for channel in CHANNELS:
                if not choices.get((event.user_id, channel), _DEFAULT_ON[channel]):
                    continue
                to = (
                    event.email
                    if channel == EMAIL
                    else mobiles.get(event.user_id, "")
                    if channel == SMS
                    else ""
                )
                if channel != CABINET and not to:
                    continue
                rows.append(
                    (
                        event.user_id,
                        event.account_id,
                        topic,
                        channel,
                        f"{topic}:{event.key}:{event.user_id}:{channel}",
                        to,
                        language,
                        subject if channel != SMS else "",
                        sms if channel == SMS else body,
                        now,
                        now,
                        0,
                        now if channel == CABINET else None,
                        "",
                    )
                )
        stored = _rows_insert(rows)
        created += stored
        existing += len(rows) - stored
    if created >= ANALYZE_AFTER and db_connection.vendor == "postgresql":
        # Many rows at once: fresh statistics, so that the sender's claim takes its index at once
        # rather than when autovacuum comes by.
        with db_connection.cursor() as cursor:
            cursor.execute("ANALYZE notify_notice")
    return Prepared(found, created, existing)


def reminders_prepare(topic: str, today: date) -> Prepared:
    """The readings reminder ``topic`` of ``today``'s month, for every household still to give them."""
    return notices_store(topic, window_events(month_start(today)))


SOURCES: dict[str, Callable[..., Iterator[Event]]] = {
    Topic.BILL_READY: bill_events,
    Topic.PAYMENT_RECEIVED: payment_events,
    Topic.VERIFICATION_DUE: verification_events,
}


def reminders_due(today: date) -> list[str]:
    """The readings reminders ``today`` calls for: the window opens today, or closes in two days."""
    start, end = reading_window_get().bounds(today.year, today.month)
    due: list[str] = []
    if today == start:
        due.append(Topic.WINDOW_OPEN)
    if (end - today).days == 2:
        due.append(Topic.WINDOW_CLOSING)
    return due
