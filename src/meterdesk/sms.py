"""Text messages (SMS) to a customer's mobile phone: for now the payment link the phone line sends.

The gateway is a setting, ``METERDESK_SMS_BACKEND``:

* empty (the default): no SMS; the channels that could send one say how to pay instead;
* ``file``: each message is written to the data directory's ``sms/`` (one ``.txt`` file per
  message, as the mail is without SMTP) — for the demo and the tests;
* ``smsru``: SMS.ru's HTTP API (``POST {METERDESK_SMS_URL}/sms/send`` with ``api_id``, ``to``,
  ``msg``, ``from`` and ``json=1``; the answer's ``status`` and each number's ``status_code`` 100
  mean accepted). ``METERDESK_SMS_URL`` defaults to https://sms.ru.

Only Russian mobile numbers (+79…) are written to. A number gets at most
``METERDESK_SMS_PER_DAY`` messages a day, whatever asks for them (``ratelimit``), so that calling
the line again and again cannot be used to flood a phone.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings
from django.utils import timezone

from meterdesk import ratelimit

log = logging.getLogger(__name__)

BACKENDS = ("", "file", "smsru")
TIMEOUT = 10.0


class SmsError(Exception):
    """A message not sent: ``code`` says why (``not_mobile``, ``limit``, ``gateway``, ``off``)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Sent:
    to: str  # E.164
    message_id: str  # the gateway's id (the file's name for ``file``)


def sms_backend() -> str:
    backend = str(getattr(settings, "METERDESK_SMS_BACKEND", "") or "").strip().lower()
    if backend not in BACKENDS:
        raise SmsError("off", f"unknown METERDESK_SMS_BACKEND {backend!r}: one of file, smsru")
    return backend


def sms_enabled() -> bool:
    """Whether messages can be sent at all."""
    return sms_backend() != ""


def is_mobile(number: str) -> bool:
    """A Russian mobile number in E.164 (``+79…``, eleven digits)."""
    return len(number) == 12 and number.startswith("+79") and number[1:].isdigit()


def sms_send(to: str, text: str) -> Sent:
    """Send ``text`` to the mobile number ``to`` (E.164). SmsError when it is not a Russian mobile
    number, the number had its messages for the day, no gateway is set, or the gateway refused."""
    backend = sms_backend()
    if not backend:
        raise SmsError("off", "no SMS gateway is configured")
    if not is_mobile(to):
        raise SmsError("not_mobile", to)
    per_day = int(getattr(settings, "METERDESK_SMS_PER_DAY", 3))
    if ratelimit.hit("sms", to, per_day, 86400) is not None:
        raise SmsError("limit", f"{to} had {per_day} messages today")
    sent = _file(to, text) if backend == "file" else _smsru(to, text)
    log.info("sms to %s…%s sent (%s)", to[:5], to[-2:], sent.message_id)
    return sent


def _file(to: str, text: str) -> Sent:
    folder = Path(settings.DATA_DIR) / "sms"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.txt").write_text(f"To: {to}\n\n{text}\n", encoding="utf-8")
    return Sent(to, name)


def _smsru(to: str, text: str) -> Sent:
    url = str(getattr(settings, "METERDESK_SMS_URL", "") or "https://sms.ru").rstrip("/") + "/sms/send"
    data = {"api_id": settings.METERDESK_SMS_API_KEY, "to": to.lstrip("+"), "msg": text, "json": "1"}
    sender = str(getattr(settings, "METERDESK_SMS_SENDER", "") or "")
    if sender:
        data["from"] = sender
    try:
        response = httpx.post(url, data=data, timeout=TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise SmsError("gateway", f"SMS.ru did not answer: {error}") from error
    if not isinstance(body, dict) or body.get("status") != "OK":
        detail = body.get("status_text", "") if isinstance(body, dict) else ""
        raise SmsError("gateway", f"SMS.ru refused the request: {detail or body!r}")
    one = (body.get("sms") or {}).get(to.lstrip("+")) or {}
    if not isinstance(one, dict) or one.get("status") != "OK":
        detail = one.get("status_text", "") if isinstance(one, dict) else ""
        raise SmsError("gateway", f"SMS.ru refused the number: {detail or one!r}")
    return Sent(to, str(one.get("sms_id") or ""))
