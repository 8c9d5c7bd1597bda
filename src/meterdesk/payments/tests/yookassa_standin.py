"""A local stand-in for YooKassa API v3: a real HTTP server on 127.0.0.1, in a thread.

It speaks the part of the API meterdesk uses — ``POST /v3/payments`` (Basic auth, the
``Idempotence-Key`` header: the same key gives the same payment; a redirect or a QR confirmation;
a card saved with ``save_payment_method``, charged later by ``payment_method_id`` at once) and
``GET /v3/payments/{id}`` (404 for an unknown id) — and lets a test script failures: the next
requests time out (the server answers too late), answer 500, or the connection is dropped. The
test then plays the bank: ``succeed(id)`` / ``cancel(id)`` change a payment as a customer paying on
YooKassa's page would; a saved card listed in ``declining`` is declined when charged.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    auth: str
    idempotence_key: str
    body: Any


@dataclass
class StandIn:
    shop_id: str
    secret_key: str
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (request digest, id)
    seen: list[Seen] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "timeout", "500", "drop", "202" for the next requests
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 1.5  # how late a "timeout" answers (the client gives up after 0.5 s)
    # Saved cards whose charges are declined, each with the bank's reason.
    declining: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                standin._handle(self, "POST")

            def do_GET(self) -> None:
                standin._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- the bank's side, for tests --------------------------------------------------------------

    def succeed(self, payment_id: str) -> dict[str, Any]:
        with self.lock:
            payment = self.payments[payment_id]
            save = bool(payment.pop("_save", False))
            method = payment.get("_method") or "bank_card"
            payment.update(
                status="succeeded",
                paid=True,
                captured_at=_now(),
                payment_method=(
                    {"type": "sbp", "id": payment_id, "saved": False}
                    if method == "sbp"
                    else {
                        "type": "bank_card",
                        "id": f"pm-{payment_id}" if save else payment_id,
                        "saved": save,
                        "card": {"last4": "4444", "card_type": "MasterCard"},
                    }
                ),
            )
            payment.pop("confirmation", None)
            return _public(payment)

    def cancel(self, payment_id: str, reason: str = "insufficient_funds") -> dict[str, Any]:
        with self.lock:
            payment = self.payments[payment_id]
            payment.update(
                status="canceled", cancellation_details={"party": "payment_network", "reason": reason}
            )
            payment.pop("confirmation", None)
            return _public(payment)

    def wait_for_payments(self, count: int, within: float = 10.0) -> None:
        """Wait until the stand-in holds ``count`` payments (a late answer still being made)."""
        deadline = time.monotonic() + within
        while len(self.payments) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the stand-in has {len(self.payments)} payments, not {count}")
            time.sleep(0.02)

    def creates(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    # --- the API ---------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        with self.lock:
            self.seen.append(
                Seen(
                    method,
                    handler.path,
                    handler.headers.get("Authorization", ""),
                    handler.headers.get("Idempotence-Key", ""),
                    body,
                )
            )
            failure = self.failures.pop(0) if self.failures else None
        if failure == "drop":
            handler.close_connection = True
            handler.connection.close()
            return
        if failure == "timeout":
            time.sleep(self.delay)
        if failure == "500":
            self._send(
                handler, 500, {"type": "error", "code": "internal_server_error", "description": "boom"}
            )
            return
        if failure == "202":
            self._send(handler, 202, {"type": "processing", "retry_after": 1800})
            return
        expected = "Basic " + base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        if handler.headers.get("Authorization") != expected:
            self._send(handler, 401, {"type": "error", "code": "invalid_credentials", "description": "no"})
            return
        if method == "POST" and handler.path == "/v3/payments":
            self._create(handler, body)
        elif method == "GET" and handler.path.startswith("/v3/payments/"):
            pid = handler.path.rsplit("/", 1)[1]
            with self.lock:
                payment = self.payments.get(pid)
                answer = _public(payment) if payment else None
            if answer is None:
                self._send(
                    handler, 404, {"type": "error", "code": "not_found", "description": "no such payment"}
                )
            else:
                self._send(handler, 200, answer)
        else:
            self._send(handler, 404, {"type": "error", "code": "not_found", "description": handler.path})

    def _create(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        key = handler.headers.get("Idempotence-Key", "")
        if not key or not isinstance(body, dict):
            self._send(handler, 400, {"type": "error", "code": "invalid_request", "description": "key/body"})
            return
        digest = json.dumps(body, sort_keys=True)
        with self.lock:
            if key in self.keys:
                known_digest, pid = self.keys[key]
                if known_digest != digest:
                    answer: tuple[int, Any] = (
                        400,
                        {"type": "error", "code": "invalid_request", "description": "key reused"},
                    )
                else:
                    answer = (200, _public(self.payments[pid]))
            else:
                pid = f"2f{uuid.uuid4().hex[:6]}-000f-5000-9000-{uuid.uuid4().hex[:12]}"
                payment = self._new(pid, body)
                self.payments[pid] = payment
                self.keys[key] = (digest, pid)
                answer = (200, _public(payment))
        self._send(handler, *answer)

    def _new(self, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        payment: dict[str, Any] = {
            "id": pid,
            "status": "pending",
            "paid": False,
            "amount": body["amount"],
            "created_at": _now(),
            "description": body.get("description", ""),
            "metadata": body.get("metadata", {}),
            "recipient": {"account_id": self.shop_id, "gateway_id": "1"},
            "refundable": False,
            "test": True,
            "_method": (body.get("payment_method_data") or {}).get("type", ""),
            "_save": bool(body.get("save_payment_method")),
        }
        method_id = body.get("payment_method_id")
        if method_id:  # a saved card: decided at once, nothing to confirm
            card = {"type": "bank_card", "id": method_id, "saved": True}
            card["card"] = {"last4": "4444", "card_type": "MasterCard"}
            payment["payment_method"] = card
            if method_id in self.declining:
                payment.update(
                    status="canceled",
                    cancellation_details={"party": "payment_network", "reason": self.declining[method_id]},
                )
            else:
                payment.update(status="succeeded", paid=True, captured_at=_now())
        elif body["confirmation"]["type"] == "qr":
            payment["confirmation"] = {
                "type": "qr",
                "confirmation_data": f"https://qr.nspk.ru/AS{pid[:8]}?type=02",
            }
        else:
            payment["confirmation"] = {
                "type": "redirect",
                "return_url": body["confirmation"]["return_url"],
                "confirmation_url": f"{self.url}/checkout/{pid}",
            }
        return payment

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass


def notification(event: str, payment: dict[str, Any]) -> dict[str, Any]:
    """YooKassa's notification payload."""
    return {"type": "notification", "event": event, "object": _public(payment)}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _public(payment: dict[str, Any]) -> dict[str, Any]:
    """The payment as the API shows it: a copy, without the stand-in's own notes (``_…``)."""
    return {k: v for k, v in json.loads(json.dumps(payment)).items() if not k.startswith("_")}
