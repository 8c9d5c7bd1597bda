"""The payment provider (cards and SBP): a small interface, chosen by METERDESK_PAYMENT_PROVIDER.

Two implementations speak the same language (YooKassa API v3's payment object):

* ``yookassa`` — the real one, over HTTPS with httpx (``POST /payments``, ``GET /payments/{id}``);
* ``sandbox`` — built into meterdesk for demos and tests: its payments live in our own table
  (``SandboxPayment``) and its test page is under /payments/sandbox/….

Everything that decides about money asks the provider (``fetch``) and acts on its answer; the body
of a notification is never trusted (see services.notification_handle).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

# The provider's statuses of a payment (YooKassa's words).
PENDING = "pending"
WAITING_FOR_CAPTURE = "waiting_for_capture"
SUCCEEDED = "succeeded"
CANCELED = "canceled"
REMOTE_STATUSES = frozenset({PENDING, WAITING_FOR_CAPTURE, SUCCEEDED, CANCELED})
# Ways to pay and to confirm (YooKassa's words).
BANK_CARD = "bank_card"
SBP = "sbp"
REDIRECT = "redirect"
QR = "qr"
NO_CONFIRMATION = "none"


class ProviderError(Exception):
    """The provider could not be asked or did not answer usefully (timeout, 5xx, refused
    connection, an answer we cannot read). Nothing is known to have changed; asking again with the
    same idempotence key is safe."""

    retryable = True


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx: bad credentials, invalid request): retrying the
    same request will not help."""

    retryable = False


class RemoteNotFound(Exception):
    """The provider does not know a payment with this id."""


@dataclass(frozen=True)
class RemotePayment:
    """A payment as the provider reports it."""

    id: str
    status: str
    amount: Decimal
    currency: str
    paid: bool
    metadata: dict[str, str] = field(default_factory=dict)
    confirmation_url: str = ""
    created_at: datetime | None = None
    captured_at: datetime | None = None
    cancellation_reason: str = ""
    card: str = ""  # e.g. "Visa *4242"
    test: bool = False
    method_type: str = ""  # bank_card, sbp
    # A card saved for later payments (save_payment_method): its id, and what it is.
    method_id: str = ""
    method_saved: bool = False
    card_type: str = ""
    card_last4: str = ""
    # SBP by QR: the link to encode in the QR code (a phone opens it in the bank's app).
    qr_data: str = ""

    @property
    def final(self) -> bool:
        return self.status in (SUCCEEDED, CANCELED)


def remote_from_json(data: Any) -> RemotePayment:
    """A payment object of the YooKassa API (the sandbox writes the same shape)."""
    if not isinstance(data, dict):
        raise ProviderError("the provider's answer is not a payment object")
    try:
        pid = data["id"]
        status = data["status"]
        amount = Decimal(str(data["amount"]["value"]))
        currency = str(data["amount"]["currency"])
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ProviderError(f"the provider's payment object lacks {exc}") from exc
    if not isinstance(pid, str) or not pid or status not in REMOTE_STATUSES:
        raise ProviderError("the provider's payment object has no valid id or status")
    confirmation = data.get("confirmation") or {}
    metadata = data.get("metadata") or {}
    cancellation = data.get("cancellation_details") or {}
    method = data.get("payment_method") or {}
    if not isinstance(method, dict):
        method = {}
    card = method.get("card") or {}
    if not isinstance(card, dict):
        card = {}
    card_text = ""
    if card.get("last4"):
        card_text = f"{card.get('card_type') or 'Card'} *{card['last4']}"
    return RemotePayment(
        id=pid,
        status=status,
        amount=amount,
        currency=currency,
        paid=bool(data.get("paid")),
        metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
        confirmation_url=_text(confirmation, "confirmation_url"),
        created_at=_moment(data.get("created_at")),
        captured_at=_moment(data.get("captured_at")),
        cancellation_reason=str(cancellation.get("reason") or "") if isinstance(cancellation, dict) else "",
        card=card_text,
        test=bool(data.get("test")),
        method_type=_text(method, "type"),
        method_id=_text(method, "id"),
        method_saved=method.get("saved") is True,
        card_type=_text(card, "card_type")[:20],
        card_last4=_text(card, "last4")[:4],
        qr_data=_text(confirmation, "confirmation_data") if _text(confirmation, "type") == QR else "",
    )


def _text(data: Any, key: str) -> str:
    """A string field of a part of the provider's answer ("" when it is missing or not text)."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = parse_datetime(value.replace("Z", "+00:00"))
    if moment is None or timezone.is_naive(moment):
        return None
    return moment


@dataclass(frozen=True)
class PaymentRequest:
    """A payment to start at the provider: ``amount`` in roubles, to be confirmed by the customer
    at the provider and then sent back to ``return_url``. The same ``idempotence_key`` gives the
    same payment.

    ``method``: ``bank_card`` or ``sbp`` (empty: the customer chooses on the provider's page);
    ``confirmation``: ``redirect`` (the provider's page) or ``qr`` (SBP: a QR code we show);
    ``save_method``: keep the card for later payments; ``method_id``: pay with a card saved
    before, with no confirmation (an autopayment); ``receipt``: the fiscal receipt (54-FZ)."""

    idempotence_key: str
    amount: Decimal
    description: str
    metadata: dict[str, str]
    return_url: str
    method: str = ""
    confirmation: str = REDIRECT
    save_method: bool = False
    method_id: str = ""
    receipt: dict[str, Any] | None = None


class PaymentProvider(Protocol):
    """What meterdesk needs from a card payment provider."""

    name: str

    def create(self, request: PaymentRequest) -> RemotePayment:
        """Start a payment (one-stage: captured as soon as the bank confirms). The same key
        gives the same payment. Raises ProviderError."""
        ...

    def fetch(self, payment_id: str) -> RemotePayment:
        """The payment as the provider knows it now. Raises RemoteNotFound, ProviderError."""
        ...


# --- YooKassa API v3 --------------------------------------------------------------------------------


class YooKassaProvider:
    """YooKassa (ЮKassa) API v3 over httpx: Basic auth with the shop id and the secret key."""

    name = "yookassa"

    def __init__(
        self,
        *,
        shop_id: str,
        secret_key: str,
        base_url: str = "https://api.yookassa.ru/v3",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.shop_id = shop_id
        self.secret_key = secret_key
        self.base_url = base_url.rstrip("/")
        # Connecting should be quick; the provider may take a while to answer a create.
        self.timeout = httpx.Timeout(timeout, connect=min(5.0, timeout))
        self.transport = transport

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(self.shop_id, self.secret_key),
            timeout=self.timeout,
            transport=self.transport,
            headers={"Accept": "application/json", "User-Agent": "meterdesk"},
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self.shop_id or not self.secret_key:
            raise ProviderRejected("YooKassa is not configured (shop id and secret key)")
        try:
            with self._client() as client:
                return client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"YooKassa did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:  # refused connection, DNS, TLS, protocol errors
            raise ProviderError(f"YooKassa could not be reached ({type(exc).__name__}: {exc})") from exc

    @staticmethod
    def _payment(response: httpx.Response) -> RemotePayment:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProviderError(f"YooKassa answered {response.status_code} with no JSON") from exc
        return remote_from_json(data)

    @staticmethod
    def _error(response: httpx.Response) -> ProviderError:
        try:
            body = response.json()
            text = f"{body.get('code', '')}: {body.get('description', '')}"
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            text = response.text[:200]
        message = f"YooKassa answered {response.status_code} ({text})"
        # 202: still processing the same idempotence key; 429 and 5xx: try again later.
        if response.status_code in (202, 429) or response.status_code >= 500:
            return ProviderError(message)
        return ProviderRejected(message)

    def create(self, request: PaymentRequest) -> RemotePayment:
        key = request.idempotence_key
        response = self._send(
            "POST", "/payments", json=yookassa_body(request), headers={"Idempotence-Key": key}
        )
        if response.status_code != 200:
            raise self._error(response)
        payment = self._payment(response)
        if payment.status == PENDING and not request.method_id:
            if request.confirmation == QR and not payment.qr_data:
                raise ProviderError("YooKassa gave no QR code data")
            if request.confirmation != QR and not payment.confirmation_url:
                raise ProviderError("YooKassa gave no confirmation URL")
        return payment

    def fetch(self, payment_id: str) -> RemotePayment:
        if not payment_id or "/" in payment_id or len(payment_id) > 64:
            raise RemoteNotFound(payment_id)
        response = self._send("GET", f"/payments/{payment_id}")
        if response.status_code == 404:
            raise RemoteNotFound(payment_id)
        if response.status_code != 200:
            raise self._error(response)
        payment = self._payment(response)
        if payment.id != payment_id:
            raise ProviderError("YooKassa answered with another payment")
        return payment


def yookassa_body(request: PaymentRequest) -> dict[str, Any]:
    """The body of ``POST /payments`` for ``request``."""
    body: dict[str, Any] = {
        "amount": {"value": f"{request.amount:.2f}", "currency": "RUB"},
        "capture": True,
    }
    if request.method_id:
        # A saved card: charged at once, nothing for the customer to confirm.
        body["payment_method_id"] = request.method_id
    else:
        if request.method:
            body["payment_method_data"] = {"type": request.method}
        if request.confirmation == QR:
            body["confirmation"] = {"type": QR}
        else:
            body["confirmation"] = {"type": REDIRECT, "return_url": request.return_url}
        if request.save_method:
            body["save_payment_method"] = True
    body["description"] = request.description[:128]
    body["metadata"] = request.metadata
    if request.receipt is not None:
        body["receipt"] = request.receipt
    return body


# --- the sandbox ------------------------------------------------------------------------------------


class SandboxProvider:
    """A provider inside meterdesk for demos and tests. Its test page decides by the card number
    (see ``sandbox.py``); it then notifies meterdesk with the same payload as YooKassa."""

    name = "sandbox"

    def create(self, request: PaymentRequest) -> RemotePayment:
        from meterdesk.payments.models import SandboxPayment
        from meterdesk.payments.receipts import receipt_problems

        key = request.idempotence_key
        asked = json.loads(json.dumps(yookassa_body(request)))
        problems = receipt_problems(request.receipt, request.amount)
        if problems:
            # As YooKassa answers a shop that sends receipts: 400 invalid_request, parameter receipt.
            raise ProviderRejected(f"sandbox answered 400 (invalid_request: {problems[0]})")
        saved = None
        if request.method_id:
            saved = SandboxPayment.objects.filter(method_id=request.method_id, status=SUCCEEDED).first()
            if saved is None:
                raise ProviderRejected("sandbox answered 400 (invalid_request: payment_method_id unknown)")
        existing = SandboxPayment.objects.filter(idempotence_key=key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    existing = SandboxPayment.objects.create(
                        id=f"sbx-{secrets.token_hex(12)}",
                        idempotence_key=key,
                        amount=request.amount,
                        description=request.description[:128],
                        metadata=request.metadata,
                        return_url=request.return_url,
                        request=asked,
                        method=BANK_CARD if saved is not None else request.method,
                        confirmation_type=NO_CONFIRMATION if saved is not None else request.confirmation,
                        receipt=request.receipt or {},
                        save_method=request.save_method,
                    )
                    if saved is not None:
                        sandbox_charge_saved(existing, saved)
            except IntegrityError:  # the same key, concurrently
                existing = SandboxPayment.objects.get(idempotence_key=key)
        if existing.request != asked:
            raise ProviderRejected("the idempotence key was used for another request")
        return remote_from_json(sandbox_json(existing))

    def fetch(self, payment_id: str) -> RemotePayment:
        from meterdesk.payments.models import SandboxPayment

        payment = SandboxPayment.objects.filter(pk=payment_id).first()
        if payment is None:
            raise RemoteNotFound(payment_id)
        sandbox_bank_answer(payment)
        return remote_from_json(sandbox_json(payment))


def sandbox_bank_answer(payment: Any) -> None:
    """A payment with the "late bank" test card succeeds once its bank's answer is due."""
    if (
        payment.status == PENDING
        and payment.bank_due_at is not None
        and timezone.now() >= payment.bank_due_at
    ):
        from meterdesk.payments.models import SandboxPayment

        SandboxPayment.objects.filter(pk=payment.pk, status=PENDING).update(
            status=SUCCEEDED, paid=True, captured_at=payment.bank_due_at
        )
        payment.refresh_from_db()


def sandbox_charge_saved(payment: Any, saved: Any) -> None:
    """A payment by a saved card is decided at once, as the card it was saved from said (a
    card saved from the "declines later" test card is declined)."""
    payment.paid_with = saved.method_id
    payment.card_last4, payment.card_type = saved.card_last4, saved.card_type
    if saved.later_outcome == "insufficient_funds":
        payment.status = CANCELED
        payment.cancellation_reason = "insufficient_funds"
    else:
        payment.status = SUCCEEDED
        payment.paid = True
        payment.captured_at = timezone.now()
    payment.save()


def sandbox_bank_delay() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "METERDESK_SANDBOX_BANK_DELAY", 60)))


def sandbox_json(payment: Any) -> dict[str, Any]:
    """A sandbox payment in the shape of a YooKassa payment object."""
    data: dict[str, Any] = {
        "id": payment.pk,
        "status": payment.status,
        "paid": payment.paid,
        "amount": {"value": f"{payment.amount:.2f}", "currency": payment.currency},
        "created_at": payment.created_at.isoformat(),
        "description": payment.description,
        "metadata": payment.metadata,
        "recipient": {"account_id": "sandbox", "gateway_id": "sandbox"},
        "refundable": False,
        "test": True,
    }
    if payment.status == PENDING and payment.confirmation_type == QR:
        # The link a phone opens in "the bank's app" (relative: the sandbox lives on this site).
        data["confirmation"] = {
            "type": QR,
            "confirmation_data": reverse("payments:sandbox_sbp", kwargs={"sandbox_id": payment.pk}),
        }
    elif payment.status == PENDING:
        data["confirmation"] = {
            "type": "redirect",
            "return_url": payment.return_url,
            "confirmation_url": reverse("payments:sandbox", kwargs={"sandbox_id": payment.pk}),
        }
    if payment.captured_at is not None:
        data["captured_at"] = payment.captured_at.isoformat()
    if payment.receipt:
        data["receipt_registration"] = "succeeded" if payment.status == SUCCEEDED else "pending"
    if payment.card_last4:
        data["payment_method"] = {
            "type": BANK_CARD,
            "id": payment.method_id or payment.paid_with or payment.pk,
            "saved": bool(payment.method_id or payment.paid_with),
            "card": {"last4": payment.card_last4, "card_type": payment.card_type},
        }
    elif payment.method == SBP:
        data["payment_method"] = {"type": SBP, "id": payment.pk, "saved": False}
    if payment.status == CANCELED:
        data["cancellation_details"] = {"party": "payment_network", "reason": payment.cancellation_reason}
    return data


# --- the choice -------------------------------------------------------------------------------------

PROVIDER_NAMES = ("sandbox", "yookassa")


def provider_get(name: str | None = None) -> PaymentProvider:
    """The provider by name (a payment keeps the name it was created with), or the configured one."""
    name = name or default_provider_name()
    if name == "sandbox":
        return SandboxProvider()
    if name == "yookassa":
        return YooKassaProvider(
            shop_id=getattr(settings, "METERDESK_YOOKASSA_SHOP_ID", ""),
            secret_key=getattr(settings, "METERDESK_YOOKASSA_SECRET_KEY", ""),
            base_url=getattr(settings, "METERDESK_YOOKASSA_API_URL", "https://api.yookassa.ru/v3"),
            timeout=float(getattr(settings, "METERDESK_YOOKASSA_TIMEOUT", 10.0)),
        )
    raise ValueError(f"unknown payment provider {name!r} (known: {', '.join(PROVIDER_NAMES)})")


def default_provider_name() -> str:
    return str(getattr(settings, "METERDESK_PAYMENT_PROVIDER", "sandbox") or "sandbox")
