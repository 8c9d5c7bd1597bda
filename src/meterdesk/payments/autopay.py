"""Autopayment: a saved card pays each monthly bill on its due date.

The household allows it once (``autopay_on``, or by ticking it on the Pay page: the card is saved
by that payment, ``autopay_from_payment``), with the words it agreed to and the time recorded.
meterdesk keeps the provider's id of the saved card and its scheme and last four digits — never
the card.

After a month's close (``autopay_schedule``, called by ``meterdesk bill``, and again by every run
of ``meterdesk payments autopay``) each account with autopayment in force and a bill to pay gets an
``AutopayCharge`` — one per account and month, by a unique constraint, so a bill is never charged
twice. ``autopay_run`` (``meterdesk payments autopay``, daily from cron) then

1. e-mails the notice, from ``METERDESK_AUTOPAY_NOTICE_DAYS`` days before the due date; the charge
   waits at least a day after its notice, so a notice that goes out late moves the charge;
2. charges the bills due: what is still owed of the bill (the bill, or the balance if that is
   less: a payment made meanwhile is not paid twice), with the saved card, nothing to confirm;
3. settles the tries still open with the provider;
4. e-mails the receipt of each paid bill, and a note of each declined try.

Each try is a ``Payment`` of its own with the idempotence key ``autopay:<account>`` +
``<month>:<try>``; a new try is made only after the try before it was declined, at most
``METERDESK_AUTOPAY_ATTEMPTS`` tries a bill, a day apart. A try that the provider has not answered
is sent again with its own key, which gives the same payment at the provider. A card the bank no
longer accepts (consent revoked, expired) stops the autopayment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meterdesk.billing.messages import money
from meterdesk.billing.models import AccountClose
from meterdesk.billing.selectors import account_balance
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.payments import providers
from meterdesk.payments.models import (
    Autopay,
    AutopayCharge,
    ChargeStatus,
    Confirmation,
    Payment,
    PaymentChannel,
    PaymentMethod,
    PaymentPart,
    PaymentStatus,
    SavedCard,
    StopReason,
)
from meterdesk.payments.services import (
    AmountMismatch,
    ProviderUnavailable,
    Share,
    amount_limits,
    idempotence_key_for,
    payment_description,
    payment_settle,
    payment_submit,
    receipt_of,
)
from meterdesk.utility.selectors import utility_get, utility_now

log = logging.getLogger(__name__)

#: Why a bank declines a saved card for good: the autopayment stops (YooKassa's reasons).
CARD_UNUSABLE = frozenset({"permission_revoked", "card_expired", "payment_method_restricted"})


def notice_days() -> int:
    return max(1, int(getattr(settings, "METERDESK_AUTOPAY_NOTICE_DAYS", 3)))


def attempts_max() -> int:
    return max(1, int(getattr(settings, "METERDESK_AUTOPAY_ATTEMPTS", 3)))


def consent_words(numbers: list[str]) -> str:
    """What the household agrees to, in the active language: stored, as shown, with its consent."""
    return _(
        "I allow %(utility)s to save my card with the payment service and to pay the bills of "
        "account %(accounts)s from it automatically on their due date. I will get an e-mail at "
        "least a day before each payment and the receipt after it. I can stop autopayment at any "
        "time in the personal account with one click."
    ) % {"utility": utility_get().short_name, "accounts": ", ".join(numbers)}


# --- consent ------------------------------------------------------------------------------------------


def autopay_of(account: Account) -> Autopay | None:
    """The account's autopayment in force, if any."""
    return (
        Autopay.objects.select_related("card", "user")
        .filter(account=account, stopped_at__isnull=True)
        .first()
    )


def saved_cards_of(user: User) -> list[SavedCard]:
    """The login's saved cards it may turn autopayment on with (of the provider in use)."""
    return list(
        SavedCard.objects.filter(
            user=user, forgotten_at__isnull=True, provider=providers.default_provider_name()
        ).order_by("-saved_at", "-pk")
    )


def saved_card_forget(*, user: User, card_id: int) -> SavedCard:
    """Remove the login's saved card ``card_id``: it is never charged again, and every
    autopayment paid from it stops (its bills not yet at the bank are not charged). meterdesk
    forgets the provider's id of it; the card itself stays the customer's, with their bank.
    ``SavedCard.DoesNotExist`` when the login has no such card (or removed it already)."""
    now = timezone.now()
    with transaction.atomic():
        card = SavedCard.objects.select_for_update().get(pk=card_id, user=user, forgotten_at__isnull=True)
        card.forgotten_at = now
        card.save(update_fields=["forgotten_at"])
        for autopay in Autopay.objects.select_for_update().filter(card=card, stopped_at__isnull=True):
            _stop(autopay, user, StopReason.CUSTOMER, now)
    log.info("saved card %s of user %s removed", card.pk, user.pk)
    return card


def autopay_on(
    *,
    account: Account,
    user: User | None,
    card: SavedCard,
    consent_text: str,
    consent_at: datetime | None = None,
    channel: str = PaymentChannel.WEB,
) -> Autopay:
    """Turn autopayment of ``account`` on with ``card``, by the consent of ``user`` (the words
    ``consent_text``, given at ``consent_at``). The same card again keeps the one in force; another
    card replaces it. The caller checks that the account and the card are the login's."""
    if not consent_text.strip():
        raise ValueError("autopayment needs the customer's consent")
    if card.forgotten_at is not None:
        raise ValueError("the card was removed")
    now = timezone.now()
    for _try in range(2):
        try:
            with transaction.atomic():
                current = (
                    Autopay.objects.select_for_update()
                    .filter(account=account, stopped_at__isnull=True)
                    .first()
                )
                if current is not None and current.card_id == card.pk:
                    return current
                if current is not None:
                    _stop(current, user, StopReason.REPLACED, now, cancel=False)
                autopay = Autopay.objects.create(
                    account=account,
                    user=user,
                    card=card,
                    consent_at=consent_at or now,
                    consent_text=consent_text,
                    channel=channel,
                )
                _take_over(autopay, current)
                return autopay
        except IntegrityError:  # turned on concurrently: look again
            continue
    raise RuntimeError("autopayment could not be turned on")  # pragma: no cover


def autopay_off(
    *, account: Account, user: User | None = None, reason: str = StopReason.CUSTOMER
) -> Autopay | None:
    """Stop the account's autopayment (None when there was none in force). Bills scheduled and not
    yet at the bank are not charged; a try already at the bank finishes."""
    with transaction.atomic():
        current = Autopay.objects.select_for_update().filter(account=account, stopped_at__isnull=True).first()
        if current is None:
            return None
        _stop(current, user, reason, timezone.now())
        return current


def _stop(autopay: Autopay, user: User | None, reason: str, now: datetime, *, cancel: bool = True) -> None:
    """Stop ``autopay``; its bills not yet at the bank are cancelled (unless ``cancel`` is false:
    the autopayment that replaces it takes them over)."""
    autopay.stopped_at, autopay.stopped_by, autopay.stop_reason = now, user, reason
    autopay.save(update_fields=["stopped_at", "stopped_by", "stop_reason"])
    if cancel:
        AutopayCharge.objects.filter(
            autopay=autopay, status__in=(ChargeStatus.SCHEDULED, ChargeStatus.RETRY)
        ).update(status=ChargeStatus.CANCELLED, updated_at=now)


def _take_over(autopay: Autopay, replaced: Autopay | None) -> None:
    """The bills a new autopayment pays: those of the one it replaces still to be charged, and
    those cancelled by an earlier stop that are not due yet (they get a new notice)."""
    if replaced is not None:
        AutopayCharge.objects.filter(
            autopay=replaced, status__in=(ChargeStatus.SCHEDULED, ChargeStatus.RETRY)
        ).update(autopay=autopay, updated_at=timezone.now())
    AutopayCharge.objects.filter(
        account=autopay.account, status=ChargeStatus.CANCELLED, due_date__gte=utility_now().date()
    ).update(
        autopay=autopay,
        status=ChargeStatus.SCHEDULED,
        notice_sent_at=None,
        charge_on=F("due_date"),
        updated_at=timezone.now(),
    )


def autopay_from_payment(payment: Payment, remote: providers.RemotePayment) -> None:
    """A payment with the autopayment consent succeeded (called in its settling transaction): keep
    the card the provider saved, and turn autopayment on for every account it paid."""
    if not (remote.method_saved and remote.method_id):
        log.warning(
            "payment %s: autopayment was asked for, but the provider did not save the card", payment.pk
        )
        return
    card, _created = SavedCard.objects.get_or_create(
        provider=payment.provider,
        method_id=remote.method_id,
        defaults={
            "user": payment.user,
            "card_type": remote.card_type,
            "last4": remote.card_last4,
            "payment": payment,
        },
    )
    if card.user_id != payment.user_id or card.forgotten_at is not None:
        return
    for part in payment.parts.select_related("account"):
        autopay_on(
            account=part.account,
            user=payment.user,
            card=card,
            consent_text=payment.consent_text,
            consent_at=payment.consent_at,
            channel=payment.channel,
        )


# --- the bills ----------------------------------------------------------------------------------------


def autopay_schedule(*, today: date | None = None, period: date | None = None) -> int:
    """An ``AutopayCharge`` for each bill not yet due (of ``period``, or of any month) of an account
    with autopayment in force that asks for a payment and has none. Returns how many were made;
    running it again makes none."""
    today = today or utility_now().date()
    has_charge = AutopayCharge.objects.filter(account=OuterRef("account_id"), period=OuterRef("period"))
    in_force = Autopay.objects.filter(account=OuterRef("account_id"), stopped_at__isnull=True)
    closes = (
        AccountClose.objects.filter(Exists(in_force), due_date__gte=today, closing_balance__gt=0)
        .exclude(Exists(has_charge))
        .select_related("account")
    )
    if period is not None:
        closes = closes.filter(period=period)
    made = 0
    for close in closes.order_by("account_id", "period").iterator(chunk_size=500):
        autopay = autopay_of(close.account)
        if autopay is None:  # stopped since the query
            continue
        try:
            with transaction.atomic():
                AutopayCharge.objects.create(
                    autopay=autopay,
                    account_id=close.account_id,
                    period=close.period,
                    due_date=close.due_date,
                    bill_amount=close.closing_balance,
                    charge_on=close.due_date,
                )
        except IntegrityError:  # made meanwhile by another run
            continue
        made += 1
    return made


@dataclass
class AutopaySummary:
    scheduled: int = 0
    notices: int = 0
    tried: int = 0
    paid: int = 0
    declined: int = 0
    given_up: int = 0
    skipped: int = 0
    waiting: int = 0
    mails: int = 0
    errors: int = 0


def autopay_run(*, today: date | None = None) -> AutopaySummary:
    """One run of autopayment on ``today`` (the utility's date): schedule, notify, charge, settle,
    e-mail. Safe to run any number of times a day, and beside the notifications."""
    today = today or utility_now().date()
    summary = AutopaySummary(scheduled=autopay_schedule(today=today))
    notice_from = today + timedelta(days=notice_days())
    for charge in AutopayCharge.objects.filter(
        status=ChargeStatus.SCHEDULED, notice_sent_at__isnull=True, due_date__lte=notice_from
    ).order_by("pk"):
        if _notice(charge, today):
            summary.notices += 1
    open_ones = AutopayCharge.objects.filter(status=ChargeStatus.CHARGING).values_list("pk", flat=True)
    for pk in list(open_ones):
        _follow(pk, summary)
    due = AutopayCharge.objects.filter(
        status__in=(ChargeStatus.SCHEDULED, ChargeStatus.RETRY),
        notice_sent_at__isnull=False,
        charge_on__lte=today,
    ).values_list("pk", flat=True)
    for pk in list(due):
        _try(pk, today, summary)
    for charge in AutopayCharge.objects.filter(
        status__in=(ChargeStatus.PAID, ChargeStatus.RETRY, ChargeStatus.FAILED), updated_at__gte=_recent()
    ).order_by("pk"):
        summary.mails += autopay_mail(charge.pk)
    return summary


def _recent() -> datetime:
    """Results this old are no longer e-mailed (a mail server down for weeks is told once)."""
    return timezone.now() - timedelta(days=30)


def _notice(charge: AutopayCharge, today: date) -> bool:
    """E-mail the notice of ``charge`` once; the charge then waits at least a day."""
    charge_on = max(charge.due_date, today + timedelta(days=1))
    return _send_once(
        charge.pk,
        {"notice_sent_at__isnull": True, "status": ChargeStatus.SCHEDULED},
        {"notice_sent_at": timezone.now(), "charge_on": charge_on},
        "notice",
        {"charge_on": charge_on, "amount": money(_amount_to_charge(charge))},
    )


def _amount_to_charge(charge: AutopayCharge) -> Decimal:
    """What is still owed of the bill: the bill, or the balance if that is less."""
    return min(charge.bill_amount, account_balance(charge.account))


def _try(pk: int, today: date, summary: AutopaySummary) -> None:
    """Charge the bill ``pk`` once more with the saved card, if it is still to be charged today."""
    low, high = amount_limits()
    with transaction.atomic():
        charge = (
            AutopayCharge.objects.select_for_update(of=("self",))
            .select_related("autopay__card", "autopay__user", "account")
            .get(pk=pk)
        )
        if charge.status not in (ChargeStatus.SCHEDULED, ChargeStatus.RETRY) or charge.charge_on > today:
            return  # taken by another run
        autopay, user = charge.autopay, charge.autopay.user
        if autopay.active and (
            user is None or not AccountLink.objects.filter(user=user, account=charge.account).exists()
        ):
            # The login that agreed no longer has the account: its card pays nothing more of it.
            _stop(autopay, None, StopReason.UNLINKED, timezone.now())
            return
        if not autopay.active or user is None or autopay.card.forgotten_at is not None:
            charge.status = ChargeStatus.CANCELLED
            charge.save()
            return
        amount = _amount_to_charge(charge)
        if amount < low:
            charge.status, charge.amount = ChargeStatus.SKIPPED, Decimal(0)
            charge.save()
            summary.skipped += 1
            return
        if amount > high:
            charge.status, charge.amount = ChargeStatus.FAILED, amount
            charge.last_error = "over_the_limit"
            charge.attempts += 1
            charge.save()
            summary.given_up += 1
            return
        charge.attempts += 1
        charge.charge_on = today  # the day of this try: a declined one is tried again the day after
        payment = Payment.objects.create(
            account=charge.account,
            user=user,
            channel=PaymentChannel.AUTOPAY,
            method=PaymentMethod.CARD,
            confirmation_type=Confirmation.NONE,
            amount=amount,
            provider=autopay.card.provider,
            idempotence_key=idempotence_key_for(
                f"autopay:{charge.account_id}", f"{charge.period:%Y-%m}:{charge.attempts}"
            ),
            description=payment_description([charge.account]),
            receipt=receipt_of([Share(charge.account, amount)], user),
            card=autopay.card.masked,
        )
        PaymentPart.objects.create(payment=payment, account=charge.account, amount=amount)
        charge.payment, charge.amount, charge.status = payment, amount, ChargeStatus.CHARGING
        charge.save()
    summary.tried += 1
    _submit(charge, payment, summary)


def _submit(charge: AutopayCharge, payment: Payment, summary: AutopaySummary) -> None:
    """Send the try to the provider (again, with its own key, if it never answered)."""
    try:
        payment = payment_submit(payment, method_id=charge.autopay.card.method_id)
    except ProviderUnavailable as error:
        if error.error.retryable:
            summary.errors += 1  # the next run sends it again with the same key
            return
        _refused(payment, str(error.error))
        payment.refresh_from_db()
    _count(payment, summary)


def _refused(payment: Payment, error: str) -> None:
    """The provider refused the try outright (4xx): it never started, so it counts as declined."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.final:
            return
        locked.status = PaymentStatus.CANCELED
        locked.cancellation_reason = "rejected"
        locked.last_error = error[:300]
        locked.settled_at = timezone.now()
        locked.save()
        autopay_charge_settled(locked, None)


def _follow(pk: int, summary: AutopaySummary) -> None:
    """A try still open: send it again if the provider never answered, else ask the provider."""
    charge = AutopayCharge.objects.select_related("autopay__card", "payment").get(pk=pk)
    payment = charge.payment
    if payment is None:  # pragma: no cover - a charging bill always has its try
        return
    if not payment.provider_payment_id:
        _submit(charge, payment, summary)
        return
    try:
        payment = payment_settle(payment=payment, source="autopay").payment
    except (providers.ProviderError, providers.RemoteNotFound, AmountMismatch) as error:
        log.warning("autopayment of bill %s: payment %s could not be checked: %s", pk, payment.pk, error)
        summary.errors += 1
        return
    _count(payment, summary)


def _count(payment: Payment, summary: AutopaySummary) -> None:
    if payment.status == PaymentStatus.SUCCEEDED:
        summary.paid += 1
    elif payment.status == PaymentStatus.CANCELED:
        status = AutopayCharge.objects.filter(payment=payment).values_list("status", flat=True).first()
        if status == ChargeStatus.FAILED:
            summary.given_up += 1
        else:
            summary.declined += 1
    else:
        summary.waiting += 1


def autopay_charge_settled(payment: Payment, remote: providers.RemotePayment | None) -> None:
    """A try of a bill ended (called in the transaction that settled it): the bill is paid, or
    tried again tomorrow, or given up; a card the bank no longer takes stops the autopayment. The
    e-mail goes once the transaction has committed."""
    charge = AutopayCharge.objects.select_for_update().filter(payment=payment).first()
    if charge is None or charge.status != ChargeStatus.CHARGING:
        return
    if payment.status == PaymentStatus.SUCCEEDED:
        charge.status = ChargeStatus.PAID
    elif payment.status == PaymentStatus.CANCELED:
        reason = payment.cancellation_reason
        charge.last_error = reason[:300]
        if reason in CARD_UNUSABLE or charge.attempts >= attempts_max():
            charge.status = ChargeStatus.FAILED
        else:
            charge.status = ChargeStatus.RETRY
            charge.charge_on += timedelta(days=1)
        if reason in CARD_UNUSABLE:
            _stop(charge.autopay, None, StopReason.CARD_UNUSABLE, timezone.now())
    else:
        return
    charge.save()
    pk = charge.pk
    transaction.on_commit(lambda: autopay_mail(pk))


# --- e-mail -------------------------------------------------------------------------------------------


def autopay_mail(pk: int) -> int:
    """E-mail what the household has not been told of the bill ``pk`` yet: its receipt once paid,
    or the latest declined try. Returns the number of mails sent."""
    charge = AutopayCharge.objects.get(pk=pk)
    if charge.status == ChargeStatus.PAID and charge.receipt_sent_at is None:
        return int(
            _send_once(pk, {"receipt_sent_at__isnull": True}, {"receipt_sent_at": timezone.now()}, "paid", {})
        )
    if (
        charge.status in (ChargeStatus.RETRY, ChargeStatus.FAILED)
        and charge.failures_reported < charge.attempts
    ):
        return int(
            _send_once(
                pk,
                {"failures_reported__lt": charge.attempts},
                {"failures_reported": charge.attempts},
                "failed",
                {"retry": charge.status == ChargeStatus.RETRY},
            )
        )
    return 0


def _send_once(
    pk: int, unsent: dict[str, Any], sent: dict[str, Any], kind: str, extra: dict[str, Any]
) -> bool:
    """Mark the mail ``kind`` of bill ``pk`` sent and send it, in one transaction: a failure to
    send leaves it unsent (tried again by the next run); a second run finds it sent."""
    charge = AutopayCharge.objects.select_related("account", "autopay__card", "autopay__user", "payment").get(
        pk=pk
    )
    user = charge.autopay.user
    if user is None or not user.email:
        return False
    try:
        with transaction.atomic():
            if not AutopayCharge.objects.filter(pk=pk, **unsent).update(**sent, updated_at=timezone.now()):
                return False
            for name, value in sent.items():
                setattr(charge, name, value)
            _message(charge, user, kind, extra).send()
    except Exception:  # the mail server: the next run tries again
        log.exception("could not e-mail the autopayment %s of bill %s to login %s", kind, pk, user.pk)
        return False
    return True


def _message(charge: AutopayCharge, user: User, kind: str, extra: dict[str, Any]) -> EmailMessage:
    language = user.language if user.language in ("ru", "en") else "ru"
    with translation.override(language):
        context = {
            "charge": charge,
            "account": charge.account,
            "card": charge.autopay.card.masked,
            "bill": money(charge.bill_amount),
            "amount": money(charge.amount) if charge.amount is not None else "",
            "utility": utility_get(),
            "attempts_left": max(0, attempts_max() - charge.attempts),
            **extra,
        }
        subject = " ".join(render_to_string(f"payments/email/autopay_{kind}_subject.txt", context).split())
        body = render_to_string(f"payments/email/autopay_{kind}.txt", context)
    message = EmailMessage(subject, body, None, [user.email])
    entry = charge.payment.entry if kind == "paid" and charge.payment is not None else None
    if entry is not None:
        from meterdesk.documents.render import receipt_filename, receipt_pdf

        message.attach(receipt_filename(entry), receipt_pdf(entry), "application/pdf")
    return message
