"""A provider's notification endpoint takes any body: what is not a plain JSON notification is
answered 400, recorded as malformed with its raw text escaped and cut short, and logged so."""

from __future__ import annotations

import json
import logging

import pytest

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.payments.models import Payment, PaymentEvent

pytestmark = pytest.mark.django_db

URL = "/payments/notifications/sandbox/"


def _notification(object_id: str = "sbx-000000000000000000000000") -> dict:
    return {"type": "notification", "event": "payment.succeeded", "object": {"id": object_id}}


BODIES = {
    "a NUL escaped in a string": json.dumps(_notification("sbx-\x00")).encode(),
    "a NUL escaped in a key": b'{"type": "notification", "event": "payment.succeeded", "object": {"i\\u0000d": "x"}}',
    "a raw NUL byte": b'{"type": "notification\x00"}',
    "a lone surrogate": b'{"type": "notification", "event": "payment.succeeded", "object": {"id": "\\ud800"}}',
    "a lone surrogate in a key": b'{"\\udfff": 1}',
    "3,000-deep nesting": b"[" * 3000 + b"]" * 3000,
    "3,000-deep objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "100-deep nesting": b'{"type": "notification", "object": ' + b"[" * 100 + b"]" * 100 + b"}",
    "a 4,300-digit number": b'{"type": "notification", "amount": ' + b"9" * 4300 + b"}",
    "a 5,000-digit number": b"1" * 5000,
    "a float too large": b'{"type": "notification", "amount": 1e999}',
    "NaN": b'{"type": "notification", "amount": NaN}',
    "invalid UTF-8": b'{"type": "\xff"}',
    "an ANSI escape": b'\x1b[31m{"type": "notification"}',
    "too long": b'{"type": "notification", "pad": "' + b"x" * 70_000 + b'"}',
}


@pytest.mark.parametrize("body", BODIES.values(), ids=list(BODIES))
def test_a_body_that_is_not_a_plain_notification_is_400_and_logged_safely(client, caplog, body):
    with caplog.at_level(logging.WARNING, logger="meterdesk.payments.views"):
        response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"outcome": "malformed"}
    (event,) = PaymentEvent.objects.all()
    assert event.outcome == "malformed"
    raw = event.body["raw"]
    assert isinstance(raw, str)
    assert len(raw) <= 2100
    assert all(ch.isprintable() or ch == " " for ch in raw), raw[:200]
    raw.encode("utf-8")  # no lone surrogate
    (record,) = [r for r in caplog.records if r.name == "meterdesk.payments.views"]
    logged = record.getMessage()
    assert len(logged) <= 2300
    assert all(ch.isprintable() or ch == " " for ch in logged)
    assert event.provider_payment_id == ""
    assert not Payment.objects.exists()
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()


def test_the_raw_body_is_shown_escaped_and_cut_short(client):
    client.post(URL, b'{"type": "\x00\x1b", "pad": "' + b"x" * 5000 + b'"}', content_type="application/json")
    raw = PaymentEvent.objects.get().body["raw"]
    assert raw.startswith('{"type": "\\x00\\x1b", "pad": "xxx')
    assert raw.endswith("xxx…")


def test_a_plain_notification_is_still_handled(client):
    response = client.post(URL, _notification(), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["outcome"] == "forged_unknown_at_provider"
    assert PaymentEvent.objects.get().body == _notification()
