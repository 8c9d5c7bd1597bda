"""Demo data and realistic synthetic utilities.

``demo_load`` creates the demo customer (two accounts with two years of history) and the admin;
``seed_accounts`` creates N synthetic accounts: a mix of 1-, 2- and 3-zone meters and of
categories, two years of monthly readings with seasonal variation, some months missing and some
meters rolling over past their maximum.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.db import transaction
from django.db.models import Max

from meterdesk.customers.models import Account, AccountLink, PremisesCategory, User
from meterdesk.domain.periods import add_months, iter_months
from meterdesk.metering.models import Channel, Meter, Reading, ReadingKind, ReadingStatus
from meterdesk.reference import norms_load_moscow, tariffs_load_moscow
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import utility_get, utility_now, utility_zone

DEMO_EMAIL = "demo@example.com"
ADMIN_EMAIL = "admin@example.com"
DEMO_FLAT = ("7700000001", "11223344")
DEMO_HOUSE = ("7700000002", "55667788")
#: An account with no login yet, for trying the registration.
DEMO_UNREGISTERED = ("7700000003", "99001122")

ZONE_SHARES = {1: (1.0,), 2: (0.7, 0.3), 3: (0.3, 0.3, 0.4)}
CHANNELS = (
    [Channel.WEB] * 5
    + [Channel.API] * 2
    + [Channel.IVR] * 2
    + [Channel.EMAIL, Channel.TERMINAL, Channel.PAPER]
)
STREETS = [
    "ул. Тверская",
    "Ленинский пр-т",
    "ул. Профсоюзная",
    "ул. Арбат",
    "Кутузовский пр-т",
    "ул. Вавилова",
    "ул. Новый Арбат",
    "Мичуринский пр-т",
    "ул. Бутлерова",
    "Варшавское ш.",
    "ул. Генерала Белова",
]
# Synthetic people: a surname, a first name and a patronymic, all three of one gender. The male
# surnames end in -ов/-ев/-ин or -ий, so each has its female form (-ова/-ева/-ина, -ая); the
# patronymics are the fathers' names' stems, -ович/-евич for a man and -овна/-евна for a woman.
SURNAMES = (
    "Иванов", "Петров", "Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев", "Козлов", "Новиков",
    "Морозов", "Волков", "Васильев", "Зайцев", "Павлов", "Семёнов", "Голубев", "Виноградов",
    "Богданов", "Фёдоров", "Михайлов", "Беляев", "Тарасов", "Белов", "Комаров", "Орлов", "Макаров",
    "Андреев", "Ильин", "Гусев", "Титов", "Кузьмин", "Сорокин", "Никитин", "Калинин", "Фомин",
    "Галкин", "Вишневский", "Покровский", "Троицкий", "Успенский",
)  # fmt: skip
MALE_NAMES = (
    "Алексей", "Сергей", "Дмитрий", "Андрей", "Иван", "Михаил", "Александр", "Владимир", "Николай",
    "Павел", "Евгений", "Виктор", "Юрий", "Олег", "Игорь", "Максим", "Артём", "Роман", "Константин",
    "Василий",
)  # fmt: skip
FEMALE_NAMES = (
    "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Анна", "Ирина", "Светлана", "Екатерина", "Юлия",
    "Марина", "Галина", "Людмила", "Валентина", "Надежда", "Вера", "Ксения", "Дарья", "Анастасия",
    "Полина",
)  # fmt: skip
PATRONYMIC_STEMS = (
    "Александров", "Алексеев", "Андреев", "Анатольев", "Борисов", "Васильев", "Викторов",
    "Владимиров", "Геннадьев", "Григорьев", "Дмитриев", "Евгеньев", "Иванов", "Игорев", "Михайлов",
    "Николаев", "Олегов", "Павлов", "Петров", "Сергеев", "Юрьев", "Валерьев", "Степанов", "Фёдоров",
)  # fmt: skip
# Indexed by "female" (0 a man, 1 a woman); both genders have as many first names.
_SURNAMES = (SURNAMES, tuple(s[:-2] + "ая" if s.endswith("ий") else s + "а" for s in SURNAMES))
_FIRST_NAMES = (MALE_NAMES, FEMALE_NAMES)
_PATRONYMICS = (tuple(s + "ич" for s in PATRONYMIC_STEMS), tuple(s + "на" for s in PATRONYMIC_STEMS))
_PEOPLE = 2 * len(SURNAMES) * len(MALE_NAMES) * len(PATRONYMIC_STEMS)


def flat_area(rooms: int, n: int) -> Decimal:
    """A plausible total area of a flat of ``rooms`` rooms (m²), varied by the account's index
    without drawing from the random stream (so the rest of the seed stays as it was)."""
    return Decimal(16 * rooms + 14) + Decimal((n * 37) % 900) / 100


def person_name(rng: random.Random) -> str:
    """A synthetic person, "Surname First-name Patronymic", all of one gender (half are women).
    One random number picks the gender and the three parts: no slower than a surname alone."""
    rest, patronymic = divmod(rng.randrange(_PEOPLE), len(PATRONYMIC_STEMS))
    rest, first = divmod(rest, len(MALE_NAMES))
    female, surname = divmod(rest, len(SURNAMES))
    return f"{_SURNAMES[female][surname]} {_FIRST_NAMES[female][first]} {_PATRONYMICS[female][patronymic]}"


def seasonal(month: int) -> float:
    """More light and heat in winter: +30 % in January, -30 % in July."""
    return 1.0 + 0.3 * math.cos(2 * math.pi * (month - 1) / 12)


@dataclass
class MeterPlan:
    zones: int
    digits: int
    monthly_kwh: float
    start_values: tuple[Decimal, ...]


def plan_readings(
    rng: random.Random, plan: MeterPlan, months: list[date], missing_share: float
) -> Iterator[tuple[date, tuple[Decimal, ...]]]:
    """Cumulative values per month (with rollover past 10^digits), skipping some months."""
    capacity = 10**plan.digits
    values = [float(v) for v in plan.start_values]
    for period in months:
        used = plan.monthly_kwh * seasonal(period.month) * rng.uniform(0.85, 1.15)
        for zone, share in enumerate(ZONE_SHARES[plan.zones]):
            values[zone] = (values[zone] + used * share) % capacity
        if rng.random() < missing_share:
            continue
        yield period, tuple(Decimal(int(v)) for v in values)


def _submitted_at(rng: random.Random, period: date, window: tuple[int, int], zone: tzinfo) -> datetime:
    day = rng.randint(window[0], min(window[1], 28))
    moment = datetime.combine(period.replace(day=day), time(rng.randint(7, 22), rng.randint(0, 59)))
    return moment.replace(tzinfo=zone)


def history_readings(
    rng: random.Random,
    plan: MeterPlan,
    months: list[date],
    *,
    account: Account,
    meter: Meter,
    missing_share: float,
    zone: tzinfo,
    prefix: str,
    submitted_by: User | None = None,
) -> list[Reading]:
    """The customer's accepted readings of ``meter`` along ``plan``, one a month (some missing),
    unsaved; their confirmation numbers are ``prefix``, the account number and the month."""
    readings = []
    for period, values in plan_readings(rng, plan, months, missing_share=missing_share):
        padded = [*values, None, None][:3]
        readings.append(
            Reading(
                meter=meter,
                account=account,
                period=period,
                t1=values[0],
                t2=padded[1],
                t3=padded[2],
                kind=ReadingKind.CUSTOMER,
                channel=rng.choice(CHANNELS),
                status=ReadingStatus.ACCEPTED,
                submitted_at=_submitted_at(rng, period, (15, 26), zone),
                submitted_by=submitted_by,
                confirmation=f"{prefix}{account.number}{period:%y%m}",
            )
        )
    return readings


#: The demo utility's details, as on a real bill (name, INN/KPP, bank, accounts, address, phone).
#: All invented for the demo, so that nobody pays a real company through a demo bill's QR code:
#: the INN's check digit and the accounts' control keys (for the BIC) are valid, so that a bank
#: app reads the code, but the company, its bank, address and phone number are made up.
DEMO_UTILITY_DETAILS = {
    "name": "АО «Метердеск Энергосбыт»",
    "short_name": "Метердеск",
    "inn": "7700543213",
    "kpp": "770001001",
    "bank_name": "АО КБ «Северный Ясень»",
    "bic": "044525638",
    "settlement_account": "40702810600000012345",
    "correspondent_account": "30101810245250000638",
    "address": "109999, г. Москва, Амперный пр-д, д. 12",
    "phone": "+74950123456",
}


@transaction.atomic
def reference_load() -> UtilitySettings:
    """The utility's settings (with demo bank details) and the Moscow tariffs."""
    utility = utility_get()
    if not utility.inn:
        for field, value in DEMO_UTILITY_DETAILS.items():
            setattr(utility, field, value)
        utility.support_email = "support@meterdesk.localhost"
        utility.save()
    tariffs_load_moscow(utility.tariff_region)
    norms_load_moscow(utility.tariff_region)
    from meterdesk.orders.catalogue import services_load

    services_load()  # the paid and free services households may order
    return utility


def _history_months(today: date, count: int = 24) -> list[date]:
    last = add_months(today.replace(day=1), -1)
    return iter_months(add_months(last, -(count - 1)), last)


@transaction.atomic
def _demo_programme(first: date, today: date) -> None:
    """The responsible-customer programme from the demo's first month, this month's draw announced."""
    from meterdesk.programme.draw import draw_announce
    from meterdesk.programme.models import Programme

    programme, _created = Programme.objects.get_or_create(
        code="responsible",
        defaults={
            "name_ru": "Ответственный потребитель",
            "name_en": "Responsible customer",
            "months": 3,
            "prizes": 10,
            "prize_ru": "1 000 ₽ на лицевой счёт",
            "prize_en": "1,000 ₽ on the account",
            "starts_on": first.replace(day=1),
        },
    )
    draw_announce(programme, today.replace(day=1))


def demo_load(demo_password: str, admin_password: str, *, open_window: bool = True) -> None:
    """Create (or refresh) the demo customer, its two accounts with history, and the admin."""
    utility = reference_load()
    if open_window:
        utility.window_start_day, utility.window_end_day = 1, 31
        utility.save(update_fields=["window_start_day", "window_end_day"])
    today = utility_now(utility).date()
    zone = utility_zone(utility)
    months = _history_months(today)
    opened = months[0]
    rng = random.Random(354)  # noqa: S311 - demo data, not security
    demo = User.objects.filter(email=DEMO_EMAIL).first()
    if demo is None:
        demo = User.objects.create_user(DEMO_EMAIL, demo_password, full_name="Иванова Мария Петровна")
    else:
        demo.set_password(demo_password)
        demo.save(update_fields=["password"])
    admin = User.objects.filter(email=ADMIN_EMAIL).first()
    if admin is None:
        User.objects.create_superuser(ADMIN_EMAIL, admin_password, full_name="Администратор")
    else:
        admin.set_password(admin_password)
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["password", "is_staff", "is_superuser"])

    _demo_programme(months[0], today)

    specs = [
        (
            DEMO_FLAT,
            "г. Москва, ул. Профсоюзная, д. 43, кв. 118",
            PremisesCategory.GAS_STOVE,
            2,
            6,
            230.0,
            True,
        ),
        (
            DEMO_HOUSE,
            "Московская обл., г. Одинцово, ул. Садовая, д. 7",
            PremisesCategory.ELECTRIC_STOVE,
            3,
            6,
            640.0,
            True,
        ),
        (
            DEMO_UNREGISTERED,
            "г. Москва, ул. Вавилова, д. 12, кв. 5",
            PremisesCategory.GAS_STOVE,
            1,
            5,
            180.0,
            False,
        ),
    ]
    for (number, serial), address, category, zones, digits, monthly, link in specs:
        if Account.objects.filter(number=number).exists():
            continue
        account = Account.objects.create(
            number=number,
            holder_name="Иванова Мария Петровна" if link else "Петров Сергей Иванович",
            address=address,
            category=category,
            rooms=2 if zones == 2 else 4,
            residents=3,
            area=Decimal("54.30") if zones == 2 else Decimal("96.80"),
            opened_on=opened,
        )
        start = tuple(Decimal(rng.randint(1000, 20000)) for _ in range(zones))
        meter = Meter.objects.create(
            account=account,
            serial=serial,
            model_name={1: "Меркурий 201.5", 2: "Меркурий 200.02", 3: "Энергомера CE102"}[zones],
            zones=zones,
            digits=digits,
            installed_on=opened - timedelta(days=40),
            manufactured_on=opened - timedelta(days=400),
            verification_due=opened.replace(year=opened.year + 16),
            initial_t1=start[0],
            initial_t2=start[1] if zones > 1 else None,
            initial_t3=start[2] if zones > 2 else None,
        )
        plan = MeterPlan(zones, digits, monthly, start)
        readings = history_readings(
            rng,
            plan,
            months,
            account=account,
            meter=meter,
            missing_share=0.08,
            zone=zone,
            prefix="D",
            submitted_by=demo if link else None,
        )
        Reading.objects.bulk_create(readings)
        if link:
            AccountLink.objects.get_or_create(user=demo, account=account)


def seed_accounts(
    count: int,
    *,
    seed: int = 1,
    months: int = 24,
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Create ``count`` synthetic accounts with meters and ``months`` months of readings.

    Returns (accounts, readings) created. Account numbers continue after the highest existing one.
    """
    utility = reference_load()
    zone = utility_zone(utility)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    today = utility_now().date()
    history = _history_months(today, months)
    top = Account.objects.filter(number__startswith="1").aggregate(m=Max("number"))["m"]
    next_number = int(top) + 1 if top else 1_000_000_000
    categories = (
        [PremisesCategory.GAS_STOVE] * 12
        + [PremisesCategory.ELECTRIC_STOVE] * 5
        + [PremisesCategory.RURAL] * 2
        + [PremisesCategory.HOUSEHOLD_LIKE]
    )
    created_accounts = created_readings = 0
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with transaction.atomic():
            accounts = []
            for i in range(size):
                number = f"{next_number + start + i:010d}"
                accounts.append(
                    Account(
                        number=number,
                        holder_name=person_name(rng),
                        address=f"г. Москва, {rng.choice(STREETS)}, д. {rng.randint(1, 120)}, кв. {rng.randint(1, 400)}",
                        category=rng.choice(categories),
                        rooms=(rooms := rng.randint(1, 4)),
                        residents=rng.randint(1, 5),
                        area=flat_area(rooms, start + i),
                        opened_on=history[0],
                    )
                )
            Account.objects.bulk_create(accounts)
            accounts = list(
                Account.objects.filter(number__in=[a.number for a in accounts]).order_by("number")
            )
            meters, plans = [], []
            for account in accounts:
                zones = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
                digits = rng.choices((5, 6, 7), weights=(30, 55, 15))[0]
                capacity = 10**digits
                if rng.random() < 0.03:  # close to the maximum: will roll over during the history
                    start_values = tuple(Decimal(capacity - rng.randint(200, 1500)) for _ in range(zones))
                else:
                    start_values = tuple(Decimal(rng.randint(0, capacity // 4)) for _ in range(zones))
                electric = account.category == PremisesCategory.ELECTRIC_STOVE
                monthly = rng.uniform(300, 900) if electric else rng.uniform(80, 350)
                manufactured = history[0] - timedelta(days=rng.randint(100, 16 * 365))
                meters.append(
                    Meter(
                        account=account,
                        serial=f"{rng.randint(10**7, 10**9 - 1)}",
                        zones=zones,
                        digits=digits,
                        manufactured_on=manufactured,
                        installed_on=manufactured + timedelta(days=60),
                        verification_due=manufactured.replace(year=manufactured.year + 16),
                        initial_t1=start_values[0],
                        initial_t2=start_values[1] if zones > 1 else None,
                        initial_t3=start_values[2] if zones > 2 else None,
                    )
                )
                plans.append(MeterPlan(zones, digits, monthly, start_values))
            Meter.objects.bulk_create(meters)
            meters = list(Meter.objects.filter(account__in=accounts).order_by("account__number"))
            readings = []
            for account, meter, plan in zip(accounts, meters, plans, strict=True):
                readings += history_readings(
                    rng,
                    plan,
                    history,
                    account=account,
                    meter=meter,
                    missing_share=0.07,
                    zone=zone,
                    prefix="S",
                )
            Reading.objects.bulk_create(readings, batch_size=5000)
        created_accounts += size
        created_readings += len(readings)
        if progress:
            progress(size)
    return created_accounts, created_readings


def demo_bill_history(progress: Callable[[date], None] | None = None) -> int:
    """Close every month of the demo history (those not closed yet), and let the demo customer pay
    each bill a few days before it is due — except the last one, so that the dashboard shows a debt.
    Returns how many months were closed now."""
    from meterdesk.billing.close import billing_close
    from meterdesk.billing.models import AccountClose, BillingRun, RunStatus
    from meterdesk.billing.services import DuplicatePayment, payment_post

    today = utility_now().date()
    months = _history_months(today)
    closed = 0
    for index, period in enumerate(months):
        if BillingRun.objects.filter(period=period, status=RunStatus.DONE).exists():
            continue
        billing_close(period, force=index == 0)
        closed += 1
        if progress:
            progress(period)
        if period == months[-1]:
            continue
        for close in AccountClose.objects.filter(
            period=period, account__number__in=[DEMO_FLAT[0], DEMO_HOUSE[0]]
        ).select_related("account"):
            if close.closing_balance <= 0:
                continue
            paid_on = add_months(period, 1).replace(day=3 + close.account_id % 5)
            with contextlib.suppress(DuplicatePayment):
                payment_post(
                    account=close.account,
                    amount=close.closing_balance,
                    paid_on=paid_on,
                    external_id=f"demo-{close.account.number}-{period:%Y%m}",
                    source="demo",
                )
    return closed
