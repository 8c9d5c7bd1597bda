"""The words of the notices other parts store (inspections, support, service requests, the
programme): every placeholder filled, in Russian and in English."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from meterdesk.notify.models import Topic
from meterdesk.notify.prepare import _words

pytestmark = pytest.mark.django_db

VALUES: dict[str, dict[str, Any]] = {
    Topic.INSPECTION_SCHEDULED: {
        "number": "7700000001",
        "serial": "SN-1",
        "on": date(2026, 12, 21),
        "hours": "10:00–13:00",
    },
    Topic.SUPPORT_ANSWER: {
        "number": "7700000001",
        "subject": "Счёт за ноябрь",
        "link": "https://x.test/s/5/",
    },
    Topic.SERVICE_SCHEDULED: {
        "number": "7700000001",
        "service": "Замена счётчика",
        "request": "С-000012",
        "on": date(2026, 12, 22),
        "hours": "09:00–12:00",
    },
    Topic.PROGRAMME_WIN: {
        "number": "7700000001",
        "month": date(2026, 11, 1),
        "programme": "Ответственный клиент",
        "prize": "500 бонусов",
        "amount": Decimal("500"),
    },
}


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("topic", list(VALUES))
def test_the_words_fill_every_placeholder(topic, language):
    with translation.override(language):
        texts = _words(topic, VALUES[topic])
    for text in texts:
        assert "%(" not in text and text.strip()
    assert "7700000001" in texts[1]
    if language == "ru":
        assert any(c in texts[1] for c in "абвгд")
    if topic in (Topic.INSPECTION_SCHEDULED, Topic.SERVICE_SCHEDULED):
        assert VALUES[topic]["hours"] in texts[1]
        assert f"{VALUES[topic]['on'].day} " in texts[1]
        assert ("декабря" if language == "ru" else "December") in texts[1]
    if topic == Topic.SUPPORT_ANSWER:
        assert "https://x.test/s/5/" in texts[1]


def test_the_topics_fit_their_column():
    assert all(len(t.value) <= 20 for t in Topic)
