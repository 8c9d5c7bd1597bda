"""Generated bad input at the doors where outsiders type or send things: a reading's value (the web
form, the API's submission and preview), a bank registry's amount, a payment provider's
notification body. Whatever arrives is refused with a 4xx (or, for a registry, a listed problem)
and nothing is stored; never a 5xx. Run on SQLite and PostgreSQL like every test (the bugs this
guards against — a NUL, 29 digits, deep nesting — were PostgreSQL-only or Decimal-only 500s)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meterdesk.api.auth import token_create
from meterdesk.billing.models import LedgerEntry
from meterdesk.domain.readings import MeterShape, check_reading
from meterdesk.metering.models import Reading
from meterdesk.payments.models import Payment, PaymentEvent
from meterdesk.payments.services import NOTIFICATION_EVENTS
from meterdesk.registries.layouts import layout_get
from meterdesk.registries.models import Registry, RegistryRow
from meterdesk.registries.services import registry_load
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what is generated --------------------------------------------------------------------------

#: Any text, with the characters that broke things made likely: NUL and other controls, digits of
#: other scripts, separators, signs, exponents, and long runs of digits (past Decimal's 28).
_TRICKY = st.sampled_from(
    ["\x00", "\x1b", "\n", "\r", "\t", "\u00a0", "٣", "１", "e", "E", "-", "+", ",", ".", " "]
)
_CHARS = st.one_of(st.characters(), _TRICKY, st.sampled_from("0123456789"))
_LONG = st.one_of(
    st.integers(min_value=10**27, max_value=10**45).map(str),
    st.from_regex(r"[+-]?[0-9]{20,40}([.,][0-9]{0,30})?", fullmatch=True),
    st.from_regex(r"[0-9]{0,12}[.,][0-9]{3,30}", fullmatch=True),
)
_FOREIGN_DIGITS = st.from_regex(r"[0-9٠-٩０-９۰-۹]{1,8}([.,][0-9٠-٩０-９]{1,2})?", fullmatch=True)
TEXT = st.one_of(st.text(_CHARS, max_size=40), _LONG, _FOREIGN_DIGITS)
#: What a JSON client may put where a value goes (numbers of any size, other types).
JSON_VALUE = st.one_of(
    TEXT,
    _LONG,
    st.integers(min_value=10**27, max_value=10**31),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
#: Mostly one value (the meter has one zone), sometimes more.
EXTRA = st.one_of(st.just([]), st.just([]), st.just([]), st.lists(JSON_VALUE, min_size=1, max_size=2))

#: The meter's previous reading (five digits, no average): 99 000 … 99 999 is accepted, 0 … 9 000 is
#: a rollover to confirm. Such values are not bad input, and are left out (the rules' own property
#: tests cover them, domain/tests/test_readings.py).
PREVIOUS = Decimal(99000)


def _a_value(raw: object) -> bool:
    return check_reading(MeterShape(zones=1, digits=5), [raw], [PREVIOUS]).ok  # type: ignore[list-item]


@pytest.fixture
def household(db, settings):
    """A login with one single-zone five-digit meter read at 99 000, the window open."""
    settings.METERDESK_READING_WINDOW = "1-31"
    settings.METERDESK_API_RATE_TOKEN = "off"
    settings.METERDESK_API_RATE_ADDRESS = "off"
    user = UserFactory(email="fuzz@example.com")
    meter = MeterFactory(zones=1, digits=5, initial_t1=PREVIOUS)
    link(user, meter.account)
    return user, meter


@pytest.fixture
def token(household):
    return token_create(user=household[0], name="fuzz")[1]


def _nothing_stored() -> tuple[int, ...]:
    return (Reading.objects.count(), LedgerEntry.objects.count(), Payment.objects.count())


# --- a reading's value --------------------------------------------------------------------------


@FUZZ
@given(value=TEXT)
def test_the_web_form_refuses_any_bad_value(client, household, value):
    assume(not _a_value(value))
    user, meter = household
    client.force_login(user)
    before = _nothing_stored()
    response = client.post(f"/meters/{meter.pk}/readings/new/", {"t1": value})
    assert response.status_code == 422, response.status_code  # the form again, saying what is wrong
    assert _nothing_stored() == before


@FUZZ
@given(value=JSON_VALUE, extra=EXTRA)
def test_the_api_refuses_any_bad_value(client, household, token, value, extra):
    values = [value, *extra]
    assume(extra or not _a_value(value))
    meter = household[1]
    before = _nothing_stored()
    for path in (f"/api/v1/meters/{meter.pk}/readings", f"/api/v1/meters/{meter.pk}/readings/preview"):
        response = client.post(
            path,
            json.dumps({"values": values}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert 400 <= response.status_code < 500, (path, response.status_code, response.content[:300])
        assert response.json()["code"]
    assert _nothing_stored() == before


# --- a registry's amount ------------------------------------------------------------------------

_PLAIN_AMOUNT = re.compile(r"\s*[0-9]{1,12}(,[0-9]*)?\s*")
_UTF8_SBER = replace(layout_get("sberbank"), encoding="utf-8")


def _registry(amount: str) -> bytes:
    line = f"20-11-2025;09-14-05;9038/01234;1;7701000001;Иванова;Москва;102025;{amount};0,00"
    return f"{line}\r\n=1;{amount};0,00;{amount};4417;21-11-2025\r\n".encode("utf-8", "surrogatepass")


@pytest.fixture
def payer(db):
    return AccountFactory(number="7701000001")


@FUZZ
@given(amount=TEXT)
def test_a_registry_refuses_any_bad_amount_with_a_listed_problem(payer, amount):
    assume(not _PLAIN_AMOUNT.fullmatch(amount))
    before = (*_nothing_stored(), Registry.objects.count(), RegistryRow.objects.count())
    result = registry_load(
        data=_registry(amount), name="fuzz.txt", layout=_UTF8_SBER, today=date(2025, 11, 27)
    )
    assert not result.ok
    assert result.problems
    assert all(str(p) for p in result.problems)
    assert (*_nothing_stored(), Registry.objects.count(), RegistryRow.objects.count()) == before


# --- a provider's notification ------------------------------------------------------------------

_JSON_LEAF = st.one_of(
    JSON_VALUE, st.integers(min_value=10**4000, max_value=10**4400), st.just(1e308), st.text(max_size=5)
)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(_CHARS, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dumps(value: object) -> bytes:
    try:
        text = json.dumps(value)
    except ValueError:  # an int too long to write out: as its digits
        text = "9" * 4400
    return text.encode("utf-8", "surrogatepass")


NOTIFICATION_BODY = st.one_of(
    st.binary(max_size=300),
    st.text(_CHARS, max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    _JSON.map(_dumps),
    st.integers(min_value=1, max_value=40).map(lambda n: b"[" * (n * 100) + b"]" * (n * 100)),
    _JSON.map(lambda inner: _dumps({"type": "notification", "event": "payment.succeeded", "object": inner})),
)


def _a_notification(body: bytes) -> bool:
    """Whether the body names a payment as a notification does (then it is not bad input: the
    payment is looked up at the provider)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    obj = data.get("object")
    return (
        data.get("type") == "notification"
        and data.get("event") in NOTIFICATION_EVENTS
        and isinstance(obj, dict)
        and isinstance(obj.get("id"), str)
        and bool(obj["id"])
    )


@FUZZ
@given(body=NOTIFICATION_BODY)
def test_the_notification_endpoint_refuses_any_bad_body(client, settings, db, body):
    assume(not _a_notification(body))
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"
    before = _nothing_stored()
    last = PaymentEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client.post("/payments/notifications/sandbox/", body, content_type="application/json")
    assert response.status_code == 400, (response.status_code, body[:200])
    assert response.json() == {"outcome": "malformed"}
    assert _nothing_stored() == before
    # What it leaves is the log of what arrived (refused, no payment), with a body safe to store.
    (event,) = PaymentEvent.objects.filter(pk__gt=last)
    assert event.outcome == "malformed"
    assert event.payment_id is None
    json.dumps(event.body).encode("utf-8")
