"""Idempotency-Key: a retry gets the first answer; another body with the key is a 409; two
concurrent duplicates store one reading (run this module on PostgreSQL too)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from meterdesk.api.auth import token_create
from meterdesk.api.models import IdempotencyRecord
from meterdesk.api.tests.conftest import ApiClient
from meterdesk.metering.models import Reading, ReadingStatus

pytestmark = pytest.mark.django_db

BODY = {"values": ["1100", "560"]}


def send(api, meter, body=BODY, key="key-1", **extra):
    return api.post_json(f"/meters/{meter.pk}/readings", body, HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_a_retry_gets_the_first_answer(api, meter):
    first = send(api, meter)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    again = send(api, meter, body={"confirm": [], "values": ["1100", "560"]})  # same body, other order
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Reading.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.status_code) == ("key-1", 201)


def test_another_body_with_the_same_key_is_a_conflict(api, meter):
    assert send(api, meter).status_code == 201
    response = send(api, meter, body={"values": ["1200", "600"]})
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert response.json()["details"] == {"key": "key-1"}
    assert Reading.objects.count() == 1
    # So is the same body sent to another meter.
    from meterdesk.testing import MeterFactory, link

    other = MeterFactory(zones=2)
    link(meter.account.links.get().user, other.account)
    assert send(api, other).status_code == 409


def test_a_new_key_is_a_new_submission(api, meter):
    first = send(api, meter, key="a").json()
    second = send(api, meter, key="b").json()
    assert second["replaced"] == first["confirmation"]
    assert Reading.objects.filter(status=ReadingStatus.ACCEPTED).count() == 1
    assert Reading.objects.count() == 2


def test_errors_are_not_recorded_so_the_key_can_be_used_again(api, anna):
    from decimal import Decimal

    from meterdesk.testing import MeterFactory, link

    meter = MeterFactory(zones=1, initial_t1=Decimal(99500))
    link(anna, meter.account)
    asked = send(api, meter, body={"values": ["200"]}, key="round-trip")
    assert asked.json()["code"] == "needs_confirmation"
    assert not IdempotencyRecord.objects.exists()
    done = send(api, meter, body={"values": ["200"], "confirm": ["rollover:1=200"]}, key="round-trip")
    assert done.status_code == 201
    replay = send(api, meter, body={"values": ["200"], "confirm": ["rollover:1=200"]}, key="round-trip")
    assert replay.json() == done.json()
    assert Reading.objects.count() == 1


def test_keys_belong_to_a_token(api, anna, meter):
    other_device = ApiClient(token_create(user=anna, name="hub")[1])
    assert send(api, meter, key="same").status_code == 201
    response = send(other_device, meter, key="same", body={"values": ["1200", "600"]})
    assert response.status_code == 201  # its own key space: not a conflict, a new submission
    assert IdempotencyRecord.objects.count() == 2


def test_the_session_has_its_own_key_space(anna, meter, client):
    client.force_login(anna)
    url = f"/api/v1/meters/{meter.pk}/readings"
    first = client.post(url, BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="s1")
    again = client.post(url, BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="s1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().scope == f"user:{anna.pk}"


def test_a_malformed_key_is_a_validation_error(api, meter):
    for key in ("", "x" * 256, "with space"):
        response = send(api, meter, key=key)
        assert response.status_code == 422, key
        assert response.json()["code"] == "validation_error"
    assert not Reading.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_store_one_reading(customer, token):
    """Several threads send the same request with the same key at once: exactly one reading is
    stored and every answer is the same 201 body. (SQLite serialises the writers; PostgreSQL lets
    them race to the unique constraint.)"""
    meter = customer[1]
    threads = 6
    barrier = threading.Barrier(threads)
    results: list[tuple[int, dict]] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            api = ApiClient(token)
            barrier.wait()
            response = send(api, meter, key="race")
            results.append((response.status_code, response.json()))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not failures
    assert [status for status, _ in results] == [201] * threads
    assert len({body["confirmation"] for _, body in results}) == 1
    assert Reading.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_different_bodies_with_one_key(customer, token):
    """Two different bodies race with one key: one is stored, the other is a conflict."""
    meter = customer[1]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def worker(values: list[str]) -> None:
        try:
            api = ApiClient(token)
            barrier.wait()
            results.append(send(api, meter, body={"values": values}, key="race-2").status_code)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(v,)) for v in (["1100", "560"], ["1200", "600"])]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sorted(results) == [201, 409]
    assert Reading.objects.count() == 1


def test_old_answers_are_purged(api, meter):
    from datetime import timedelta

    from click.testing import CliRunner
    from django.utils import timezone

    from meterdesk.cli import main

    send(api, meter, key="old")
    send(api, meter, key="new", body={"values": ["1200", "600"]})
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=8))
    done = CliRunner().invoke(main, ["api-purge", "--days", "7"])
    assert done.exit_code == 0, done.output
    assert "deleted 1 " in done.stdout
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
