"""Payments of an account: every payment received (with its receipt); payments by card or SBP —
start one (idempotent with ``Idempotency-Key``), for one account or several, and follow its
status; autopayment — its state, turning it on with a saved card, stopping it.

A payment is started here and confirmed by the customer on the provider's page
(``confirmation_url``) or, by SBP, in the bank's app from the QR code's link (``qr_data``); it is
recorded in the ledger when the provider confirms it (see docs/payments.md). Every account is
looked up among the login's accounts: anyone else's is 404.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db import IntegrityError
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import StringConstraints

from meterdesk.api import present
from meterdesk.api.auth import request_user
from meterdesk.api.errors import ApiError, not_found
from meterdesk.api.idempotency import (
    json_response,
    record_get,
    record_store,
    replay,
    request_digest,
    scope_of,
)
from meterdesk.api.routers import NUMBER, account_of, errors, idempotency_key_header, paged
from meterdesk.api.schemas import ACCOUNT_NUMBER_PATTERN, MAX_ID, Money, PageMeta, PageQuery
from meterdesk.payments.autopay import (
    autopay_of,
    autopay_off,
    autopay_on,
    consent_words,
    saved_card_forget,
    saved_cards_of,
)
from meterdesk.payments.messages import (
    amount_text,
    api_unavailable_text,
    consent_required_text,
    key_reused_text,
    options_text,
    refused_text,
    state_words,
)
from meterdesk.payments.models import Autopay, AutopayCharge, Payment, PaymentChannel, SavedCard
from meterdesk.payments.providers import ProviderError, RemoteNotFound
from meterdesk.payments.selectors import (
    PaymentRow,
    customer_state,
    payment_for_user,
    payment_parts,
    payment_rows,
)
from meterdesk.payments.services import (
    AmountInvalid,
    AmountMismatch,
    KeyReused,
    OptionsInvalid,
    ProviderUnavailable,
    Share,
    amount_limits,
    payment_settle,
    payment_start,
)

log = logging.getLogger(__name__)

router = Router(tags=["payments"])

PAYMENT_ID = Path(..., ge=1, le=MAX_ID, description="the card payment's id")
IDEMPOTENCY_KEY = idempotency_key_header(
    "any unique string per payment (a UUID): a retry with the same key and body gives the same "
    "payment (never a second one); the same key with another body is idempotency_conflict (409)"
)


class ReceivedPaymentOut(Schema):
    id: int = Field(description="the ledger entry's id")
    posted_on: date
    period: str = Field(description="the billing month it counts in, YYYY-MM")
    amount: Money
    source: str
    channel: str = Field(description="how it arrived, in words (by card, bank registry, imported, …)")
    receipt_url: str = Field(description="the receipt, PDF")


class ReceivedPaymentPage(PageMeta):
    items: list[ReceivedPaymentOut]


AmountText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?$")]


class AlsoIn(Schema):
    account_number: Annotated[str, StringConstraints(pattern=ACCOUNT_NUMBER_PATTERN)]
    amount: AmountText = Field(description="roubles with kopecks, at least 1.00", examples=["800.00"])


class CardPaymentIn(Schema):
    amount: AmountText = Field(description="roubles with kopecks, at least 1.00", examples=["1500.50"])
    return_url: (
        Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s\x00]+$")] | None
    ) = Field(
        None, description="where the provider sends the customer back (default: the site's status page)"
    )
    method: Literal["bank_card", "sbp"] = Field("bank_card", description="by card, or by SBP")
    confirmation: Literal["redirect", "qr"] = Field(
        "redirect",
        description="redirect: open confirmation_url; qr (SBP only): show qr_data as a QR code, or open it on the phone",
    )
    also: list[AlsoIn] = Field(
        default_factory=list,
        max_length=9,
        description="other accounts of the login paid in the same payment, each with its amount",
    )
    autopay_consent: bool = Field(
        False,
        description="the customer agreed to the autopayment_consent text of GET /accounts/{number}/autopay: "
        "the card is saved and the bills of the accounts paid are paid automatically (by card only)",
    )


class PartOut(Schema):
    account_number: str
    amount: Money
    receipt_url: str | None = Field(description="this account's receipt, once paid")


class CardPaymentOut(Schema):
    id: int
    account_number: str
    amount: Money
    method: str = Field(description="bank_card or sbp")
    status: str = Field(description="created, pending, waiting_for_capture, succeeded, canceled")
    state: str = Field(description="paid, waiting, cancelled, not_started: what to tell the customer")
    state_text: str
    confirmation_url: str | None = Field(description="send the customer here to confirm the payment")
    qr_data: str | None = Field(description="SBP by QR: the link to show as a QR code (or open on the phone)")
    cancellation_reason: str
    created_at: datetime
    settled_at: datetime | None
    receipt_url: str | None = Field(description="the receipt, once paid (of the first account)")
    parts: list[PartOut] = Field(description="every account the payment pays, with its amount")


def _absolute(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url)


def _receipt_url(request: HttpRequest, number: str, entry_id: int) -> str:
    """The receipt through the API (works with the token), else the site's download (a session)."""
    try:
        url = reverse("api-v1:receipt_download", kwargs={"number": number, "entry_id": entry_id})
    except NoReverseMatch:
        url = reverse("documents:receipt", kwargs={"entry_id": entry_id})
    return _absolute(request, url)


def card_payment_out(request: HttpRequest, payment: Payment) -> dict[str, Any]:
    state = customer_state(payment)
    data = {
        "id": payment.pk,
        "account_number": payment.account.number,
        "amount": present.money(payment.amount),
        "method": payment.method,
        "status": payment.status,
        "state": state,
        "state_text": state_words(state),
        "confirmation_url": (
            _absolute(request, payment.confirmation_url)
            if payment.confirmation_url and not payment.final
            else None
        ),
        "qr_data": _absolute(request, payment.qr_data) if payment.qr_data and not payment.final else None,
        "cancellation_reason": payment.cancellation_reason,
        "created_at": present.local(payment.created_at),
        "settled_at": present.local(payment.settled_at) if payment.settled_at else None,
        "receipt_url": (
            _receipt_url(request, payment.account.number, payment.entry_id) if payment.entry_id else None
        ),
        "parts": [
            {
                "account_number": part.account.number,
                "amount": present.money(part.amount),
                "receipt_url": _receipt_url(request, part.account.number, part.entry_id)
                if part.entry_id
                else None,
            }
            for part in payment_parts(payment)
        ],
    }
    return CardPaymentOut.model_validate(data).model_dump(mode="json")


@router.get(
    "/accounts/{number}/payments",
    response={200: ReceivedPaymentPage, **errors(401, 404, 422, 429)},
    summary="Payments received, newest first (every channel), each with its receipt",
)
def received_payment_list(request: HttpRequest, params: Query[PageQuery], number: str = NUMBER) -> Any:
    account = account_of(request, number)

    def received(row: PaymentRow) -> dict[str, Any]:
        return {
            **present.payment_out(row.entry),
            "channel": row.channel,
            "receipt_url": _receipt_url(request, account.number, row.entry.pk),
        }

    return paged(payment_rows(account), params, received)


@router.post(
    "/accounts/{number}/payments",
    response={201: CardPaymentOut, **errors(400, 401, 403, 404, 409, 422, 429, 502, 503)},
    summary="Start a payment by card or SBP",
    description=(
        "Answers 201 with the payment and its `confirmation_url`: open it for the customer to confirm "
        "the payment (or, by SBP with confirmation qr, show `qr_data` as a QR code, or open it on the "
        "phone). The payment is counted when the provider confirms it; follow it with GET "
        "/payments/{id}. `also` pays other accounts of the login in the same payment. Errors: "
        "amount_invalid, payment_options_invalid, provider_unavailable (503: nothing charged, send the "
        "same request again), provider_refused (502), idempotency_conflict. With `Idempotency-Key`, a "
        "retry gives the same payment (header Idempotent-Replayed: true)."
    ),
)
def card_payment_create(
    request: HttpRequest,
    payload: CardPaymentIn,
    number: str = NUMBER,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:
    user = request_user(request)
    account = account_of(request, number)
    scope = scope_of(request)
    digest = request_digest(f"accounts/{number}/payments", payload.model_dump(mode="json"))
    if idempotency_key is not None:
        record = record_get(scope, idempotency_key)
        if record is not None:
            return replay(record, digest)

    def return_url(payment: Payment) -> str:
        return payload.return_url or _absolute(request, reverse("payments:status", args=[payment.pk]))

    shares = [Share(account, Decimal(payload.amount))]
    shares.extend(
        Share(account_of(request, also.account_number), Decimal(also.amount)) for also in payload.also
    )
    numbers = [share.account.number for share in shares]
    try:
        payment = payment_start(
            shares=shares,
            key_scope=f"api:{scope}",
            key=idempotency_key or str(uuid.uuid4()),
            return_url=return_url,
            user=user,
            channel=PaymentChannel.API,
            method=payload.method,
            confirmation=payload.confirmation,
            save_card=payload.autopay_consent,
            consent_text=consent_words(numbers) if payload.autopay_consent else "",
        )
    except KeyReused as error:
        raise ApiError(409, "idempotency_conflict", key_reused_text(), {"key": idempotency_key}) from error
    except OptionsInvalid as error:
        raise ApiError(422, error.code, options_text(), {"reason": str(error)}) from error
    except ProviderUnavailable as error:
        if not error.error.retryable:
            raise ApiError(
                502, "provider_refused", refused_text(), {"payment_id": error.payment.pk}
            ) from error
        raise ApiError(
            503,
            "provider_unavailable",
            api_unavailable_text(),
            {"payment_id": error.payment.pk, "retry": True},
            {"Retry-After": "60"},
        ) from error
    except AmountInvalid as error:  # the service's rule: 1 ₽ .. the maximum, whole kopecks
        low, high = amount_limits()
        raise ApiError(
            422, "amount_invalid", amount_text(low, high), {"min": str(low), "max": str(high)}
        ) from error
    body = card_payment_out(request, payment)
    if idempotency_key is not None:
        try:
            record_store(
                scope=scope, key=idempotency_key, user_id=user.pk, digest=digest, status=201, body=body
            )
        except IntegrityError:  # a concurrent duplicate stored its answer first: the same payment
            record = record_get(scope, idempotency_key)
            if record is None:
                raise
            return replay(record, digest)
    return json_response(body, 201)


@router.get(
    "/payments/{payment_id}",
    response={200: CardPaymentOut, **errors(401, 404, 422, 429)},
    summary="A card payment's status (checked with the provider while it is open)",
)
def card_payment_detail(request: HttpRequest, payment_id: int = PAYMENT_ID) -> Any:
    try:
        payment = payment_for_user(request_user(request), payment_id)
    except Payment.DoesNotExist as exc:
        raise not_found() from exc
    if not payment.final and payment.provider_payment_id:
        try:
            payment = payment_settle(payment=payment, source="api status").payment
        except (ProviderError, RemoteNotFound, AmountMismatch) as error:  # settled later
            log.warning("card payment %s: could not check it: %s", payment.pk, error)
    return card_payment_out(request, payment)


# --- autopayment -----------------------------------------------------------------------------------


class SavedCardOut(Schema):
    id: int
    card: str = Field(description="the scheme and the last 4 digits, e.g. Visa *4242")


class AutopayChargeOut(Schema):
    period: str = Field(description="the bill's month, YYYY-MM")
    charge_on: date
    amount: Money
    status: str = Field(description="scheduled, charging, retry, paid, failed, skipped, cancelled")
    status_text: str


class AutopayOut(Schema):
    active: bool
    card: SavedCardOut | None = Field(description="the card the bills are paid from")
    since: datetime | None = Field(description="when the customer agreed")
    autopayment_consent: str = Field(description="the words the customer agrees to, to show before consent")
    saved_cards: list[SavedCardOut] = Field(description="the login's saved cards it can be turned on with")
    charges: list[AutopayChargeOut] = Field(description="the latest bills paid (or to be paid) automatically")


class AutopayIn(Schema):
    card_id: int = Field(..., ge=1, le=MAX_ID, description="one of saved_cards")
    consent: bool = Field(description="true: the customer agreed to autopayment_consent")


def _card_out(card: SavedCard) -> dict[str, Any]:
    return {"id": card.pk, "card": card.masked}


def _autopay_out(request: HttpRequest, number: str) -> dict[str, Any]:
    account = account_of(request, number)
    current: Autopay | None = autopay_of(account)
    charges = AutopayCharge.objects.filter(account=account).order_by("-period")[:12]
    data = {
        "active": current is not None,
        "card": _card_out(current.card) if current is not None else None,
        "since": present.local(current.consent_at) if current is not None else None,
        "autopayment_consent": consent_words([account.number]),
        "saved_cards": [_card_out(card) for card in saved_cards_of(request_user(request))],
        "charges": [
            {
                "period": f"{charge.period:%Y-%m}",
                "charge_on": charge.charge_on,
                "amount": present.money(charge.amount if charge.amount is not None else charge.bill_amount),
                "status": charge.status,
                "status_text": charge.get_status_display(),
            }
            for charge in charges
        ],
    }
    return AutopayOut.model_validate(data).model_dump(mode="json")


@router.get(
    "/accounts/{number}/autopay",
    response={200: AutopayOut, **errors(401, 404, 422, 429)},
    summary="Autopayment of the account: on or off, the card, the bills it paid",
)
def autopay_detail(request: HttpRequest, number: str = NUMBER) -> Any:
    return _autopay_out(request, number)


@router.put(
    "/accounts/{number}/autopay",
    response={200: AutopayOut, **errors(400, 401, 403, 404, 422, 429)},
    summary="Turn autopayment on with a saved card (the customer's consent required)",
    description=(
        "Show the customer `autopayment_consent` of GET first; send `consent: true` only when they "
        "agreed (recorded with the time). A card is saved by a payment with `autopay_consent`."
    ),
)
def autopay_put(request: HttpRequest, payload: AutopayIn, number: str = NUMBER) -> Any:
    account = account_of(request, number)
    user = request_user(request)
    if not payload.consent:
        raise ApiError(422, "consent_required", consent_required_text())
    card = next((c for c in saved_cards_of(user) if c.pk == payload.card_id), None)
    if card is None:
        raise not_found()
    autopay_on(
        account=account,
        user=user,
        card=card,
        consent_text=consent_words([account.number]),
        channel=PaymentChannel.API,
    )
    return _autopay_out(request, number)


@router.delete(
    "/accounts/{number}/autopay",
    response={204: None, **errors(401, 403, 404, 422, 429)},
    summary="Stop autopayment (bills not yet at the bank are not charged)",
)
def autopay_delete(request: HttpRequest, number: str = NUMBER) -> Any:
    autopay_off(account=account_of(request, number), user=request_user(request))
    return Status(204, None)


@router.delete(
    "/saved-cards/{card_id}",
    response={204: None, **errors(401, 404, 422, 429)},
    summary="Remove a saved card: it is never charged again, and autopayment from it stops",
)
def saved_card_delete(
    request: HttpRequest, card_id: int = Path(..., ge=1, le=MAX_ID, description="a saved card's id")
) -> Any:
    try:
        saved_card_forget(user=request_user(request), card_id=card_id)
    except SavedCard.DoesNotExist:
        raise not_found() from None
    return Status(204, None)
