"""The submit path stays lean: on top of reading_submit's own queries, the API spends one query on
the token, one on the meter (ownership) and, with an Idempotency-Key, one look-up and one insert."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meterdesk.metering.models import Channel
from meterdesk.metering.services import reading_submit
from meterdesk.testing import MeterFactory, link
from meterdesk.utility.selectors import utility_get

pytestmark = pytest.mark.django_db


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


@pytest.fixture
def meters(anna, api):
    three = [MeterFactory(zones=2), MeterFactory(zones=2), MeterFactory(zones=2)]
    for meter in three:
        link(anna, meter.account)
    api.get_api("/accounts")  # the token's last use is recorded on its first request, not on each
    utility_get()  # created on first use
    return three


def test_queries_of_a_submission(api, anna, meters):
    direct_meter, plain_meter, keyed_meter = meters
    with CaptureQueriesContext(connection) as direct:
        reading_submit(meter=direct_meter, values=["1100", "560"], channel=Channel.API, submitted_by=anna)
    with CaptureQueriesContext(connection) as plain:
        response = api.post_json(f"/meters/{plain_meter.pk}/readings", {"values": ["1100", "560"]})
        assert response.status_code == 201
    with CaptureQueriesContext(connection) as keyed:
        response = api.post_json(
            f"/meters/{keyed_meter.pk}/readings", {"values": ["1100", "560"]}, HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 201
    # The first submission of a meter reads the same rows in each case (no earlier reading).
    base = len(_statements(direct))
    assert len(_statements(plain)) == base + 2  # the token, the meter
    assert len(_statements(keyed)) == base + 4  # … and the key's look-up and insert
