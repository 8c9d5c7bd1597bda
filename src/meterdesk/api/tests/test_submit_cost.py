"""The submit path stays lean (docs/benchmarks-history.md, "`meterdesk bench api`"): the
statements of one submission are pinned here, so that a change that adds a query to the hot path
shows up as a failing test.

The usual case: a meter with readings in the last months and a billed month before this one; the
reference data (utility settings, tariffs, norms) already in this process's memory."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from meterdesk.billing.codec import state_dumps
from meterdesk.billing.models import MeterBillingState
from meterdesk.billing.preview import meter_state_before
from meterdesk.billing.pricing import pricing_get
from meterdesk.core.readings import reading_submit
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.models import Channel, ConfirmationMail, Reading, ReadingKind, ReadingStatus
from meterdesk.testing import MeterFactory, ReadingFactory, link
from meterdesk.utility.selectors import rules_profile_get, utility_get, utility_now

pytestmark = pytest.mark.django_db


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def _billed_meter(user, zones=2):
    """A meter (two zones unless said) of an account linked to ``user``, read and billed last month."""
    meter = MeterFactory(zones=zones)
    link(user, meter.account)
    this_month = utility_now().date().replace(day=1)
    last_month = add_months(this_month, -1)
    ReadingFactory(
        meter=meter, period=add_months(last_month, -1), t1=Decimal(900), t2=Decimal(450), t3=Decimal(750)
    )
    ReadingFactory(meter=meter, period=last_month, t1=Decimal(1000), t2=Decimal(500), t3=Decimal(800))
    state = meter_state_before(meter, this_month, profile_load(utility_get().rules_profile))
    MeterBillingState.objects.create(
        meter=meter, account=meter.account, period=last_month, data=json.loads(state_dumps(state))
    )
    return meter


@pytest.fixture
def meters(anna, api):
    three = [_billed_meter(anna) for _ in range(3)]
    api.get_api("/accounts")  # the token's last use is recorded on its first request, not on each
    # The reference data is read once per process (and per change of it), here before measuring.
    pricing_get(utility_get().tariff_region)
    rules_profile_get(utility_get())  # the rules profile's versions, as the reading window's above
    return three


def test_queries_of_a_submission(api, anna, meters):
    direct_meter, plain_meter, keyed_meter = meters
    with CaptureQueriesContext(connection) as direct:
        reading_submit(
            meter_id=direct_meter.pk, values=["1100", "560"], channel=Channel.API, submitted_by=anna
        )
    with CaptureQueriesContext(connection) as plain:
        response = api.post_json(f"/meters/{plain_meter.pk}/readings", {"values": ["1100", "560"]})
        assert response.status_code == 201
    with CaptureQueriesContext(connection) as keyed:
        response = api.post_json(
            f"/meters/{keyed_meter.pk}/readings", {"values": ["1100", "560"]}, HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 201
    # reading_submit: the meter locked, read with its account, the reference data's stamp, the
    # meter's billing state and whether the month is closed; its recent readings; the insert
    # (which skips a confirmation number already taken).
    assert len(_statements(direct)) == 3
    # The API: the token, then the same three (the ownership check is in the first).
    assert len(_statements(plain)) == 4
    lock = _statements(plain)[1]
    assert "FOR UPDATE" in lock or connection.vendor == "sqlite"
    assert "utility_referencestamp" in lock and "billing_meterbillingstate" in lock
    assert "customers_accountlink" in lock
    # … and the insert of the answer under the key, last, in the same transaction.
    assert len(_statements(keyed)) == 4 + 1
    assert _statements(keyed)[-1].startswith("INSERT") and "api_idempotencyrecord" in _statements(keyed)[-1]


def test_a_second_reading_of_the_month_adds_only_the_update_of_the_first(api, anna, meters):
    meter = meters[0]
    response = api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1100", "560"]})
    assert response.status_code == 201
    with CaptureQueriesContext(connection) as again:
        response = api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1110", "565"]})
        assert response.status_code == 201
    statements = _statements(again)
    assert len(statements) == 4 + 1
    assert sum(1 for sql in statements if sql.startswith("UPDATE")) == 1
    first, second = Reading.objects.filter(meter=meter).order_by("pk")[2:]
    assert (first.status, second.status) == (ReadingStatus.SUPERSEDED, ReadingStatus.ACCEPTED)
    assert second.replaces_id == first.pk


def test_an_inspectors_reading_of_the_month_adds_no_statement(api, anna, meters):
    """The month's readings are read with the recent ones: checking against the inspector's
    reading given earlier in the month (submission_check) costs no query of its own."""
    meter = meters[0]
    ReadingFactory(
        meter=meter,
        period=utility_now().date().replace(day=1),
        t1=Decimal(1050),
        t2=Decimal(520),
        kind=ReadingKind.CONTROL,
        channel=Channel.INSPECTOR,
        submitted_at=timezone.now() - timedelta(hours=1),
    )
    with CaptureQueriesContext(connection) as below:
        response = api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1040", "560"]})
        assert response.status_code == 422
        assert response.json()["code"] == "reading_below_previous"
    with CaptureQueriesContext(connection) as accepted:
        response = api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1100", "560"]})
        assert response.status_code == 201
    # The token, the meter locked, its recent readings; then the transaction ends, nothing written.
    assert len([sql for sql in _statements(below) if not sql.startswith(("ROLLBACK", "COMMIT"))]) == 3
    assert len(_statements(accepted)) == 4


def test_with_the_database_task_backend_the_confirmation_is_one_outbox_insert_in_the_transaction(
    api, anna, meters, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    meter = meters[0]
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        CaptureQueriesContext(connection) as ctx,
    ):
        response = api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1100", "560"]})
        assert response.status_code == 201
    assert callbacks == []  # nothing waits for the commit: the mail commits with the reading
    assert len(_statements(ctx)) == 4 + 1
    assert "metering_confirmationmail" in _statements(ctx)[-1]
    assert ConfirmationMail.objects.get().email == anna.email


def test_the_reference_data_is_read_again_only_when_it_changes(api, anna, meters):
    meter = meters[0]
    api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1100", "560"]})
    with CaptureQueriesContext(connection) as cached:
        api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1110", "565"]})
    assert not any("tariffs_" in sql or "utility_utilitysettings" in sql for sql in _statements(cached))
    utility = utility_get()
    utility.short_name = "Энергосбыт"
    utility.save()
    with CaptureQueriesContext(connection) as changed:
        api.post_json(f"/meters/{meter.pk}/readings", {"values": ["1120", "570"]})
    statements = _statements(changed)
    assert any("utility_utilitysettings" in sql for sql in statements)
    assert any("tariffs_tariff" in sql for sql in statements)


def test_a_confirmation_number_already_taken_is_replaced_by_another(api, anna, meters, monkeypatch):
    from meterdesk.metering import services

    taken = Reading.objects.filter(meter=meters[0]).values_list("confirmation", flat=True)[0]
    numbers = iter([taken, taken, "123456789012"])
    monkeypatch.setattr(services, "_new_confirmation_number", lambda: next(numbers))
    response = api.post_json(f"/meters/{meters[0].pk}/readings", {"values": ["1100", "560"]})
    assert response.status_code == 201
    assert response.json()["confirmation"] == "123456789012"
    assert Reading.objects.filter(confirmation=taken).count() == 1


def test_the_state_read_with_the_lock_is_used_only_for_its_own_month(anna, meters):
    from meterdesk.billing.preview import StoredState

    meter = meters[0]
    profile = profile_load(utility_get().rules_profile)
    this_month = utility_now().date().replace(day=1)
    stored = meter_state_before(meter, this_month, profile)
    # Read with the meter for this month: the stored state is not read again; one that is absent
    # is built from the readings (here the same as the stored one, which was built from them).
    with CaptureQueriesContext(connection) as ctx:
        assert meter_state_before(meter, this_month, profile, StoredState(this_month, None)) == stored
    assert not any("billing_meterbillingstate" in sql for sql in _statements(ctx))
    assert any("metering_reading" in sql for sql in _statements(ctx))
    data = MeterBillingState.objects.get(meter=meter).data
    with CaptureQueriesContext(connection) as ctx:
        assert meter_state_before(meter, this_month, profile, StoredState(this_month, data)) == stored
    assert _statements(ctx) == []
    # Read for another month (the month turned between the lock and the pricing): read again.
    with CaptureQueriesContext(connection) as ctx:
        other = StoredState(add_months(this_month, 1), None)
        assert meter_state_before(meter, this_month, profile, other) == stored
    assert len(_statements(ctx)) == 1


@pytest.mark.parametrize("zones", [1, 2, 3])
def test_the_answer_is_exactly_what_its_schema_gives(api, anna, zones):
    """The answer is built without validating it again: it must be a fixed point of the schema
    (the same types, formats and keys as SubmissionOut's own JSON)."""
    from meterdesk.api.schemas import SubmissionOut

    meter = _billed_meter(anna, zones)
    values = ["1100", "560", "900"][:zones]
    for attempt in range(2):  # the second replaces the first
        response = api.post_json(f"/meters/{meter.pk}/readings", {"values": values})
        assert response.status_code == 201, response.json()
        body = response.json()
        assert SubmissionOut.model_validate(body).model_dump(mode="json") == body
        assert (body["replaced"] is None) == (attempt == 0)
        assert body["values"][0]["value"] == "1100"
        # The tests' reference data prices two zones only: the others answer without a charge.
        priced = zones == 2
        assert bool(body["charge"]["lines"]) == priced and (body["charge"]["total"] is not None) == priced
