"""The corpus: realistic letters (corpus/*.eml: Russian and English, UTF-8, KOI8-R and
Windows-1251, 8-bit, quoted-printable and base64, HTML from web mail, replies to our own answers,
forwards, typos, several accounts in one letter, photos without text, robots), each with the
outcome it must have (corpus/expected.json): the letter's outcome and each meter's code, in order.
Each runs through the real processing (stored, then processed by its task) in the same world."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest

from meterdesk.mail.models import Item, Letter, Via
from meterdesk.mail.services import letter_store
from meterdesk.testing import (
    AccountFactory,
    MeterFactory,
    ReadingFactory,
    UserFactory,
    link,
    make_tariff,
    moscow,
)

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def world(db):
    """The accounts the letters name: 1234567890 (two zones, meter 40000001, its login
    anna@mail.ru), 2345678901 (one zone, 50000002), 3456789012 (three zones, 60000003); each
    read in October."""
    for prices in (("7.16",), ("9.45", "4.08"), ("10.32", "8.60", "4.08")):
        make_tariff(prices=prices)
    meters = {}
    for number, serial, zones, previous in (
        ("1234567890", "40000001", 2, (1200, 600)),
        ("2345678901", "50000002", 1, (3000,)),
        ("3456789012", "60000003", 3, (1000, 500, 700)),
    ):
        meter = MeterFactory(account=AccountFactory(number=number), serial=serial, zones=zones)
        values = dict(zip(("t1", "t2", "t3"), map(Decimal, previous), strict=False))
        ReadingFactory(meter=meter, period=OCTOBER, **values)
        meters[number] = meter
    link(UserFactory(email="anna@mail.ru"), meters["1234567890"].account)
    return meters


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_letter_of_the_corpus_has_its_outcome(name, world, django_capture_on_commit_callbacks):
    expected = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()
    now = mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20))
    with now, django_capture_on_commit_callbacks(execute=True):
        stored = letter_store(
            raw=raw,
            via=Via.SMTP,
            mail_from=expected["mail_from"],
            rcpt_to=["readings@meterdesk.localhost"],
        )
    letter = Letter.objects.get(pk=stored.pk)
    codes = list(Item.objects.filter(letter=letter).order_by("id").values_list("code", flat=True))
    assert (letter.outcome, codes) == (expected["outcome"], expected["codes"]), letter.error


def test_the_corpus_is_large_and_varied():
    assert len(EXPECTED) >= 80
    raws = [(CORPUS / name).read_bytes().lower() for name in EXPECTED]
    for mark in (b"koi8-r", b"windows-1251", b"quoted-printable", b"base64", b"text/html", b"image/png"):
        assert any(mark in raw for raw in raws), mark
