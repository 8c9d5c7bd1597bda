"""Hand-written SQL of the hot path gives the same instances as the ORM (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from meterdesk.api.auth import token_create
from meterdesk.api.models import ApiToken, IdempotencyRecord
from meterdesk.customers.models import User
from meterdesk.metering.models import Reading
from meterdesk.sqlrows import Rows
from meterdesk.testing import ReadingFactory

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _select(rows: Rows, pk: int) -> tuple:
    table = rows.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {rows.columns} FROM {table} {rows.alias} WHERE {rows.alias}.id = %s", [pk])  # noqa: S608
        return cursor.fetchone()


def test_a_reading_is_built_as_the_orm_loads_it(customer):
    _, meter = customer
    stored = ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=Decimal("1100.5"), t2=Decimal(550))
    rows = Rows(Reading, "r")
    built = rows.build(_select(rows, stored.pk))
    loaded = Reading.objects.get(pk=stored.pk)
    assert _fields(built) == _fields(loaded)
    assert isinstance(built.t1, Decimal) and isinstance(built.period, date)
    assert built.rolled_over is False
    assert built._state.adding is False


def test_a_token_and_its_login_are_built_as_the_orm_loads_them(customer):
    user, _ = customer
    token, _raw = token_create(user=user, name="phone")
    for model, pk in ((ApiToken, token.pk), (User, user.pk)):
        rows = Rows(model, "x")
        assert _fields(rows.build(_select(rows, pk))) == _fields(model.objects.get(pk=pk))


def test_insert_stores_what_save_would_and_reads_back(customer):
    user, _ = customer
    rows = Rows(IdempotencyRecord, "i")
    body = {"id": 7, "values": [{"zone": 1, "value": "1100"}], "note": "ёлка", "total": None}
    record = rows.insert(
        IdempotencyRecord(
            scope="token:1", key="k", user=user, request_hash="h" * 64, status_code=201, response=body
        )
    )
    assert record.pk is not None and record._state.adding is False
    loaded = IdempotencyRecord.objects.get(pk=record.pk)
    assert loaded.response == body
    assert _fields(rows.build(_select(rows, record.pk))) == _fields(loaded)
    assert loaded.created_at == record.created_at


def test_insert_unless_taken_skips_a_taken_value_and_stores_nothing(customer):
    _user, meter = customer
    first = ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=Decimal(1100), t2=Decimal(550))
    rows = Rows(Reading, "r")
    before = Reading.objects.count()
    again = Reading(
        meter=meter,
        account=meter.account,
        period=date(2026, 9, 1),
        t1=Decimal(1000),
        t2=Decimal(500),
        channel="api",
        submitted_at=first.submitted_at,
        confirmation=first.confirmation,
    )
    assert rows.insert_unless_taken(again, "confirmation") is None
    assert again.pk is None and Reading.objects.count() == before
    again.confirmation = "999999999999"
    stored = rows.insert_unless_taken(again, "confirmation")
    assert stored is again and again.pk is not None
    assert Reading.objects.get(pk=again.pk).confirmation == "999999999999"


def test_an_instance_built_without_init_behaves_as_one_loaded_by_the_orm(customer):
    _user, meter = customer
    stored = ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=Decimal(1100), t2=Decimal(550))
    rows = Rows(Reading, "r")
    built = rows.build(_select(rows, stored.pk))
    loaded = Reading.objects.get(pk=stored.pk)
    assert built == loaded and hash(built) == hash(loaded)
    assert built._state.db == "default" and built._state.fields_cache == {}
    assert built.meter == meter  # a relation is fetched on first use, as for any instance
    assert built.values == loaded.values
    built.confirmed = "high_consumption"
    built.save(update_fields=["confirmed"])
    assert Reading.objects.get(pk=stored.pk).confirmed == "high_consumption"


def test_a_model_with_init_receivers_is_built_by_the_orm(customer, monkeypatch):
    from django.db.models.signals import post_init

    _user, meter = customer
    stored = ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=Decimal(1100), t2=Decimal(550))
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Reading)
    try:
        rows = Rows(Reading, "r")
        built = rows.build(_select(rows, stored.pk))
    finally:
        post_init.disconnect(receiver, sender=Reading)
    assert seen == [stored.pk] and built.pk == stored.pk
