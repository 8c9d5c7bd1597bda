"""The answer to a letter: composed in the letter's language (Russian or English) from what the
core said of each meter's values, stored with the letter's outcome (``answer_store``: the outbox),
and sent by a task through Django's mail (the same settings as the confirmation e-mails; without
SMTP settings the answers are written under the data dir's ``mail/``). An answer is threaded
(In-Reply-To, References), goes to Reply-To (else From), attaches the confirmation PDF of each
accepted reading, and carries ``Auto-Submitted: auto-replied`` so that no robot answers it.

Never answered: automatic letters (see ``letters.automatic``), letters from our own addresses,
and an address that already had ``METERDESK_MAIL_ANSWERS_PER_HOUR`` answers in the last hour."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from meterdesk.core.confirmations import MAX_ATTEMPTS, RETRY_DELAYS
from meterdesk.core.readings import ACCEPTED
from meterdesk.mail import letters
from meterdesk.mail.models import Answer, Letter
from meterdesk.mail.services import (
    AMBIGUOUS,
    NO_METER,
    NO_VALUES,
    NOT_FOUND,
    SERIAL_MISMATCH,
    UNKNOWN_ACCOUNT,
    WHICH_METER,
    Context,
    Result,
    address_ours,
    enqueue,
)
from meterdesk.mail.understand import NO_ACCOUNT, NOTHING
from meterdesk.metering.check import MonthClosed, NeedsConfirmation, ReadingInvalid, WindowClosed
from meterdesk.metering.messages import issue_message, month_closed_message, window_message, zone_label
from meterdesk.metering.models import Reading
from meterdesk.utility.selectors import reference_get

log = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a sender's claim on an answer lasts (METERDESK_MAIL_ANSWER_LEASE): a worker that
    dies mid-send leaves the answer due again then."""
    return timedelta(seconds=settings.METERDESK_MAIL_ANSWER_LEASE)


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str
    language: str
    readings: tuple[int, ...]  # accepted readings: their confirmation PDFs go with the answer


def _number(value: Decimal | int, places: int | None = None) -> str:
    if isinstance(value, Decimal) and places is None and value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return number_format(value, decimal_pos=places, force_grouping=True)


def _rub(amount: Decimal) -> str:
    return f"{_number(amount, 2)} ₽"


def example() -> str:
    """A letter we understand, for the answers that ask again."""
    return _(
        "For example:\n\n  Account 1234567890\n  Meter No. 12345678\n  T1 12345\n  T2 6789\n\n"
        "The account number has 10 digits; the meter's serial number is printed on it (it may be "
        "left out when you write from the address of your personal account). One value per zone: "
        "T1 (day), T2 (night), T3 (semi-peak) as the meter shows them."
    )


def _refusal(result: Result) -> list[str]:
    item, error = result.item, result.error
    code = item.code
    if isinstance(error, WindowClosed):
        return [
            _("Not accepted: readings are not being taken now."),
            window_message(error.window.start_day, error.window.end_day),
            _("The next window is from %(opens)s to %(closes)s.")
            % {"opens": f"{error.opens_on:%d.%m.%Y}", "closes": f"{error.closes_on:%d.%m.%Y}"},
        ]
    if isinstance(error, MonthClosed):
        return [_("Not accepted."), month_closed_message(error.period)]
    if isinstance(error, ReadingInvalid):
        lines = [_("Not accepted:")]
        for issue in error.issues:
            lines.append(
                f"  {zone_label(error.meter.zones, issue.zone) if issue.zone else ''}: {issue_message(issue)}"
            )
        return lines
    if isinstance(error, NeedsConfirmation):
        lines = [_("Not accepted yet: please confirm.")]
        lines += [f"  {zone_label(error.meter.zones, i.zone)}: {issue_message(i)}" for i in error.issues]
        lines.append(
            _(
                "If the values are right, reply to this letter with the word YES (or ДА). If not, "
                "reply with the right values."
            )
        )
        return lines
    words = {
        UNKNOWN_ACCOUNT: _("There is no personal account with this number. Check the number on your bill."),
        NOT_FOUND: _(
            "Please give the serial number of the meter as well (it is printed on the meter): "
            "without it we accept readings only from the e-mail address of the account's personal "
            "account, and only when your mail service confirms that the letter is really from it."
        )
        if not result.linked
        else _(
            "Your mail service did not confirm that this letter really comes from your address, so "
            "please give the serial number of the meter as well (it is printed on the meter)."
        ),
        SERIAL_MISMATCH: _(
            "The account has no meter with this serial number. Check the number on the meter."
        ),
        WHICH_METER: _(
            "The account has several meters: please give the serial number of each with its values."
        ),
        NO_METER: _("The account has no meter in service. Please call us."),
        AMBIGUOUS: _(
            "We could not tell which value is for which zone. Write each value with its zone: T1, T2, T3 "
            "(or day and night)."
        ),
        NO_VALUES: _("We found no values for it."),
        "meter_not_in_service": _("The meter is out of service and takes no readings. Please call us."),
    }
    return [words.get(code, _("Not accepted."))]


def _accepted(result: Result) -> list[str]:
    item, charge = result.item, result.charge
    assert item.reading is not None and item.meter is not None  # noqa: S101 - accepted
    meter, reading = item.meter, item.reading
    lines = [
        _("Accepted, confirmation number %(number)s.") % {"number": reading.confirmation},
        _("Month: %(month)s.") % {"month": f"{reading.period:%m.%Y}"},
    ]
    if result.replaced:
        lines.append(_("It replaces the reading you sent earlier this month."))
    for zone, value in enumerate(reading.values, start=1):
        consumption = charge.consumption[zone - 1] if charge and len(charge.consumption) >= zone else None
        text = f"  {zone_label(meter.zones, zone)}: {_number(value)}"
        if consumption is not None:
            text += " " + _("(consumption %(kwh)s kWh)") % {"kwh": _number(consumption)}
        lines.append(text)
    if charge is not None and charge.total is not None and charge.lines:
        lines.append(_("The charge for the month, as the bill will show it:"))
        for line in charge.lines:
            label = zone_label(meter.zones, line.zone) if line.zone else _("Single rate")
            lines.append(
                f"  {label}: {_number(line.volume)} {_('kWh')} × {_number(line.price, 2)} ₽ = {_rub(line.amount)}"
            )
        lines.append(_("Total for the month: %(total)s") % {"total": _rub(charge.total)})
    lines.append(_("The confirmation is attached (PDF)."))
    return lines


def _account_data(context: Context, number: str) -> list[str]:
    """The account's money, only for a verified sender who is a login of the account."""
    from meterdesk.core.accounts import money_summary

    if not context.verified or context.user is None:
        return []
    money = money_summary(context.user, number)
    if money is None:
        return []
    lines = [_("Balance: %(balance)s.") % {"balance": money.balance_text}]
    if money.last_payment is not None:
        lines.append(
            _("Last payment: %(amount)s on %(day)s.")
            % {"amount": _rub(-money.last_payment.amount), "day": f"{money.last_payment.posted_on:%d.%m.%Y}"}
        )
    return lines


def answer_compose(context: Context, results: Sequence[Result]) -> Composed:
    """The answer to a letter in its language: each meter's outcome, then what to do."""
    language = context.understanding.language or settings.LANGUAGE_CODE
    with translation.override(language):
        body: list[str] = [_("Hello!"), ""]
        problems = context.understanding.problems
        read = context.read
        if not results:
            if read.images and not read.text.strip():
                body.append(_("We cannot read readings from photos: please write the values as text."))
            elif NO_ACCOUNT in problems:
                body.append(_("We found values in your letter, but no personal account number."))
            elif NOTHING in problems or not problems:
                body.append(_("We could not find meter readings in your letter."))
            else:
                body.append(_("We could not tell which values are for which account."))
        accounts_told: set[str] = set()
        for result in results:
            item = result.item
            head = _("Account %(number)s") % {"number": item.account_number}
            if item.meter is not None or item.serial:
                head += ", " + _("meter %(serial)s") % {
                    "serial": item.meter.serial if item.meter else item.serial
                }
            body.append(head + ":")
            if item.values:
                body.append("  " + _("Understood: %(values)s") % {"values": _values_words(item.values)})
            body += [
                f"  {line}" for line in (_accepted(result) if item.code == ACCEPTED else _refusal(result))
            ]
            if item.code == ACCEPTED and item.account_number not in accounts_told:
                accounts_told.add(item.account_number)
                body += [f"  {line}" for line in _account_data(context, item.account_number)]
            body.append("")
        if not results or any(r.item.code in (AMBIGUOUS, NO_VALUES, WHICH_METER) for r in results):
            body += ["", _("Please write again with the values."), example(), ""]
        body += ["", _("This answer was written automatically."), reference_get().utility.name]
        subject = _subject(read.subject)
    readings = tuple(r.item.reading.pk for r in results if r.item.reading is not None)
    return Composed(subject, "\n".join(body).strip() + "\n", language, readings)


def _values_words(values: str) -> str:
    """An item's values as read, with their zones: ``T1 1300, T2 650``."""
    parts = values.split(";")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(f"T{zone} {value or '?'}" for zone, value in enumerate(parts, start=1))


def _subject(original: str) -> str:
    if not original.strip():
        return _("Your meter readings")
    return original if original.lower().startswith(("re:", "ответ:")) else f"Re: {original}"


def _from_address() -> str:
    address = (
        settings.METERDESK_MAIL_ADDRESSES[0]
        if settings.METERDESK_MAIL_ADDRESSES
        else settings.DEFAULT_FROM_EMAIL
    )
    return formataddr((reference_get().utility.name, address)) if "<" not in address else address


def _why_not(letter: Letter, to: str, now: datetime, limit: bool) -> str:
    if not to:
        return "no address to answer"
    if address_ours(to):
        return "our own address"
    if limit:
        sent = Answer.objects.filter(to=to, created_at__gt=now - timedelta(hours=1)).count()
        if sent >= settings.METERDESK_MAIL_ANSWERS_PER_HOUR:
            return "answer limit per hour"
    return ""


def answer_store(
    letter: Letter, read: letters.Letter, composed: Composed, now: datetime, *, limit: bool = True
) -> str:
    """Store the answer to ``letter`` and its task, in the caller's transaction; returns why it
    is not answered ("" if it is)."""
    to = read.reply_to
    why = _why_not(letter, to, now, limit)
    if why:
        return why
    domain = letters.domain_of(_from_address().rsplit("<", 1)[-1].rstrip(">")) or "meterdesk.localhost"
    references = " ".join((*read.in_reply_to, letter.message_id)).strip()
    answer = Answer.objects.create(
        letter=letter,
        to=to,
        subject=composed.subject[:500],
        body=composed.body,
        language=composed.language,
        message_id=make_msgid(domain=domain),
        in_reply_to=letter.message_id,
        references=references,
        readings=",".join(str(r) for r in composed.readings),
        created_at=now,
        next_attempt_at=now,
    )
    from meterdesk.mail.tasks import answer_send_task

    enqueue(answer_send_task, answer.pk)
    return ""


def answer_message(answer: Answer, readings: dict[int, Reading] | None = None) -> EmailMessage:
    """The e-mail of ``answer`` with the confirmation PDF of each of its readings (from
    ``readings`` when given: a batch reads them in one query)."""
    from meterdesk.documents.render import confirmation_filename, confirmation_pdf

    headers = {
        "Message-ID": answer.message_id,
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
    }
    if answer.in_reply_to:
        headers["In-Reply-To"] = answer.in_reply_to
    if answer.references:
        headers["References"] = answer.references
    message = EmailMessage(
        " ".join(answer.subject.split()), answer.body, _from_address(), [answer.to], headers=headers
    )
    ids = answer_readings(answer)
    if readings is None:
        readings = readings_of(ids)
    for pk in sorted(ids):
        reading = readings[pk]
        message.attach(confirmation_filename(reading), confirmation_pdf(reading), "application/pdf")
    return message


def answer_readings(answer: Answer) -> list[int]:
    return [int(r) for r in answer.readings.split(",") if r]


def readings_of(ids: Sequence[int]) -> dict[int, Reading]:
    return Reading.objects.select_related("meter__account").in_bulk(ids)


def answer_failed(answer: Answer, error: BaseException) -> None:
    """Record a refused send of ``answer`` (its try already counted): tried again after the
    confirmation e-mails' delays, given up after their number of tries."""
    log.warning("could not send the answer %s: %s", answer.pk, error)
    changes: dict[str, object] = {"last_error": f"{type(error).__name__}: {error}"[:2000]}
    if answer.attempts >= MAX_ATTEMPTS:
        changes["failed_at"] = timezone.now()
    else:
        changes["next_attempt_at"] = (
            timezone.now() + RETRY_DELAYS[min(answer.attempts, len(RETRY_DELAYS)) - 1]
        )
    Answer.objects.filter(pk=answer.pk).update(**changes)


def answer_sent(answer_id: int) -> None:
    Answer.objects.filter(pk=answer_id).update(sent_at=timezone.now(), last_error="")


def answer_send(answer_id: int, *, now: datetime | None = None) -> bool:
    """Send answer ``answer_id`` if it is due (not sent, not claimed by a worker); returns whether
    it was sent now. A refusal of the mail server is recorded and tried again later."""
    moment = now or timezone.now()
    with transaction.atomic():
        answer = (
            Answer.objects.select_for_update()
            .filter(pk=answer_id, sent_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=moment)
            .first()
        )
        if answer is None:
            return False
        answer.attempts += 1
        answer.next_attempt_at = moment + lease()
        answer.save(update_fields=["attempts", "next_attempt_at"])
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([answer_message(answer)])
    except Exception as error:
        answer_failed(answer, error)
        return False
    answer_sent(answer_id)
    return True
