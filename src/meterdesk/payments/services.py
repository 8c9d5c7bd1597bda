"""Writes of payments through the provider (by card or SBP, for one account or several): start
one, settle one (the only way such a payment reaches the ledger), handle a provider's
notification, reconcile the open ones. Autopayment builds on these (``payments.autopay``).

The rules:

* A payment is started with an idempotence key. Our ``Payment`` is unique by it and the provider is
  sent the same key (``Idempotence-Key``), so a double click, a resubmitted form or a retried API
  call gives the one payment, never two.
* Each payment carries its fiscal receipt (54-FZ, ``payments.receipts``): one item per account.
* A payment of several accounts is one payment at the provider; it reaches the ledger as one entry
  per account with that account's amount, all in one transaction, or not at all.
* What a notification says is never trusted: its payment is fetched back from the provider (through
  the same interface) and only the provider's answer is acted on.
* A succeeded payment is posted to the ledger under a row lock on our ``Payment`` and only while
  that row is not settled yet, with the external id ``card:<provider>:<provider's id>`` (and
  ``:<account number>`` per account of a payment of several) that the ledger records once:
  however many notifications, returns and reconciliations arrive, in whatever order and
  concurrently, the ledger gets one entry per account.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from meterdesk.billing.services import DuplicatePayment, payment_post
from meterdesk.customers.models import Account, User
from meterdesk.payments import providers
from meterdesk.payments.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Confirmation,
    EventKind,
    Payment,
    PaymentChannel,
    PaymentEvent,
    PaymentMethod,
    PaymentPart,
    PaymentStatus,
)
from meterdesk.payments.receipts import receipt_build
from meterdesk.utility.selectors import utility_now

log = logging.getLogger(__name__)

KOPECK = Decimal("0.01")
#: The ``reason`` (source) of a payment's ledger entry: by card, by SBP.
SOURCE_CARD = "card"
SOURCE_SBP = "sbp"
KEY_NAMESPACE = uuid.UUID("6f1d3a52-8a54-4c1f-9a53-2f6a4f0c7d11")


def amount_limits() -> tuple[Decimal, Decimal]:
    """The smallest and the largest card payment (1 ₽; METERDESK_PAYMENT_MAX, 500 000 ₽)."""
    return Decimal("1.00"), Decimal(str(getattr(settings, "METERDESK_PAYMENT_MAX", "500000"))).quantize(
        KOPECK
    )


class PaymentStartError(Exception):
    code = "payment_error"


class AmountInvalid(PaymentStartError):
    code = "amount_invalid"


class KeyReused(PaymentStartError):
    """The idempotency key already started a payment of another account or amount."""

    code = "idempotency_conflict"

    def __init__(self, payment: Payment) -> None:
        super().__init__(f"the key already started payment {payment.pk}")
        self.payment = payment


class ProviderUnavailable(PaymentStartError):
    """The provider could not start the payment now. Nothing was charged; the same request (the
    same key) may be sent again."""

    code = "provider_unavailable"

    def __init__(self, payment: Payment, error: providers.ProviderError) -> None:
        super().__init__(str(error))
        self.payment = payment
        self.error = error


def idempotence_key_for(scope: str, key: str) -> str:
    """The key sent to the provider: derived from the client's key and whose it is, so that two
    customers' keys never meet."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{scope}\x00{key}"))


def payment_description(accounts: Sequence[Account]) -> str:
    if len(accounts) == 1:
        return f"Оплата электроэнергии по лицевому счёту {accounts[0].number}"
    return f"Оплата электроэнергии по лицевым счетам {', '.join(a.number for a in accounts)}"[:128]


def _event(payment: Payment | None, provider: str, kind: str, **fields: Any) -> PaymentEvent:
    return PaymentEvent.objects.create(payment=payment, provider=provider, kind=kind, **fields)


def _answer_event(
    payment: Payment, kind: str, remote: providers.RemotePayment, **fields: Any
) -> PaymentEvent:
    """The log of an answer of the payment's provider: the payment it is about and its status."""
    return _event(
        payment, payment.provider, kind, provider_payment_id=remote.id, status=remote.status, **fields
    )


@dataclass(frozen=True)
class Share:
    """One account a payment pays, and how much."""

    account: Account
    amount: Decimal


#: The most accounts one payment pays.
SHARES_MAX = 10


class OptionsInvalid(PaymentStartError):
    """A combination the payment cannot be made with (a QR code for a card, autopayment by SBP,
    autopayment without the customer's consent, the same account twice …)."""

    code = "payment_options_invalid"


def _shares_check(shares: Sequence[Share]) -> Decimal:
    """The total of ``shares``, each a whole number of kopecks of at least the smallest payment,
    with no account twice and the total within the limits. Raises AmountInvalid, OptionsInvalid."""
    low, high = amount_limits()
    if not shares or len(shares) > SHARES_MAX:
        raise OptionsInvalid(f"a payment pays 1 to {SHARES_MAX} accounts")
    if len({share.account.pk for share in shares}) != len(shares):
        raise OptionsInvalid("an account is paid twice in one payment")
    for share in shares:
        if share.amount != share.amount.quantize(KOPECK) or share.amount < low:
            raise AmountInvalid(f"each amount must be at least {low} ₽ in whole kopecks")
    total = sum((share.amount for share in shares), Decimal(0))
    if total > high:
        raise AmountInvalid(f"the amount must be {low}..{high} ₽ in whole kopecks")
    return total


def _options_check(method: str, confirmation: str, save_card: bool, consent_text: str) -> None:
    if method not in PaymentMethod.values:
        raise OptionsInvalid(f"unknown payment method {method!r}")
    if confirmation not in (Confirmation.REDIRECT, Confirmation.QR):
        raise OptionsInvalid(f"unknown confirmation {confirmation!r}")
    if confirmation == Confirmation.QR and method != PaymentMethod.SBP:
        raise OptionsInvalid("a QR code is for SBP payments only")
    if save_card and method != PaymentMethod.CARD:
        raise OptionsInvalid("autopayment is by a card only")
    if save_card and not consent_text.strip():
        raise OptionsInvalid("autopayment needs the customer's consent")


def receipt_of(shares: Sequence[Share], user: User | None, phone: str = "") -> dict[str, Any]:
    """The fiscal receipt (54-FZ) of a payment of ``shares``, sent to ``user``'s e-mail, else by
    SMS to ``phone``; empty without either (the provider then refuses it, if the shop sends
    receipts)."""
    items = [(share.account.number, share.amount) for share in shares]
    if user is not None and user.email:
        return receipt_build(email=user.email, items=items)
    if phone:
        return receipt_build(phone=phone, items=items)
    return {}


def payment_start(
    *,
    key_scope: str,
    key: str,
    return_url: Callable[[Payment], str],
    account: Account | None = None,
    amount: Decimal | None = None,
    shares: Sequence[Share] = (),
    user: User | None = None,
    channel: str = "web",
    method: str = PaymentMethod.CARD,
    confirmation: str = Confirmation.REDIRECT,
    save_card: bool = False,
    consent_text: str = "",
    receipt_phone: str = "",
) -> Payment:
    """Start a payment of ``amount`` to ``account`` — or of several accounts at once, ``shares``
    — by card or by SBP (or continue the one this key started).

    ``receipt_phone``: where the fiscal receipt goes when there is no login (a payment link).
    ``save_card``: the customer agreed (in the words ``consent_text``) to save the card and pay
    these accounts' bills automatically; both are recorded, and autopayment is turned on when the
    payment succeeds with the card saved. Returns our Payment with the provider's confirmation URL
    (or, for SBP by QR, the QR code's link). Raises AmountInvalid, OptionsInvalid, KeyReused,
    ProviderUnavailable (then nothing was charged, and the same call is safe to repeat).
    """
    if not shares:
        if account is None or amount is None:
            raise TypeError("payment_start needs an account and an amount, or shares")
        shares = (Share(account, amount),)
    total = _shares_check(shares)
    _options_check(method, confirmation, save_card, consent_text)
    idem = idempotence_key_for(key_scope, key)
    payment = Payment.objects.filter(idempotence_key=idem).first()
    if payment is None:
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    account=shares[0].account,
                    user=user,
                    channel=channel,
                    method=method,
                    confirmation_type=confirmation,
                    amount=total,
                    provider=providers.default_provider_name(),
                    idempotence_key=idem,
                    description=payment_description([share.account for share in shares]),
                    receipt=receipt_of(shares, user, receipt_phone),
                    save_card=save_card,
                    consent_at=timezone.now() if save_card else None,
                    consent_text=consent_text if save_card else "",
                )
                PaymentPart.objects.bulk_create(
                    PaymentPart(payment=payment, account=share.account, amount=share.amount, position=n)
                    for n, share in enumerate(shares)
                )
                payment.return_url = return_url(payment)
                payment.save(update_fields=["return_url"])
        except IntegrityError:  # the same key, concurrently (a double click)
            payment = Payment.objects.get(idempotence_key=idem)
    asked = [(share.account.pk, share.amount) for share in shares]
    if _parts_of(payment) != asked or (payment.method, payment.confirmation_type, payment.save_card) != (
        method,
        confirmation,
        save_card,
    ):
        raise KeyReused(payment)
    return payment_submit(payment)


def _parts_of(payment: Payment) -> list[tuple[int, Decimal]]:
    return [(part.account_id, part.amount) for part in payment.parts.all()]


def payment_submit(payment: Payment, *, method_id: str = "") -> Payment:
    """Start ``payment`` at its provider, unless it has been (its idempotence key makes this safe
    to repeat: the provider answers with the payment the key started). ``method_id``: pay with
    this saved card, nothing to confirm (an autopayment). Raises ProviderUnavailable."""
    if payment.provider_payment_id or payment.final:
        return payment
    provider = providers.provider_get(payment.provider)
    metadata = {"payment_id": str(payment.pk), "account": payment.account.number}
    parts = list(payment.parts.select_related("account"))
    if len(parts) > 1:
        metadata["accounts"] = ",".join(part.account.number for part in parts)
    try:
        remote = provider.create(
            providers.PaymentRequest(
                idempotence_key=payment.idempotence_key,
                amount=payment.amount,
                description=payment.description,
                metadata=metadata,
                return_url=payment.return_url,
                method="" if method_id else payment.method,
                confirmation=providers.NO_CONFIRMATION if method_id else payment.confirmation_type,
                save_method=payment.save_card,
                method_id=method_id,
                receipt=payment.receipt or None,
            )
        )
    except providers.ProviderError as error:
        log.warning("payment %s: the provider did not start it: %s", payment.pk, error)
        _event(payment, payment.provider, EventKind.CREATE_FAILED, detail=str(error)[:300])
        Payment.objects.filter(pk=payment.pk).update(last_error=str(error)[:300], updated_at=timezone.now())
        raise ProviderUnavailable(payment, error) from error
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if not locked.provider_payment_id:
            locked.provider_payment_id = remote.id
            locked.confirmation_url = remote.confirmation_url
            locked.qr_data = remote.qr_data
            locked.last_error = ""
            if locked.status == PaymentStatus.CREATED:
                locked.status = PaymentStatus.PENDING
            locked.save()
            _answer_event(locked, EventKind.CREATE, remote)
        payment = locked
    if remote.final:  # a provider that decided at once (a saved card)
        payment = payment_settle(payment=payment, remote=remote, source="create").payment
    return payment


@dataclass(frozen=True)
class Settled:
    payment: Payment
    recorded: bool  # this call posted the ledger entry
    changed: bool  # this call changed the payment's status


class AmountMismatch(Exception):
    """The provider reports another amount or currency than we asked for: not recorded."""


def payment_settle(
    *, payment: Payment, remote: providers.RemotePayment | None = None, source: str = ""
) -> Settled:
    """Bring our payment in line with the provider: fetch it (unless ``remote`` is the provider's
    own answer just fetched), and record a success in the ledger once.

    Raises providers.ProviderError (could not ask), providers.RemoteNotFound.
    """
    if payment.final or not payment.provider_payment_id:
        return Settled(payment, False, False)
    if remote is None:
        remote = providers.provider_get(payment.provider).fetch(payment.provider_payment_id)
    if remote.id != payment.provider_payment_id:
        raise providers.ProviderError("the provider answered about another payment")
    if remote.status == providers.SUCCEEDED and (
        remote.amount != payment.amount or remote.currency != payment.currency
    ):
        _answer_event(
            payment,
            EventKind.SETTLE,
            remote,
            outcome="amount_mismatch",
            detail=f"{source}: provider says {remote.amount} {remote.currency}",
        )
        log.error("card payment %s: the provider reports %s %s", payment.pk, remote.amount, remote.currency)
        raise AmountMismatch(f"payment {payment.pk}: provider reports {remote.amount} {remote.currency}")
    with transaction.atomic():
        locked = Payment.objects.select_for_update(of=("self",)).select_related("account").get(pk=payment.pk)
        if locked.status in FINAL_STATUSES:
            return Settled(locked, False, False)
        before = locked.status
        recorded = False
        if remote.status == providers.SUCCEEDED:
            recorded = _post_parts(locked, remote)
            locked.status = PaymentStatus.SUCCEEDED
            locked.card = remote.card[:40]
            locked.settled_at = timezone.now()
            if locked.save_card:
                _autopay_hooks().autopay_from_payment(locked, remote)
        elif remote.status == providers.CANCELED:
            locked.status = PaymentStatus.CANCELED
            locked.cancellation_reason = remote.cancellation_reason[:64]
            locked.settled_at = timezone.now()
        elif remote.status == providers.WAITING_FOR_CAPTURE:
            locked.status = PaymentStatus.WAITING_FOR_CAPTURE
        else:
            locked.status = PaymentStatus.PENDING
        changed = locked.status != before
        if changed:
            locked.save()
            _answer_event(
                locked,
                EventKind.SETTLE,
                remote,
                outcome="recorded" if recorded else locked.status,
                detail=source,
            )
            if locked.channel == PaymentChannel.AUTOPAY:
                _autopay_hooks().autopay_charge_settled(locked, remote)
        return Settled(locked, recorded, changed)


def _autopay_hooks() -> Any:
    """The autopayment's part of settling (``payments.autopay``, which builds on this module)."""
    from meterdesk.payments import autopay

    return autopay


def _post_parts(payment: Payment, remote: providers.RemotePayment) -> bool:
    """Post the succeeded ``payment`` to the ledger: one entry per account it pays, with that
    account's amount, all in the caller's transaction. True if this call posted them (not an
    earlier one)."""
    paid_at = remote.captured_at or timezone.now()
    parts = list(payment.parts.select_related("account")) or [
        PaymentPart(payment=payment, account=payment.account, amount=payment.amount)
    ]
    several = len(parts) > 1
    recorded = False
    for part in parts:
        external_id = f"{payment.external_id}:{part.account.number}" if several else payment.external_id
        try:
            entry = payment_post(
                account=part.account,
                amount=part.amount,
                paid_on=utility_now(None, paid_at).date(),
                external_id=external_id,
                source=SOURCE_SBP if payment.method == PaymentMethod.SBP else SOURCE_CARD,
                detail={
                    "payment_id": payment.pk,
                    "provider": payment.provider,
                    "provider_payment_id": remote.id,
                    "method": payment.method,
                    "card": remote.card,
                    "paid_at": paid_at.isoformat(),
                    **({"of_total": f"{payment.amount:.2f}", "accounts": len(parts)} if several else {}),
                    **({"autopay": True} if payment.channel == PaymentChannel.AUTOPAY else {}),
                },
            )
            recorded = True
        except DuplicatePayment as duplicate:  # recorded before (e.g. by an older row of ours)
            entry = duplicate.entry
        if part.pk is not None:
            part.entry = entry
            part.save(update_fields=["entry"])
        if payment.entry_id is None:
            payment.entry = entry
    return recorded


# --- notifications ------------------------------------------------------------------------------------

NOTIFICATION_EVENTS = {
    "payment.succeeded": providers.SUCCEEDED,
    "payment.canceled": providers.CANCELED,
    "payment.waiting_for_capture": providers.WAITING_FOR_CAPTURE,
}


@dataclass(frozen=True)
class NotificationResult:
    http_status: int  # 200: handled (even if ignored); 400: not a notification; 503: ask again later
    outcome: str
    event: PaymentEvent


def notification_handle(*, provider_name: str, body: Any) -> NotificationResult:
    """Handle a provider's notification ``{"type": "notification", "event": …, "object": {…}}``.

    The body is logged as it arrived and used for one thing only: the id of the payment to fetch
    back from the provider. The payment found at the provider (not the body) is then settled.
    """
    data: dict[str, Any] = body if isinstance(body, dict) else {"raw": str(body)[:2000]}
    raw_object = data.get("object")
    obj: dict[str, Any] = raw_object if isinstance(raw_object, dict) else {}
    raw_id, raw_event = obj.get("id"), data.get("event")
    pid = raw_id if isinstance(raw_id, str) else ""
    event_name = raw_event if isinstance(raw_event, str) else ""
    event = _event(
        None,
        provider_name,
        EventKind.NOTIFICATION,
        provider_payment_id=pid[:64],
        event=event_name[:64],
        status=str(obj.get("status") or "")[:20],
        body=data,
    )

    def done(
        status: int, outcome: str, payment: Payment | None = None, detail: str = ""
    ) -> NotificationResult:
        PaymentEvent.objects.filter(pk=event.pk).update(payment=payment, outcome=outcome, detail=detail[:300])
        event.outcome = outcome
        return NotificationResult(status, outcome, event)

    if data.get("type") != "notification" or event_name not in NOTIFICATION_EVENTS or not pid:
        return done(400, "malformed")
    try:
        remote = providers.provider_get(provider_name).fetch(pid)
    except providers.RemoteNotFound:
        log.warning("%s notification for payment %s, which the provider does not know", provider_name, pid)
        return done(200, "forged_unknown_at_provider")
    except providers.ProviderError as error:
        return done(503, "provider_unavailable", detail=str(error))
    payment = _payment_for(provider_name, remote)
    if payment is None:
        return done(200, "unknown_payment")
    disagrees = NOTIFICATION_EVENTS[event_name] != remote.status
    try:
        settled = payment_settle(payment=payment, remote=remote, source=f"notification {event_name}")
    except AmountMismatch as error:
        return done(200, "amount_mismatch", payment, str(error))
    if disagrees:
        # A forged (or stale) notification: the provider says otherwise; we did what it says.
        return done(200, "disagrees_with_provider", settled.payment, f"provider says {remote.status}")
    if settled.recorded:
        return done(200, "recorded", settled.payment)
    return done(200, "changed" if settled.changed else "already_known", settled.payment)


def _payment_for(provider_name: str, remote: providers.RemotePayment) -> Payment | None:
    """Our payment of the provider's one: by its id, or — if the provider answered the create but
    we never saw the answer — by our id in its metadata, when that payment has no provider id yet."""
    payment = Payment.objects.filter(provider=provider_name, provider_payment_id=remote.id).first()
    if payment is not None:
        return payment
    ours = remote.metadata.get("payment_id", "")
    if not ours.isdigit():
        return None
    with transaction.atomic():
        candidate = Payment.objects.select_for_update().filter(pk=int(ours), provider=provider_name).first()
        if candidate is None or candidate.provider_payment_id:
            return None
        if candidate.amount != remote.amount:
            return None
        candidate.provider_payment_id = remote.id
        candidate.confirmation_url = remote.confirmation_url
        if candidate.status == PaymentStatus.CREATED:
            candidate.status = PaymentStatus.PENDING
        candidate.save()
    return candidate


# --- reconcile ----------------------------------------------------------------------------------------


@dataclass
class ReconcileSummary:
    checked: int = 0
    recorded: int = 0
    paid: int = 0
    cancelled: int = 0
    waiting: int = 0
    not_started: int = 0
    errors: int = 0


#: A payment the provider never answered is given up after this long (the customer never saw the
#: provider's page, so nothing can have been paid).
NOT_STARTED_TTL = timedelta(hours=24)


def payments_reconcile(
    *, older_than: timedelta | None = None, now: datetime | None = None
) -> ReconcileSummary:
    """Settle every open payment (optionally only those created more than ``older_than`` ago) by
    asking its provider. Safe to run any number of times, beside the notifications."""
    now = now or timezone.now()
    summary = ReconcileSummary()
    open_payments = Payment.objects.filter(status__in=OPEN_STATUSES).order_by("pk")
    if older_than is not None:
        open_payments = open_payments.filter(created_at__lte=now - older_than)
    for payment in open_payments.iterator(chunk_size=500):
        summary.checked += 1
        if not payment.provider_payment_id:
            if payment.created_at <= now - NOT_STARTED_TTL:
                Payment.objects.filter(pk=payment.pk, provider_payment_id__isnull=True).update(
                    status=PaymentStatus.CANCELED, cancellation_reason="not_started", settled_at=now
                )
                summary.cancelled += 1
            else:
                summary.not_started += 1
            continue
        try:
            settled = payment_settle(payment=payment, source="reconcile")
        except (providers.ProviderError, providers.RemoteNotFound, AmountMismatch) as error:
            log.warning("reconcile: card payment %s: %s", payment.pk, error)
            summary.errors += 1
            continue
        summary.recorded += int(settled.recorded)
        status = settled.payment.status
        if status == PaymentStatus.SUCCEEDED:
            summary.paid += 1
        elif status == PaymentStatus.CANCELED:
            summary.cancelled += 1
        else:
            summary.waiting += 1
    return summary
