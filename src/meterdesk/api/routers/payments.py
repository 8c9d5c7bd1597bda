"""Payments of an account: every payment received (with its receipt), and card payments — start
one (idempotent with ``Idempotency-Key``) and follow its status.

A card payment is started here and confirmed by the customer on the provider's page
(``confirmation_url``); it is recorded in the ledger when the provider confirms it (see
docs/payments.md). Every account is looked up among the login's accounts: anyone else's is 404.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.db import IntegrityError
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from ninja import Field, Path, Query, Router, Schema
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
from meterdesk.api.schemas import MAX_ID, Money, PageMeta, PageQuery
from meterdesk.payments.messages import amount_text, api_unavailable_text, key_reused_text, state_words
from meterdesk.payments.models import Payment, PaymentChannel
from meterdesk.payments.providers import ProviderError, RemoteNotFound
from meterdesk.payments.selectors import PaymentRow, customer_state, payment_for_user, payment_rows
from meterdesk.payments.services import (
    AmountInvalid,
    AmountMismatch,
    KeyReused,
    ProviderUnavailable,
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


class CardPaymentIn(Schema):
    amount: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?$")] = Field(
        description="roubles with kopecks, at least 1.00", examples=["1500.50"]
    )
    return_url: (
        Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s\x00]+$")] | None
    ) = Field(
        None, description="where the provider sends the customer back (default: the site's status page)"
    )


class CardPaymentOut(Schema):
    id: int
    account_number: str
    amount: Money
    status: str = Field(description="created, pending, waiting_for_capture, succeeded, canceled")
    state: str = Field(description="paid, waiting, cancelled, not_started: what to tell the customer")
    state_text: str
    confirmation_url: str | None = Field(description="send the customer here to confirm the payment")
    cancellation_reason: str
    created_at: datetime
    settled_at: datetime | None
    receipt_url: str | None = Field(description="the receipt, once paid")


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
        "status": payment.status,
        "state": state,
        "state_text": state_words(state),
        "confirmation_url": (
            _absolute(request, payment.confirmation_url)
            if payment.confirmation_url and not payment.final
            else None
        ),
        "cancellation_reason": payment.cancellation_reason,
        "created_at": present.local(payment.created_at),
        "settled_at": present.local(payment.settled_at) if payment.settled_at else None,
        "receipt_url": (
            _receipt_url(request, payment.account.number, payment.entry_id) if payment.entry_id else None
        ),
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
    response={201: CardPaymentOut, **errors(400, 401, 403, 404, 409, 422, 429, 503)},
    summary="Start a card payment",
    description=(
        "Answers 201 with the payment and its `confirmation_url`: open it for the customer to confirm "
        "the payment with the card. The payment is counted when the provider confirms it; follow it "
        "with GET /payments/{id}. Errors: amount_invalid, provider_unavailable (503: nothing charged, "
        "send the same request again), idempotency_conflict. With `Idempotency-Key`, a retry gives "
        "the same payment (header Idempotent-Replayed: true)."
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

    try:
        payment = payment_start(
            account=account,
            amount=Decimal(payload.amount),
            key_scope=f"api:{scope}",
            key=idempotency_key or str(uuid.uuid4()),
            return_url=return_url,
            user=user,
            channel=PaymentChannel.API,
        )
    except KeyReused as error:
        raise ApiError(409, "idempotency_conflict", key_reused_text(), {"key": idempotency_key}) from error
    except ProviderUnavailable as error:
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
