"""A synthetic utility built in PostgreSQL with set-based SQL (no ORM, no Python loops per row).

``synth_build`` fills a freshly migrated database with N accounts and two years of history up to
the month P to be closed:

* accounts: categories gas 60 %, electric 25 %, rural 10 %, "treated as households" 5 %; 1-4
  rooms, 1-5 residents; 1 % have no meter (billed by the increased norm); 5 % have a residents
  change in their history;
* one meter per metered account: 1, 2 or 3 zones (50/35/15 %), 5, 6 or 7 digits; 3 % start close
  to their maximum and roll over at some point of the history; 0.5 % fail in month P (their
  verification falls due), so that they are billed by average;
* a customer reading every month from P-23 to P, cumulative with seasonal variation (+30 % in
  January, -30 % in July) and noise; about 7 % of the months are missing (never more than three
  in a row), so month P has estimates to true up;
* ledger: a charge for every account and month up to P-1 and the payments: 90 % pay each bill
  the next month, 7 % two months late, 3 % stop paying after the first year (their debt accrues
  penalties);
* the state of month P-1, as the close of P-1 would have left it: the runs of every month up to
  P-1, the meter states of P-1 (last actual reading, anchors for the average, estimates since the
  last actual reading) and the monthly statements of P-1.

Everything is a pure function of (account id, seed): the same N and seed give the same data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from meterdesk.domain.periods import add_months

HISTORY = 24  # months of readings, P-23 .. P
NO_METER = 0.01
ROLLOVER = 0.03
FAILED = 0.005
MISSING = 0.07


def _sql_functions(seed: int) -> list[str]:
    salt = int(seed) * 1000
    return [
        # A uniform number in [0, 1) from (key, salt): deterministic, set-based.
        "CREATE FUNCTION pg_temp.rnd(k bigint, s int) RETURNS float8 LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT (hashint8extended(k, s + {salt}) & 2147483647)::float8 / 2147483648.0 $$",
        # A month without a reading: about 7 %, never four in a row (month index m modulo 4
        # equal to the meter's always has one).
        "CREATE FUNCTION pg_temp.missing(meter bigint, m int) RETURNS boolean LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT pg_temp.rnd(meter, 200 + m) < {MISSING} AND (m % 4) <> (meter % 4)::int $$",
        # Cumulative consumption of a zone from the start of the history to the end of month m.
        "CREATE FUNCTION pg_temp.cum(base float8, share float8, cs float8, meter bigint, m int) RETURNS bigint "
        "LANGUAGE sql IMMUTABLE AS "
        "$$ SELECT floor(base * share * (cs + 0.15 * (2 * pg_temp.rnd(meter, 100 + m) - 1)))::bigint $$",
        # The values of a meter's zones as the codec writes them: "1.000","2.000".
        "CREATE FUNCTION pg_temp.zv(zones int, a numeric, b numeric, c numeric) RETURNS text "
        "LANGUAGE sql IMMUTABLE AS $$ SELECT '\"' || to_char(a, 'FM999999999990.000') || '\"' || "
        "CASE WHEN zones > 1 THEN ',\"' || to_char(b, 'FM999999999990.000') || '\"' ELSE '' END || "
        "CASE WHEN zones > 2 THEN ',\"' || to_char(c, 'FM999999999990.000') || '\"' ELSE '' END $$",
    ]


def _steps(n: int, period: date) -> list[tuple[str, str]]:
    first = add_months(period, -(HISTORY - 1))
    opened = add_months(first, -1)
    prev = add_months(period, -1)
    p, p1, f, o = (f"DATE '{d.isoformat()}'" for d in (period, prev, first, opened))
    lp = HISTORY - 1  # the index of month P; months are 0 .. lp
    lp1 = lp - 1  # P-1

    def cum(zone: int, meter: str = "p", month: str = "mo") -> str:
        return f"pg_temp.cum({meter}.base, {meter}.s{zone}, {month}.cs, {meter}.meter_id, {month}.m)"

    def first_present(candidates: list[str], meter: str) -> str:
        whens = " ".join(f"WHEN NOT pg_temp.missing({meter}, {c}) THEN {c}" for c in candidates[:-1])
        return f"CASE {whens} ELSE {candidates[-1]} END"

    # The anchors after the far one: the months L-5 .. L-1 that have a reading.
    anchors = "\n    ".join(
        f"|| CASE WHEN NOT pg_temp.missing(p.meter_id, p.lm - {k}) THEN ',' || pg_temp.pt(p, a, p.lm - {k}) ELSE '' END"
        for k in range(5, 0, -1)
    )
    return [
        (
            "months",
            f"""
CREATE TEMP TABLE bench_month AS
SELECT m, (({f})::timestamp + make_interval(months => m))::date AS period,
       1 + 0.3 * cos(2 * pi() * (extract(month FROM ({f})::timestamp + make_interval(months => m)) - 1) / 12)
           AS season
FROM generate_series(0, {lp}) m;
ANALYZE bench_month;
ALTER TABLE bench_month ADD COLUMN cs float8, ADD COLUMN run_id bigint,
    ADD COLUMN submitted timestamptz;
UPDATE bench_month SET submitted = ((period + 19)::timestamp + interval '8 hours') AT TIME ZONE 'Europe/Moscow';
UPDATE bench_month b SET cs = s.cs
FROM (SELECT m, SUM(season) OVER (ORDER BY m) AS cs FROM bench_month) s WHERE s.m = b.m;
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "accounts",
            f"""
INSERT INTO customers_account
    (id, number, holder_name, address, category, rooms, residents, opened_on, closed_on, meter_required)
SELECT i, (1000000000 + i)::text, 'Абонент ' || i,
       'г. Москва, ул. Тестовая, д. ' || (1 + i % 120) || ', кв. ' || (1 + i % 400),
       CASE WHEN c < 0.60 THEN 'gas_stove' WHEN c < 0.85 THEN 'electric_stove'
            WHEN c < 0.95 THEN 'rural' ELSE 'household_like' END,
       1 + floor(pg_temp.rnd(i, 2) * 4)::int, 1 + floor(pg_temp.rnd(i, 3) * 5)::int, {o}, NULL, true
FROM generate_series(1, {n}) i CROSS JOIN LATERAL (SELECT pg_temp.rnd(i, 1) AS c) r;
SELECT setval(pg_get_serial_sequence('customers_account', 'id'), {n});
INSERT INTO customers_residentschange (account_id, effective_from, residents, reported_on)
SELECT a.id, ({f} + ((a.id % {lp}) * 30 + 10)::int),
       GREATEST(1, a.residents + CASE WHEN a.id % 2 = 0 THEN 1 ELSE -1 END),
       ({f} + ((a.id % {lp}) * 30 + 10)::int)
FROM customers_account a WHERE pg_temp.rnd(a.id, 4) < 0.05;
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "meters",
            f"""
CREATE TEMP TABLE bench_plan AS
SELECT id AS meter_id, id AS account_id, zones, digits, (10 ^ digits)::bigint AS cap, base,
       CASE zones WHEN 1 THEN 1.0 WHEN 2 THEN 0.7 ELSE 0.3 END::float8 AS s1,
       CASE zones WHEN 1 THEN 0.0 WHEN 2 THEN 0.3 ELSE 0.3 END::float8 AS s2,
       CASE zones WHEN 3 THEN 0.4 ELSE 0.0 END::float8 AS s3,
       pg_temp.rnd(id, 8) < {ROLLOVER} AS rollover, pg_temp.rnd(id, 9) < {FAILED} AS failed
FROM (
    SELECT a.id,
           CASE WHEN pg_temp.rnd(a.id, 5) < 0.50 THEN 1 WHEN pg_temp.rnd(a.id, 5) < 0.85 THEN 2 ELSE 3 END AS zones,
           CASE WHEN pg_temp.rnd(a.id, 6) < 0.30 THEN 5 WHEN pg_temp.rnd(a.id, 6) < 0.85 THEN 6 ELSE 7 END AS digits,
           CASE WHEN a.category = 'electric_stove' THEN 300 + 600 * pg_temp.rnd(a.id, 7)
                ELSE 80 + 270 * pg_temp.rnd(a.id, 7) END AS base
    FROM customers_account a WHERE pg_temp.rnd(a.id, 10) >= {NO_METER}
) x;
ALTER TABLE bench_plan ADD COLUMN i1 bigint, ADD COLUMN i2 bigint, ADD COLUMN i3 bigint;
UPDATE bench_plan SET
    i1 = CASE WHEN rollover THEN cap - 1 - floor(base * s1 * {{cs}} * pg_temp.rnd(meter_id, 21))::bigint
              ELSE floor(cap / 4 * pg_temp.rnd(meter_id, 21))::bigint END,
    i2 = CASE WHEN zones < 2 THEN NULL
              WHEN rollover THEN cap - 1 - floor(base * s2 * {{cs}} * pg_temp.rnd(meter_id, 22))::bigint
              ELSE floor(cap / 4 * pg_temp.rnd(meter_id, 22))::bigint END,
    i3 = CASE WHEN zones < 3 THEN NULL
              WHEN rollover THEN cap - 1 - floor(base * s3 * {{cs}} * pg_temp.rnd(meter_id, 23))::bigint
              ELSE floor(cap / 4 * pg_temp.rnd(meter_id, 23))::bigint END;
ANALYZE bench_plan;
INSERT INTO metering_meter
    (id, account_id, serial, model_name, zones, digits, decimal_places, manufactured_on, installed_on,
     verification_due, status, removed_on, failed_on, initial_t1, initial_t2, initial_t3)
SELECT meter_id, account_id, (10000000 + meter_id)::text, 'Меркурий', zones, digits, 0,
       {o} - 100, {o} - 40,
       CASE WHEN failed THEN {p} + 5 ELSE {p} + 365 * (1 + (meter_id % 10))::int END,
       'active', NULL, NULL, i1, i2, i3
FROM bench_plan;
SELECT setval(pg_get_serial_sequence('metering_meter', 'id'), {n});
""".replace("{cs}", "(SELECT max(cs) FROM bench_month)"),  # noqa: S608
        ),
        (
            "readings",
            # Cumulative consumption up to month m, per zone: base × share × (seasons up to m +
            # noise within ±0.15), increasing month to month: a closed form, no window function.
            f"""
INSERT INTO metering_reading
    (meter_id, account_id, period, t1, t2, t3, kind, channel, status, submitted_at, confirmation,
     confirmed, rolled_over, replaces_id, submitted_by_id)
SELECT p.meter_id, p.account_id, mo.period,
       (p.i1 + {cum(1)}) % p.cap,
       CASE WHEN p.zones > 1 THEN (p.i2 + {cum(2)}) % p.cap END,
       CASE WHEN p.zones > 2 THEN (p.i3 + {cum(3)}) % p.cap END,
       'customer', 'web', 'accepted',
       mo.submitted + make_interval(hours => (p.meter_id % 12)::int),
       'B' || lpad(p.meter_id::text, 10, '0') || lpad(mo.m::text, 2, '0'), '', false, NULL, NULL
FROM bench_plan p CROSS JOIN bench_month mo WHERE NOT pg_temp.missing(p.meter_id, mo.m);
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "runs",
            f"""
INSERT INTO billing_billingrun (period, rules_profile, status, started_at, finished_at, chunk_size,
                               forced_checks, forced_reason, forced_by)
SELECT period, (SELECT rules_profile FROM utility_utilitysettings ORDER BY id LIMIT 1), 'done',
       (period + 32)::timestamp AT TIME ZONE 'Europe/Moscow',
       (period + 32)::timestamp AT TIME ZONE 'Europe/Moscow' + interval '1 hour', 2000, '[]', '', ''
FROM bench_month WHERE period < {p};
UPDATE bench_month mo SET run_id = r.id FROM billing_billingrun r WHERE r.period = mo.period;
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "ledger",
            # A charge per account and month up to P-1; payments by the kind of payer: 1 pays
            # each bill the next month, 2 two months late, 3 stops paying after the first year.
            f"""
-- Accounts that pay on time keep only their last three months (the close reads nothing older
-- of theirs); accounts in arrears keep the whole history (their penalties read it).
CREATE TEMP TABLE bench_charge AS
SELECT a.account_id, mo.m, mo.period, mo.run_id,
       round(((120 + 600 * pg_temp.rnd(a.account_id, 30) * a.electric)
             * mo.season * (0.9 + 0.2 * pg_temp.rnd(a.account_id, 300 + mo.m)))::numeric, 2) AS amount,
       a.payer
FROM (SELECT id AS account_id, CASE WHEN category = 'electric_stove' THEN 1.6 ELSE 1 END AS electric,
             CASE WHEN pg_temp.rnd(id, 31) < 0.90 THEN 1 WHEN pg_temp.rnd(id, 31) < 0.97 THEN 2 ELSE 3 END AS payer
      FROM customers_account) a
JOIN bench_month mo ON mo.period < {p} AND (a.payer <> 1 OR mo.m >= {lp - 3});
INSERT INTO billing_ledgerentry
    (account_id, period, posted_on, kind, basis, meter_id, zone, band, volume, price, amount, reason,
     detail, run_id, corrects_id, external_id, created_at)
SELECT c.account_id, c.period, (c.period + interval '1 month - 1 day')::date, 'charge', 'actual', NULL, 0, 1,
       NULL, NULL, c.amount, 'readings', '{{}}'::jsonb, c.run_id, NULL, NULL,
       (c.period + 32)::timestamp AT TIME ZONE 'Europe/Moscow'
FROM bench_charge c;
INSERT INTO billing_ledgerentry
    (account_id, period, posted_on, kind, basis, meter_id, zone, band, volume, price, amount, reason,
     detail, run_id, corrects_id, external_id, created_at)
SELECT c.account_id, pm.period, pm.period + (4 + c.account_id % 20)::int, 'payment', '', NULL, 0, 1,
       NULL, NULL, -c.amount, '', '{{}}'::jsonb, NULL, NULL, NULL,
       (pm.period + (4 + c.account_id % 20)::int)::timestamp AT TIME ZONE 'Europe/Moscow'
FROM bench_charge c JOIN bench_month pm ON pm.m = c.m + CASE c.payer WHEN 2 THEN 2 ELSE 1 END
WHERE c.payer <> 3 OR c.m < 12;
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "states",
            # The state each meter had after P-1: its last actual reading L (one of P-1..P-4),
            # the anchors kept for the average (the latest reading at least six months before L,
            # one of L-6..L-9, and every one after it), and the average billed for each month
            # since L. Month m's values come from arrays indexed by m + 1.
            f"""
CREATE TEMP TABLE bench_last AS
SELECT p.*, {first_present([str(lp1 - k) for k in range(4)], "p.meter_id")} AS lm
FROM bench_plan p;
ALTER TABLE bench_last ADD COLUMN fm int;
UPDATE bench_last SET fm = {first_present([f"lm - {k}" for k in range(6, 10)], "meter_id")};
CREATE TEMP TABLE bench_arrays AS
SELECT array_agg(cs ORDER BY m) AS cs, array_agg(to_char(period, 'YYYY-MM') ORDER BY m) AS lb FROM bench_month;
CREATE FUNCTION pg_temp.pt(p bench_last, a bench_arrays, x int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '["' || a.lb[x + 1] || '",[' || pg_temp.zv(p.zones,
        pg_temp.cum(p.base, p.s1, a.cs[x + 1], p.meter_id, x),
        pg_temp.cum(p.base, p.s2, a.cs[x + 1], p.meter_id, x),
        pg_temp.cum(p.base, p.s3, a.cs[x + 1], p.meter_id, x)) || '],0]' $$;
INSERT INTO billing_meterbillingstate (meter_id, account_id, period, data)
SELECT p.meter_id, p.account_id, {p1}, (
    '{{"raw":[' || pg_temp.zv(p.zones, (p.i1 + l1) % p.cap, (p.i2 + l2) % p.cap, (p.i3 + l3) % p.cap)
    || '],"last":' || pg_temp.pt(p, a, p.lm)
    || ',"anchors":[' || pg_temp.pt(p, a, p.fm)
    {anchors}
    || ']'
    || CASE WHEN p.lm < {lp1} THEN
           CASE WHEN a1 + a2 + a3 > 0 THEN
               ',"est":[' || pg_temp.zv(p.zones, ({lp1} - p.lm) * a1, ({lp1} - p.lm) * a2, ({lp1} - p.lm) * a3) || ']'
           ELSE '' END
           || ',"est_periods":["' || array_to_string(a.lb[p.lm + 2:{lp1 + 1}], '","') || '"]'
           || ',"missing_run":' || ({lp1} - p.lm)
       ELSE '' END
    || '}}')::jsonb
FROM bench_last p CROSS JOIN bench_arrays a
CROSS JOIN LATERAL (SELECT
    pg_temp.cum(p.base, p.s1, a.cs[p.lm + 1], p.meter_id, p.lm) AS l1,
    pg_temp.cum(p.base, p.s2, a.cs[p.lm + 1], p.meter_id, p.lm) AS l2,
    pg_temp.cum(p.base, p.s3, a.cs[p.lm + 1], p.meter_id, p.lm) AS l3,
    pg_temp.cum(p.base, p.s1, a.cs[p.fm + 1], p.meter_id, p.fm) AS f1,
    pg_temp.cum(p.base, p.s2, a.cs[p.fm + 1], p.meter_id, p.fm) AS f2,
    pg_temp.cum(p.base, p.s3, a.cs[p.fm + 1], p.meter_id, p.fm) AS f3) c
CROSS JOIN LATERAL (SELECT round(GREATEST(l1 - f1, 0)::numeric / (p.lm - p.fm), 3) AS a1,
                           round(GREATEST(l2 - f2, 0)::numeric / (p.lm - p.fm), 3) AS a2,
                           round(GREATEST(l3 - f3, 0)::numeric / (p.lm - p.fm), 3) AS a3) av;
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "statements",
            f"""
INSERT INTO billing_accountclose
    (account_id, period, run_id, basis, opening_balance, charges, recalculations, payments, penalty,
     closing_balance, due_date, closed_at)
SELECT l.account_id, {p1}, (SELECT run_id FROM bench_month WHERE m = {lp1}),
       CASE WHEN m.id IS NULL THEN 'norm_increased' ELSE 'actual' END,
       l.closing - l.charges - l.payments, l.charges, 0, l.payments, 0, l.closing,
       ({p} + 9), ({p} + 1)::timestamp AT TIME ZONE 'Europe/Moscow'
FROM (
    SELECT account_id, SUM(amount) AS closing,
           COALESCE(SUM(amount) FILTER (WHERE period = {p1} AND kind = 'charge'), 0) AS charges,
           COALESCE(SUM(amount) FILTER (WHERE period = {p1} AND kind = 'payment'), 0) AS payments
    FROM billing_ledgerentry WHERE period <= {p1} GROUP BY account_id
) l LEFT JOIN metering_meter m ON m.id = l.account_id;
""",  # noqa: S608 - built from numbers and dates only
        ),
        (
            "cleanup",
            "DROP TABLE bench_charge, bench_arrays, bench_last, bench_plan CASCADE;",
        ),
    ]


TABLES = (
    "customers_account",
    "customers_residentschange",
    "metering_meter",
    "metering_reading",
    "billing_ledgerentry",
    "billing_meterbillingstate",
    "billing_accountclose",
)


def _secondary_indexes(cursor: Any) -> tuple[list[str], list[str]]:
    """The filled tables' indexes other than primary keys: (statements that drop them,
    statements that build them again)."""
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s)",
        [list(TABLES)],
    )
    constraints = cursor.fetchall()
    drop = [f'ALTER TABLE {table} DROP CONSTRAINT "{name}"' for table, name, _d in constraints]
    build = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {d}' for table, name, d in constraints]
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
        [list(TABLES)],
    )
    for name, definition in cursor.fetchall():
        drop.append(f'DROP INDEX "{name}"')
        build.append(definition)
    return drop, build


def synth_build(
    cursor: Any, n: int, period: date, *, seed: int = 1, progress: Callable[[str, float], None] | None = None
) -> dict[str, float]:
    """Fill the migrated database (reference data loaded, no accounts) on a psycopg cursor in
    autocommit mode. Returns seconds per step.

    As in any bulk load, the secondary indexes are dropped first and built again at the end, and
    the deferred foreign-key triggers are off during the load (the data is consistent by
    construction)."""
    timings: dict[str, float] = {}

    def step(name: str, sql: str) -> None:
        started = time.perf_counter()
        cursor.execute(sql)
        timings[name] = time.perf_counter() - started
        if progress:
            progress(name, timings[name])

    cursor.execute("SET work_mem = '256MB'")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    cursor.execute("SET jit = off")
    for statement in _sql_functions(seed):
        cursor.execute(statement)
    drop, build = _secondary_indexes(cursor)
    for statement in drop:
        cursor.execute(statement)
    cursor.execute("SET session_replication_role = replica")
    try:
        for name, sql in _steps(n, period):
            step(name, sql)
    finally:
        cursor.execute("SET session_replication_role = DEFAULT")
    step("indexes", ";\n".join(build))
    step("vacuum", "VACUUM (ANALYZE)")
    step("checkpoint", "CHECKPOINT")
    return timings
