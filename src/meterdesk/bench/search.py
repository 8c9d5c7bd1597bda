"""`meterdesk bench search`: the back office's search box (``backoffice.search.customers_find``) on
a large utility, against the floor of a plain indexed lookup by account number.

The database (PostgreSQL, its name must contain "bench") is migrated, then built in two steps,
each skipped when already done:

* accounts: when it has none, N accounts with one meter each (set-based SQL); a copy of the
  billing bench's database (``createdb -T meterdesk_bench …``) already has them;
* contacts (``bench_search_info`` marks them done): every payer gets a surname, a first name and a
  patronymic, every account a varied street address with house and flat; 60 % of the accounts
  get a login (e-mail, full name) linked to them, with a mobile phone. The trigram indexes are
  dropped while the names are written and made again after.

Then ``queries`` mixed searches (account number, meter serial, phone typed as people type it,
e-mail, surname, a loose address such as "ленина 5 12"), drawn from the data with a fixed seed,
are timed one by one through ``customers_find``; and as many lookups ``Account.objects.get(number=…)``.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from meterdesk.bench.billing import BenchError, _Conn, bench_django
from meterdesk.cliutil import migrate

DATABASE_NAME = "meterdesk_bench_search"
LOGINS = 0.6  # the share of accounts with a login (and its phone)
KINDS = ("number", "serial", "phone", "email", "surname", "address")

SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Федоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семенов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьев",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьев",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королев",
    "Гусев",
    "Киселев",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалев",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
    "Матвеев",
    "Титов",
    "Марков",
    "Миронов",
    "Крылов",
    "Куликов",
    "Карпов",
    "Власов",
    "Мельников",
    "Денисов",
    "Гаврилов",
    "Тихонов",
    "Казаков",
    "Афанасьев",
    "Данилов",
    "Савельев",
    "Тимофеев",
    "Фомин",
    "Чернов",
    "Абрамов",
    "Мартынов",
    "Ефимов",
    "Федотов",
    "Щербаков",
    "Назаров",
    "Калинин",
    "Исаев",
    "Чернышев",
    "Быков",
    "Маслов",
    "Родионов",
    "Коновалов",
    "Лазарев",
    "Воронин",
    "Климов",
    "Филатов",
    "Пономарев",
    "Голубев",
    "Кудрявцев",
    "Прохоров",
    "Наумов",
    "Потапов",
    "Журавлев",
    "Овчинников",
]
FIRST_NAMES = [
    "Александр",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Алексей",
    "Максим",
    "Иван",
    "Михаил",
    "Николай",
    "Владимир",
    "Евгений",
    "Павел",
    "Роман",
    "Олег",
    "Юрий",
    "Виктор",
    "Игорь",
    "Артем",
    "Константин",
    "Денис",
]
PATRONYMICS = [
    "Александрович",
    "Сергеевич",
    "Дмитриевич",
    "Андреевич",
    "Алексеевич",
    "Иванович",
    "Михайлович",
    "Николаевич",
    "Владимирович",
    "Петрович",
    "Викторович",
    "Юрьевич",
]
STREETS = [
    "ул. Ленина",
    "ул. Мира",
    "ул. Советская",
    "ул. Садовая",
    "ул. Центральная",
    "ул. Школьная",
    "ул. Лесная",
    "ул. Новая",
    "ул. Молодежная",
    "ул. Гагарина",
    "ул. Пушкина",
    "ул. Кирова",
    "ул. Набережная",
    "ул. Заречная",
    "ул. Полевая",
    "ул. Октябрьская",
    "ул. Комсомольская",
    "ул. Первомайская",
    "ул. Луговая",
    "ул. Садовая-Кудринская",
    "ул. Чехова",
    "ул. Горького",
    "ул. Лермонтова",
    "ул. Чапаева",
    "ул. Мичурина",
    "ул. Строителей",
    "ул. Победы",
    "ул. Матросова",
    "ул. Калинина",
    "ул. Фрунзе",
    "ул. Маяковского",
    "ул. Суворова",
    "ул. Энгельса",
    "ул. Лесозаводская",
    "пр-т Мира",
    "пр-т Ленина",
    "пр-т Победы",
    "пр-т Вернадского",
    "Ленинский пр-т",
    "Кутузовский пр-т",
    "пер. Почтовый",
    "пер. Кривоколенный",
    "пер. Садовый",
    "пер. Школьный",
    "б-р Гоголевский",
    "б-р Цветной",
    "ш. Энтузиастов",
    "ш. Варшавское",
    "наб. Пресненская",
    "наб. Космодамианская",
    "ул. Большая Полянка",
    "ул. Малая Ордынка",
    "ул. Новый Арбат",
    "ул. Тверская",
    "ул. Мясницкая",
    "ул. Покровка",
    "ул. Маросейка",
    "ул. Пятницкая",
    "ул. Профсоюзная",
    "ул. Дубнинская",
]


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: tuple[str, ...] | list[str], key: str, salt: int) -> str:
    """An element of ``values`` chosen by (key, salt), set-based and the same every build."""
    return f"({_array(values)})[1 + ((hashint8extended({key}, {salt}) & 2147483647) % {len(values)})]"


def _accounts_build(db: Any, n: int, say: Callable[[str], None]) -> None:
    """N accounts with one meter each, for a database that has none."""
    say(f"Building {n} accounts with a meter each …")
    db.execute(
        "INSERT INTO customers_account (id, number, holder_name, address, category, rooms, residents, "
        "opened_on, meter_required) "
        "SELECT i, (1000000000 + i)::text, '', '', 'gas_stove', 1 + i %% 4, 1 + i %% 5, "
        "DATE '2020-01-01', true FROM generate_series(1, %s) i",
        [n],
    )
    db.execute(
        "INSERT INTO metering_meter (id, serial, model_name, zones, digits, decimal_places, installed_on, "
        "verification_due, status, initial_t1, account_id) "
        "SELECT i, (10000000 + i)::text, 'Меркурий', 1 + i %% 3, 6, 0, DATE '2020-01-01', DATE '2030-01-01', "
        "'active', 0, i FROM generate_series(1, %s) i",
        [n],
    )
    for table in ("customers_account", "metering_meter"):
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608


TRIGRAM_INDEXES = (
    ("backoffice_account_address_trgm", "customers_account", "address"),
    ("backoffice_account_holder_trgm", "customers_account", "holder_name"),
    ("backoffice_user_full_name_trgm", "customers_user", "full_name"),
)


def _name(key: str) -> str:
    return (
        f"{_pick(SURNAMES, key, 1)} || ' ' || {_pick(FIRST_NAMES, key, 2)} || ' ' || "
        f"{_pick(PATRONYMICS, key, 3)}"
    )


def contacts_build(db: Any, say: Callable[[str], None]) -> dict[str, float]:
    """Names, addresses, logins and phones (see the module's docstring); seconds per step."""
    seconds: dict[str, float] = {}

    def step(name: str, *sql: str) -> None:
        started = time.perf_counter()
        for statement in sql:
            db.execute(statement)
        seconds[name] = round(time.perf_counter() - started, 1)
        say(f"  {name:<12} {seconds[name]:7.1f} s")

    say("Adding names, addresses, logins and phones …")
    step("drop_trgm", *(f"DROP INDEX IF EXISTS {name}" for name, _t, _c in TRIGRAM_INDEXES))
    # Streets, houses 1-150 and flats 1-120 from the id: "ленина 5 12" names about one account.
    step(
        "accounts",
        f"UPDATE customers_account SET holder_name = {_name('id')}, address = 'г. Москва, ' || "  # noqa: S608
        f"{_pick(STREETS, 'id', 4)} || ', д. ' || (1 + (hashint8extended(id, 5) & 2147483647) % 150) || "
        "', кв. ' || (1 + (hashint8extended(id, 6) & 2147483647) % 120)",
    )
    step(
        "logins",
        "INSERT INTO customers_user (password, is_superuser, email, full_name, language, is_staff, "  # noqa: S608
        "is_active, date_joined, email_verified_at) "
        "SELECT '!', false, 'client' || id || '@example.ru', holder_name, 'ru', false, true, now(), now() "
        f"FROM customers_account WHERE (hashint8extended(id, 7) & 2147483647) % 1000 < {int(LOGINS * 1000)}",
        "INSERT INTO customers_accountlink (user_id, account_id, linked_at) "
        "SELECT u.id, substr(u.email, 7, strpos(u.email, '@') - 7)::bigint, now() FROM customers_user u "
        "WHERE u.email LIKE 'client%@example.ru'",
        "INSERT INTO customers_phone (user_id, number, label, added_at) "
        "SELECT u.id, '+79' || lpad(((hashint8extended(u.id, 8) & 2147483647) % 1000000000)::text, 9, '0'), "
        "'mobile', now() FROM customers_user u WHERE u.email LIKE 'client%@example.ru' "
        "ON CONFLICT DO NOTHING",
    )
    step(
        "trgm",
        *(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
            for name, table, column in TRIGRAM_INDEXES
        ),
    )
    step(
        "analyze",
        *(
            f"ANALYZE {t}"
            for t in ("customers_account", "customers_user", "customers_accountlink", "customers_phone")
        ),
    )
    step("vacuum", "VACUUM customers_account")
    db.execute("CREATE TABLE bench_search_info (built_at timestamptz DEFAULT now())")
    db.execute("INSERT INTO bench_search_info DEFAULT VALUES")
    return seconds


def _database_ready(conn: _Conn, accounts: int, say: Callable[[str], None]) -> dict[str, float]:
    with conn.connect("postgres") as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [conn.name]).fetchone():
            admin.execute(f'CREATE DATABASE "{conn.name}"')
    migrate()
    from django.db import connections

    connections.close_all()
    with conn.connect() as db:
        if db.execute("SELECT to_regclass('bench_search_info') IS NOT NULL").fetchone()[0]:
            say(f"Reusing the data in {conn.name}.")
            return {}
        if not db.execute("SELECT 1 FROM customers_account LIMIT 1").fetchone():
            _accounts_build(db, accounts, say)
        return contacts_build(db, say)


def _phone_typed(e164: str, i: int) -> str:
    """A phone number as a member of staff types it: in one of the usual forms."""
    d = e164[2:]
    forms = (e164, f"8{d}", f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}", f"+7 {d[:3]} {d[3:6]} {d[6:]}")
    return forms[i % len(forms)]


def _address_loose(address: str) -> str:
    """ "г. Москва, ул. Ленина, д. 5, кв. 12" typed loosely: "ленина 5 12"."""
    parts = [p.strip() for p in address.split(",")]
    street = " ".join(w for w in parts[1].split() if not w.endswith(".") and "-т" not in w)
    house = parts[2].split()[-1]
    flat = parts[3].split()[-1]
    return f"{street.lower()} {house} {flat}"


def queries_make(count: int, seed: int) -> list[tuple[str, str, int]]:
    """``count`` searches (kind, text, the account it names), kinds in turn, accounts at random."""
    from meterdesk.customers.models import Account, AccountLink, Phone
    from meterdesk.metering.models import Meter

    rng = random.Random(seed)  # noqa: S311 - the same searches every run
    top = Account.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    logins = list(AccountLink.objects.order_by("pk").values_list("pk", flat=True)[:1]) + list(
        AccountLink.objects.order_by("-pk").values_list("pk", flat=True)[:1]
    )
    out: list[tuple[str, str, int]] = []
    while len(out) < count:
        kind = KINDS[len(out) % len(KINDS)]
        if kind in ("phone", "email"):
            if not logins:
                continue
            link = (
                AccountLink.objects.filter(pk__gte=rng.randint(logins[0], logins[-1])).order_by("pk").first()
            )
            if link is None:
                continue
            if kind == "email":
                out.append((kind, link.user.email, link.account_id))
            else:
                phone = Phone.objects.filter(user_id=link.user_id).first()
                if phone is not None:
                    out.append((kind, _phone_typed(phone.number, len(out)), link.account_id))
            continue
        account = Account.objects.filter(pk__gte=rng.randint(1, max(top, 1))).order_by("pk").first()
        if account is None:
            continue
        if kind == "number":
            out.append((kind, account.number, account.pk))
        elif kind == "serial":
            meter = Meter.objects.filter(account=account).first()
            if meter is not None:
                out.append((kind, meter.serial, account.pk))
        elif kind == "surname":
            out.append((kind, account.holder_name.split()[0], account.pk))
        elif "кв." in account.address:
            out.append((kind, _address_loose(account.address), account.pk))
    return out


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return round(values[0], 2) if values else 0.0
    return round(statistics.quantiles(values, n=20, method="inclusive")[18], 2)


def figures_make(times: dict[str, list[float]], floor: list[float], found: int, total: int) -> dict[str, Any]:
    every = [t for ts in times.values() for t in ts]
    p95 = _p95(every)
    floor_p95 = _p95(floor)
    return {
        "queries": len(every),
        "p95_ms": p95,
        "median_ms": round(statistics.median(every), 2) if every else 0.0,
        "max_ms": round(max(every), 2) if every else 0.0,
        "floor_p95_ms": floor_p95,
        "ratio_to_floor": round(p95 / floor_p95, 1) if floor_p95 else None,
        "p95_ms_by_kind": {kind: _p95(ts) for kind, ts in times.items()},
        "found_the_account": found,
        "of": total,
    }


def bench_search(
    *,
    accounts: int,
    queries: int,
    seed: int = 1,
    find: Callable[[str], list[Any]],
    database_url: str | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """``find``: the search measured, ``backoffice.search.customers_find`` (given by the command,
    as only commands import a channel)."""
    conn = bench_django(database_url, DATABASE_NAME)
    build = _database_ready(conn, accounts, say)
    from meterdesk.customers.models import Account

    searches = queries_make(queries, seed)
    if not searches:
        raise BenchError(f"no account to search for in {conn.name}")
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    found = 0
    find("прогрев")  # the connection made, the modules loaded
    for kind, text, account_id in searches:
        started = time.perf_counter()
        result = find(text)
        times[kind].append((time.perf_counter() - started) * 1000)
        # A surname names thousands of accounts (the first 50 are listed): not counted.
        found += kind != "surname" and any(a.pk == account_id for a in result)
    numbers = dict(Account.objects.filter(pk__in=[s[2] for s in searches]).values_list("pk", "number"))
    floor = []
    for _kind, _text, account_id in searches:
        number = numbers[account_id]
        started = time.perf_counter()
        Account.objects.filter(number=number).first()
        floor.append((time.perf_counter() - started) * 1000)
    named = sum(1 for s in searches if s[0] != "surname")
    figures = figures_make(times, floor, found, named)
    figures["accounts"] = Account.objects.count()
    if build:
        figures["build_seconds"] = build
    return figures
