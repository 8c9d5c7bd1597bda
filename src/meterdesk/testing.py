"""Factories and helpers shared by the test suites (also usable from a shell)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import dj_database_url
import factory
import psycopg
from django.conf import settings
from django.db import models

from meterdesk.customers.models import Account, AccountLink, PremisesCategory, User
from meterdesk.devtools import database_url
from meterdesk.devtools import free_port as free_port  # re-exported: the tests' servers take theirs here
from meterdesk.metering.models import Channel, Meter, Reading, ReadingKind, ReadingStatus
from meterdesk.tariffs.models import Tariff, TariffBand, TariffKind, TariffPrice

MOSCOW = ZoneInfo("Europe/Moscow")
#: The PostgreSQL server of the tests that need one when the test run's database is SQLite.
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432"
PASSWORD = "correct-horse-battery-9"

_M = TypeVar("_M", bound=models.Model)


class ModelFactory(factory.django.DjangoModelFactory[_M]):
    """A model's factory: calling it creates an instance (which the type checker is told)."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> _M: ...  # type: ignore[misc]


def moscow(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """An aware datetime in Moscow time."""
    return datetime.combine(date(year, month, day), time(hour, minute, second), tzinfo=MOSCOW)


class UserFactory(ModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(
        cls, instance: User, create: bool, results: dict[str, Any] | None = None
    ) -> None:
        """Save the password that set_password gave (what factory_boy does now, minus its warning)."""
        if create and results:
            instance.save()


class AccountFactory(ModelFactory[Account]):
    class Meta:
        model = Account

    number = factory.Sequence(lambda n: f"{5_000_000_000 + n:010d}")
    holder_name = "Сидоров Пётр Ильич"
    address = factory.Sequence(lambda n: f"г. Москва, ул. Тестовая, д. {n % 100 + 1}, кв. {n}")
    category = PremisesCategory.GAS_STOVE
    rooms = 2
    residents = 2
    opened_on = date(2024, 1, 1)


class MeterFactory(ModelFactory[Meter]):
    class Meta:
        model = Meter

    account = factory.SubFactory(AccountFactory)
    serial = factory.Sequence(lambda n: f"{40_000_000 + n}")
    zones = 2
    digits = 5
    decimal_places = 0
    installed_on = date(2024, 1, 10)
    verification_due = date(2040, 1, 1)
    initial_t1 = Decimal(1000)
    initial_t2 = factory.LazyAttribute(lambda m: Decimal(500) if m.zones >= 2 else None)
    initial_t3 = factory.LazyAttribute(lambda m: Decimal(700) if m.zones >= 3 else None)


class ReadingFactory(ModelFactory[Reading]):
    """An accepted customer's reading stored directly (history), bypassing reading_submit."""

    class Meta:
        model = Reading

    meter = factory.SubFactory(MeterFactory)
    account = factory.LazyAttribute(lambda r: r.meter.account)
    period = date(2024, 2, 1)
    t1 = Decimal(1100)
    t2 = factory.LazyAttribute(lambda r: Decimal(550) if r.meter.zones >= 2 else None)
    t3 = factory.LazyAttribute(lambda r: Decimal(760) if r.meter.zones >= 3 else None)
    kind = ReadingKind.CUSTOMER
    channel = Channel.WEB
    status = ReadingStatus.ACCEPTED
    submitted_at = factory.LazyAttribute(
        lambda r: datetime.combine(r.period.replace(day=20), time(12), tzinfo=MOSCOW)
    )
    confirmation = factory.Sequence(lambda n: f"T{n:011d}")


def link(user: User, account: Account) -> AccountLink:
    return AccountLink.objects.create(user=user, account=account)


def make_tariff(
    category: str = PremisesCategory.GAS_STOVE,
    prices: tuple[str, ...] = ("9.45", "4.08"),
    valid_from: date = date(2024, 1, 1),
    valid_to: date | None = None,
    bands: tuple[Decimal | None, ...] = (),
    band_prices: dict[tuple[int, int], str] | None = None,
    region: str = "moscow",
) -> Tariff:
    """A tariff with one price per zone, or with volume bands and a price per (zone, band)."""
    kind = {1: TariffKind.SINGLE, 2: TariffKind.TWO_ZONE, 3: TariffKind.THREE_ZONE}[len(prices)]
    tariff = Tariff.objects.create(
        region=region, category=category, kind=kind, valid_from=valid_from, valid_to=valid_to
    )
    if bands:
        for number, upper in enumerate(bands, start=1):
            TariffBand.objects.create(tariff=tariff, band=number, upper_kwh=upper)
        assert band_prices is not None
        for (zone, band), price in band_prices.items():
            TariffPrice.objects.create(tariff=tariff, zone=zone, band=band, price=Decimal(price))
    else:
        for zone, price in enumerate(prices, start=1):
            TariffPrice.objects.create(tariff=tariff, zone=zone, band=1, price=Decimal(price))
    return tariff


def smtp_settings(settings: Any, port: int, host: str = "127.0.0.1", timeout: int = 10) -> None:
    """Point Django's mail at a plain SMTP server on ``host:port`` (a test's aiosmtpd, or a port
    where nothing listens): no TLS, no login."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = host
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = timeout


@contextlib.contextmanager
def scratch_postgres(name: str, *, create: bool, server: str | None = None) -> Iterator[str]:
    """The URL of a database ``name`` of its own on the PostgreSQL server of ``server`` or else of
    the test run's database (else the local one), created first if ``create`` (else its user
    creates it), dropped after. For tests that always run on PostgreSQL, in the SQLite pass of
    the suite too."""
    database = settings.DATABASES["default"]
    if server:
        database = dj_database_url.parse(server)
    elif "postgresql" not in str(database.get("ENGINE", "")):
        database = dj_database_url.parse(f"{LOCAL_POSTGRES}/postgres")

    def admin() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(database.get("HOST") or "127.0.0.1"),
            port=int(database.get("PORT") or 5432),
            user=str(database.get("USER") or "postgres"),
            password=str(database["PASSWORD"]) if database.get("PASSWORD") else None,
            dbname="postgres",
            autocommit=True,
        )

    if create:
        with admin() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            db.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield database_url({**database, "NAME": name})
    finally:
        with admin() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
