"""The card payment provider: a small interface, chosen by METERDESK_PAYMENT_PROVIDER.

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
    card = (method.get("card") or {}) if isinstance(method, dict) else {}
    card_text = ""
    if isinstance(card, dict) and card.get("last4"):
        card_text = f"{card.get('card_type') or 'Card'} *{card['last4']}"
    return RemotePayment(
        id=pid,
        status=status,
        amount=amount,
        currency=currency,
        paid=bool(data.get("paid")),
        metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
        confirmation_url=str(confirmation.get("confirmation_url") or "")
        if isinstance(confirmation, dict)
        else "",
        created_at=_moment(data.get("created_at")),
        captured_at=_moment(data.get("captured_at")),
        cancellation_reason=str(cancellation.get("reason") or "") if isinstance(cancellation, dict) else "",
        card=card_text,
        test=bool(data.get("test")),
    )


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
    same payment."""

    idempotence_key: str
    amount: Decimal
    description: str
    metadata: dict[str, str]
    return_url: str


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
        body = {
            "amount": {"value": f"{request.amount:.2f}", "currency": "RUB"},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": request.return_url},
            "description": request.description[:128],
            "metadata": request.metadata,
        }
        key = request.idempotence_key
        response = self._send("POST", "/payments", json=body, headers={"Idempotence-Key": key})
        if response.status_code != 200:
            raise self._error(response)
        payment = self._payment(response)
        if payment.status == PENDING and not payment.confirmation_url:
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


# --- the sandbox ------------------------------------------------------------------------------------


class SandboxProvider:
    """A provider inside meterdesk for demos and tests. Its test page decides by the card number
    (see ``sandbox.py``); it then notifies meterdesk with the same payload as YooKassa."""

    name = "sandbox"

    def create(self, request: PaymentRequest) -> RemotePayment:
        from meterdesk.payments.models import SandboxPayment

        key = request.idempotence_key
        asked = {"amount": f"{request.amount:.2f}", "metadata": request.metadata}
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
                    )
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
    if payment.status == PENDING:
        data["confirmation"] = {
            "type": "redirect",
            "return_url": payment.return_url,
            "confirmation_url": reverse("payments:sandbox", kwargs={"sandbox_id": payment.pk}),
        }
    if payment.captured_at is not None:
        data["captured_at"] = payment.captured_at.isoformat()
    if payment.card_last4:
        data["payment_method"] = {
            "type": "bank_card",
            "id": payment.pk,
            "saved": False,
            "card": {"last4": payment.card_last4, "card_type": payment.card_type},
        }
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
