"""Letters in: stored raw (``letter_store``: one insert, before the SMTP 250), then processed
once by the mail workers (``work.py``: a batch claimed with a lease, each letter through
``letter_process``): read, checked for its origin, each meter's values submitted through
``core.readings.reading_submit``, the outcome and the answer stored in one transaction, so that a
letter is processed exactly once whatever dies when (a worker killed mid-way leaves the letter
``received``, due again once its lease runs out). Staff key the reading of a letter that was not
understood with ``letter_resolve``."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db import DatabaseBackend

from meterdesk.billing.preview import ChargePreview, charge_dumps
from meterdesk.core.readings import ACCEPTED, reading_submit
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.mail import letters, origin
from meterdesk.mail.models import Answer, Item, Letter, Outcome, Status, Via
from meterdesk.mail.understand import MeterPart, Understanding, understand
from meterdesk.metering.check import OUT_OF_SERVICE, NeedsConfirmation, ReadingError, ReadingInvalid
from meterdesk.metering.models import Channel, Meter

log = logging.getLogger(__name__)

#: The pause before a letter whose processing failed is tried again (times its failed tries).
LEASE = timedelta(minutes=5)
#: Failed tries before a letter is given up (shown to staff as not processed).
MAX_ATTEMPTS = 5

# The channel's own codes, beside the core's (``accepted``, ``window_closed``, a value's code …).
UNKNOWN_ACCOUNT = "unknown_account"
NOT_FOUND = "not_found"  # no serial, and the sender is not (verified as) a login of the account
SERIAL_MISMATCH = "serial_mismatch"
WHICH_METER = "which_meter"  # several meters, no serial
NO_METER = "no_meter"
AMBIGUOUS = "ambiguous"
NO_VALUES = "no_values"

#: What leaves a letter to staff: nothing in it could be submitted as it stands.
NOT_UNDERSTOOD_CODES = frozenset({AMBIGUOUS, NO_VALUES})


def enqueue(task: Any, *args: Any) -> None:
    """Hand a letter or an answer on. With the database backend (production) there is no task:
    the mail workers claim what is due (``work.py``), which spares each letter a task row and a
    worker's poll. With any other backend (the tests' immediate one) its task runs once the
    transaction has committed."""
    if isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        return
    transaction.on_commit(lambda: task.enqueue(*args))


def _message_id(raw: bytes) -> str:
    try:
        value = BytesHeaderParser().parsebytes(raw[:65536]).get("Message-ID", "")
    except Exception:  # a header block too broken to parse: the letter is still stored
        return ""
    return " ".join(str(value).split())[:255]


def letter_store(
    *,
    raw: bytes,
    via: str,
    mail_from: str = "",
    rcpt_to: Sequence[str] = (),
    peer: str = "",
    helo: str = "",
    now: datetime | None = None,
) -> Letter:
    """Store a letter as it arrived, due at once: once this returns, the letter is safe (the SMTP
    server may say 250, the mailbox's copy may be marked)."""
    from meterdesk.mail.tasks import letter_process_task

    moment = now or timezone.now()
    with transaction.atomic():
        letter = Letter.objects.create(
            via=via,
            received_at=moment,
            mail_from=mail_from[:500],
            rcpt_to="\n".join(rcpt_to),
            peer=peer[:200],
            helo=helo[:255],
            raw=raw,
            size=len(raw),
            message_id=_message_id(raw),
            next_attempt_at=moment,
        )
        enqueue(letter_process_task, letter.pk)
    return letter


@dataclass
class Result:
    """One meter's submission from a letter: the item stored, and for the answer what the core
    said (the refusal, or the accepted reading's charge)."""

    item: Item
    part: MeterPart | None = None
    error: ReadingError | None = None
    charge: ChargePreview | None = None
    replaced: bool = False
    linked: bool = False


@dataclass
class Context:
    """What processing one letter knows besides its text."""

    letter: Letter
    read: letters.Letter
    understanding: Understanding
    verified: bool
    user: User | None
    linked: frozenset[int]  # the sender's accounts (ids), when the sender is a login
    confirmed: tuple[str, ...]  # tokens sent back by a reply "yes"
    now: datetime


def _verified(raw: bytes, read: letters.Letter) -> bool:
    return origin.verified(
        raw,
        letters.domain_of(read.sender) if read.sender else "",
        authentication_results=read.authentication_results,
        trusted=settings.METERDESK_MAIL_TRUSTED_HOSTS,
        records=settings.METERDESK_MAIL_DKIM_RECORDS,
    )


def _return_path(letter: Letter) -> str | None:
    if letter.via == Via.SMTP:
        return letter.mail_from
    return letter.mail_from or None  # a mailbox's letter: its Return-Path header, if it has one


def _asked(read: letters.Letter, sender: str) -> list[Item]:
    """The readings our answers (that this letter replies to) asked the sender to confirm."""
    if not read.in_reply_to:
        return []
    answers = Answer.objects.filter(message_id__in=read.in_reply_to, to=sender)
    return list(Item.objects.filter(letter__in=answers.values("letter"), code=NeedsConfirmation.code))


#: What processing writes on a letter (not its raw source: it is not written again).
_PROCESSED_FIELDS = (
    "sender",
    "subject",
    "verified",
    "language",
    "processed_at",
    "status",
    "error",
    "outcome",
    "unanswered",
)


def letter_process(
    letter_id: int, *, now: datetime | None = None, stored: Letter | None = None
) -> str | None:
    """Process letter ``letter_id`` unless it already is; returns its outcome (None: nothing to
    do). The letter, its readings, its outcome and its answer are written in one transaction.
    ``stored``: the letter as a worker's batch read it (it is read again, locked)."""
    moment = now or timezone.now()
    letter = stored or Letter.objects.filter(pk=letter_id, status=Status.RECEIVED).first()
    if letter is None or letter.status != Status.RECEIVED:
        return None
    raw = bytes(letter.raw)
    read = letters.read(raw, return_path=_return_path(letter))
    verified = bool(read.sender) and not read.automatic and _verified(raw, read)
    with transaction.atomic():
        # Copies of one letter (the same Message-ID) are locked together, in one order: one is
        # processed, the others are found to be copies.
        same = Letter.objects.filter(message_id=letter.message_id) if letter.message_id else None
        locked = list(
            (same or Letter.objects.filter(pk=letter_id)).defer("raw").select_for_update().order_by("id")
        )
        letter = next((one for one in locked if one.pk == letter_id), letter)
        if letter.status != Status.RECEIVED:
            return None
        letter.sender, letter.subject = read.sender, read.subject
        letter.verified = verified
        understanding = understand(read.text, read.subject)
        letter.language = understanding.language
        letter.processed_at, letter.status, letter.error = moment, Status.DONE, ""
        if letter.message_id and any(o.pk != letter.pk and o.status == Status.DONE for o in locked):
            letter.outcome, letter.unanswered = Outcome.DUPLICATE, "a copy"
            letter.save(update_fields=_PROCESSED_FIELDS)
            return letter.outcome
        if read.automatic:
            letter.outcome, letter.unanswered = Outcome.AUTOMATIC, read.automatic
            letter.save(update_fields=_PROCESSED_FIELDS)
            return letter.outcome
        context = _context(letter, read, understanding, verified, moment)
        results = _submissions(context)
        letter.outcome = _outcome(results)
        from meterdesk.mail.answers import answer_compose, answer_store

        composed = answer_compose(context, results)
        letter.unanswered = answer_store(letter, read, composed, moment)
        letter.save(update_fields=_PROCESSED_FIELDS)
    return letter.outcome


def _context(
    letter: Letter, read: letters.Letter, understanding: Understanding, verified: bool, now: datetime
) -> Context:
    # Logins are stored in lower case, as ``read.sender`` is: the unique index finds it (iexact
    # would scan every login for every letter).
    user = User.objects.filter(email=read.sender, is_active=True).first() if read.sender else None
    linked = (
        frozenset(AccountLink.objects.filter(user=user).values_list("account_id", flat=True))
        if user
        else frozenset()
    )
    asked = _asked(read, read.reply_to) if understanding.affirmative else []
    confirmed = tuple(token for item in asked for token in item.confirm.split(",") if token)
    if asked and not understanding.accounts:
        # "Да" in reply to an answer that asked: the readings asked about, sent again confirmed.
        parts = []
        for item in asked:
            part = MeterPart(serial=item.serial or None)
            part.zones = dict(enumerate(item.values.split(";"), start=1))
            parts.append((item.account_number, part))
        understanding = _from_parts(parts, understanding)
    return Context(letter, read, understanding, verified, user, linked, confirmed, now)


def _from_parts(parts: list[tuple[str, MeterPart]], before: Understanding) -> Understanding:
    from meterdesk.mail.understand import AccountPart

    accounts: dict[str, AccountPart] = {}
    for number, part in parts:
        accounts.setdefault(number, AccountPart(number)).meters.append(part)
    return Understanding(tuple(accounts.values()), (), before.affirmative, before.language)


def _outcome(results: Sequence[Result]) -> str:
    codes = [r.item.code for r in results]
    if not codes or all(code in NOT_UNDERSTOOD_CODES for code in codes):
        return Outcome.NOT_UNDERSTOOD
    accepted = codes.count(ACCEPTED)
    if accepted == len(codes):
        return Outcome.ACCEPTED
    return Outcome.PARTLY if accepted else Outcome.REFUSED


def _submissions(context: Context) -> list[Result]:
    results = []
    accounts = {
        a.number: a
        for a in Account.objects.filter(number__in=[p.number for p in context.understanding.accounts])
    }
    for part in context.understanding.accounts:
        account = accounts.get(part.number)
        for meter_part in part.meters:
            item = Item(letter=context.letter, account_number=part.number, serial=meter_part.serial or "")
            item.values = ";".join(v or "" for v in meter_part.values() or []) or meter_part.words()
            result = Result(item, meter_part, linked=account is not None and account.pk in context.linked)
            _submit(context, account, meter_part, result)
            item.save()
            results.append(result)
    return results


def _meter(
    context: Context, account: Account, part: MeterPart, result: Result
) -> tuple[Meter | None, User | None]:
    """The meter the values are for and the login to submit as (None: anyone who knows the
    serial), or None with the item's code set to why not."""
    item = result.item
    if part.serial:
        wanted = "".join(part.serial.split()).replace("-", "").lower()
        for meter in account.meters.all():
            if "".join(meter.serial.split()).replace("-", "").lower() == wanted:
                return meter, None
        item.code = SERIAL_MISMATCH
        return None, None
    if not (result.linked and context.verified):
        item.code = NOT_FOUND
        return None, None
    in_service = [m for m in account.meters.all() if m.status not in OUT_OF_SERVICE]
    if len(in_service) == 1:
        return in_service[0], context.user
    item.code = WHICH_METER if in_service else NO_METER
    return None, None


def _submit(context: Context, account: Account | None, part: MeterPart, result: Result) -> None:
    item = result.item
    if account is None:
        item.code = UNKNOWN_ACCOUNT
        return
    values = part.values()
    if part.empty:
        item.code = NO_VALUES
        return
    if values is None:
        item.code = AMBIGUOUS
        return
    meter, login = _meter(context, account, part, result)
    if meter is None:
        return
    item.meter, item.login_id = meter, login.pk if login else None
    submit(item, result, values, meter=meter, login=login, confirmed=context.confirmed, now=context.now)


def submit(
    item: Item,
    result: Result,
    values: Sequence[str | None],
    *,
    meter: Meter,
    login: User | None,
    confirmed: Collection[str],
    now: datetime,
) -> None:
    """Submit ``values`` of ``meter`` through the core, recording the outcome on ``item`` and
    ``result``. The answer is the letter's confirmation: no separate confirmation e-mail."""
    try:
        submission = reading_submit(
            meter_id=meter.pk,
            values=list(values),
            channel=Channel.EMAIL,
            login=login,
            confirmed=confirmed,
            now=now,
        )
    except Meter.DoesNotExist:
        item.code = NOT_FOUND
        return
    except NeedsConfirmation as error:
        item.code, result.error = error.code, error
        item.confirm = ",".join(error.checked.token(i) for i in error.issues)
        item.issues = ",".join(f"{i.zone}:{i.code}" for i in error.issues)
        return
    except ReadingInvalid as error:
        item.code, result.error = error.issues[0].code, error
        item.issues = ",".join(f"{i.zone}:{i.code}" for i in error.issues)
        return
    except ReadingError as error:
        item.code, result.error = error.code, error
        return
    item.code, item.reading = ACCEPTED, submission.reading
    item.charge = charge_dumps(submission.charge)
    result.charge, result.replaced = submission.charge, submission.replaced is not None


def letter_run(letter_id: int, *, stored: Letter | None = None) -> str | None:
    """``letter_process`` for a worker: a failure is recorded on the letter and tried again later,
    up to ``MAX_ATTEMPTS`` tries."""
    try:
        return letter_process(letter_id, stored=stored)
    except Exception as error:
        log.exception("could not process letter %s", letter_id)
        with transaction.atomic():
            letter = Letter.objects.select_for_update().filter(pk=letter_id, status=Status.RECEIVED).first()
            if letter is not None:
                letter.attempts += 1
                letter.error = f"{type(error).__name__}: {error}"[:2000]
                letter.next_attempt_at = timezone.now() + LEASE * letter.attempts
                if letter.attempts >= MAX_ATTEMPTS:
                    letter.status = Status.FAILED
                letter.save(update_fields=["attempts", "error", "next_attempt_at", "status"])
        return None


def letter_resolve(
    *,
    letter: Letter,
    meter: Meter,
    values: Sequence[str],
    staff: User,
    confirmed: Collection[str] = (),
    now: datetime | None = None,
) -> Result:
    """Staff key the reading of a letter that was not understood: it is submitted through the core
    as the letter's, the sender is answered with the outcome, and the letter leaves the queue once
    the reading is accepted."""
    from meterdesk.mail.answers import answer_compose, answer_store

    moment = now or timezone.now()
    with transaction.atomic():
        letter = Letter.objects.select_for_update().get(pk=letter.pk)
        raw = bytes(letter.raw)
        read = letters.read(raw, return_path=_return_path(letter))
        item = Item(
            letter=letter, account_number=meter.account.number, serial=meter.serial, values=";".join(values)
        )
        item.meter = meter
        result = Result(item, linked=False)
        submit(item, result, values, meter=meter, login=None, confirmed=confirmed, now=moment)
        item.save()
        if item.code == ACCEPTED:
            letter.resolved_at, letter.resolved_by = moment, staff
        language = letter.language or understand(read.text, read.subject).language
        understanding = Understanding((), (), False, language)
        context = Context(letter, read, understanding, False, None, frozenset(), tuple(confirmed), moment)
        composed = answer_compose(context, [result])
        letter.unanswered = answer_store(letter, read, composed, moment, limit=False)
        letter.save()
    return result


def address_ours(address: str) -> bool:
    """Whether ``address`` is one of the utility's own (an answer to it would loop)."""
    own = {a.lower() for a in settings.METERDESK_MAIL_ADDRESSES}
    own.add(parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower())
    return address.lower() in own
