"""The close's read: what a chunk's engine needs, in a few queries per chunk (never per account).

``chunk_read`` loads the chunk's accounts not yet closed for the month, their meters, the meters'
states of the month before, the month's readings, the residents' history, last month's statements
and the month's posted lines; ``close_engine`` bills them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection

from meterdesk.billing.codec import db_money as _money
from meterdesk.billing.codec import state_loads
from meterdesk.billing.models import AccountClose, LedgerEntry, MeterBillingState
from meterdesk.customers.models import Account, ResidentsChange
from meterdesk.domain import billing as engine
from meterdesk.domain.bootstrap import state_from_history
from meterdesk.domain.month_reading import given_at, month_reading
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import RulesProfile
from meterdesk.metering.models import Meter, MeterStatus, Reading
from meterdesk.utility.selectors import reference_peek, utility_zone

#: The kinds of reading a month is billed from (``month_readings`` says which one counts).
MONTH_KINDS = ("customer", "control", "final")


@dataclass
class ChunkData:
    """A chunk's accounts to bill and everything the engine reads for them (plain data)."""

    #: (id, category, rooms, residents, meter_required, opened_on), by id.
    accounts: list[tuple[Any, ...]]
    meters: dict[int, list[engine.MeterInfo]]
    states: dict[int, engine.MeterState]
    readings: dict[int, engine.MonthReading]
    residents: dict[int, list[tuple[date, int]]]
    #: Last month's (closing balance, charges + recalculations) by account.
    previous: dict[int, tuple[Decimal, Decimal]]
    #: The month's lines already posted (payments, corrections): amount by kind, by account.
    posted: dict[int, dict[str, Decimal]]
    #: The opening balance, from the ledger, of an account without last month's statement.
    opening_from_ledger: dict[int, Decimal]


def chunk_read(
    span: list[int], period: date, profile: RulesProfile, *, after_fast: bool = False
) -> ChunkData | None:
    """What the engine needs to bill the accounts of ``span`` (first and last id) not yet closed for
    ``period``; None when there are none. ``after_fast``: the fast path has closed some of them, so
    only the rows of the remaining accounts and their meters are read."""
    end = engine.period_end(period)
    prev = add_months(period, -1)
    t_acc, t_meter = Account._meta.db_table, Meter._meta.db_table
    t_read, t_state = Reading._meta.db_table, MeterBillingState._meta.db_table
    t_close, t_ledger = AccountClose._meta.db_table, LedgerEntry._meta.db_table
    t_res = ResidentsChange._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT a.id, a.category, a.rooms, a.residents, a.meter_required, a.opened_on FROM {t_acc} a "  # noqa: S608
            f"WHERE a.id BETWEEN %s AND %s AND a.opened_on <= %s AND (a.closed_on IS NULL OR a.closed_on >= %s) "
            # Not closed for this month, nor for a later one (a rerun of a month must not post
            # lines behind a later statement).
            f"AND NOT EXISTS (SELECT 1 FROM {t_close} c WHERE c.account_id = a.id "
            f"AND c.account_id BETWEEN %s AND %s AND {_by_account('c.period')} >= %s) ORDER BY a.id",
            [*span, end, period, *span, period],
        )
        accounts = cur.fetchall()
        if not accounts:
            return None
        # After the fast path, read only what the remaining accounts need: their rows, and the
        # states and readings of their meters (found, as always, by the row's account in the span).
        only, ids = ("", []) if not after_fast else (" AND account_id = ANY(%s)", [[a[0] for a in accounts]])
        cur.execute(
            f"SELECT id, account_id, zones, digits, installed_on, removed_on, failed_on, verification_due, "  # noqa: S608
            f"status, initial_t1, initial_t2, initial_t3 FROM {t_meter} "
            f"WHERE account_id BETWEEN %s AND %s{only} AND installed_on <= %s ORDER BY account_id, installed_on, id",
            [*span, *ids, end],
        )
        meters: dict[int, list[engine.MeterInfo]] = defaultdict(list)
        for row in cur.fetchall():
            meters[row[1]].append(meter_info_from_row(row))
        by_meter, meter_ids = (
            ("", [])
            if not after_fast
            else (" AND meter_id = ANY(%s)", [[m.meter_id for ms in meters.values() for m in ms]])
        )
        cur.execute(
            f"SELECT meter_id, data FROM {t_state} WHERE account_id BETWEEN %s AND %s{by_meter} AND period = %s",  # noqa: S608
            [*span, *meter_ids, prev],
        )
        states: dict[int, engine.MeterState] = {mid: state_loads(data) for mid, data in cur.fetchall()}
        all_meters = [m for ms in meters.values() for m in ms]
        if any(m.meter_id not in states for m in all_meters):
            states.update(_older_states(cur, span, period, {m.meter_id for m in all_meters} - set(states)))
            missing = [m for m in all_meters if m.meter_id not in states]
            if missing:
                states.update(states_bootstrap(cur, missing, period, profile))
        cur.execute(
            f"SELECT meter_id, kind, t1, t2, t3, submitted_at FROM {t_read} "  # noqa: S608
            f"WHERE account_id BETWEEN %s AND %s{by_meter} "
            f"AND period = %s AND status = 'accepted' AND kind IN ('customer', 'control', 'final')",
            [*span, *meter_ids, period],
        )
        readings = month_readings(cur.fetchall())
        cur.execute(
            f"SELECT account_id, effective_from, residents FROM {t_res} WHERE account_id BETWEEN %s AND %s{only} "  # noqa: S608
            f"ORDER BY account_id, effective_from",
            [*span, *ids],
        )
        residents: dict[int, list[tuple[date, int]]] = defaultdict(list)
        for acc, effective, count in cur.fetchall():
            residents[acc].append((as_date(effective), count))
        cur.execute(
            f"SELECT account_id, closing_balance, charges + recalculations FROM {t_close} "  # noqa: S608
            f"WHERE account_id BETWEEN %s AND %s{only} AND period = %s",
            [*span, *ids, prev],
        )
        previous = {acc: (_money(bal), _money(billed)) for acc, bal, billed in cur.fetchall()}
        cur.execute(
            f"SELECT account_id, kind, SUM(amount) FROM {t_ledger} WHERE account_id BETWEEN %s AND %s{only} "  # noqa: S608
            f"AND period = %s GROUP BY account_id, kind",
            [*span, *ids, period],
        )
        posted: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for acc, kind, amount in cur.fetchall():
            posted[acc][kind] = _money(amount)
        without_close = [a[0] for a in accounts if a[0] not in previous]
        opening_from_ledger: dict[int, Decimal] = {}
        if without_close:
            cur.execute(
                f"SELECT account_id, SUM(amount) FROM {t_ledger} WHERE account_id BETWEEN %s AND %s{only} "  # noqa: S608
                f"AND period < %s GROUP BY account_id",
                [*span, *ids, period],
            )
            opening_from_ledger = {acc: _money(total) for acc, total in cur.fetchall()}
    return ChunkData(
        accounts=accounts,
        meters=meters,
        states=states,
        readings=readings,
        residents=residents,
        previous=previous,
        posted=posted,
        opening_from_ledger=opening_from_ledger,
    )


def meter_info_from_row(row: tuple[Any, ...]) -> engine.MeterInfo:
    (mid, _acc, zones, digits, installed, removed, failed_on, verification_due, status, i1, i2, i3) = row
    initial = tuple(_decimal(v or 0) for v in (i1, i2, i3))[:zones]
    return engine.MeterInfo(
        meter_id=mid,
        zones=zones,
        digits=digits,
        installed_on=installed,
        initial=initial,
        removed_on=removed,
        failed_from=engine.failed_from(
            verification_due=verification_due,
            failed_on=failed_on,
            marked_failed=status in (MeterStatus.FAILED, MeterStatus.LOST),
            installed_on=installed,
        ),
    )


def month_readings(rows: Iterable[tuple[Any, ...]]) -> dict[int, engine.MonthReading]:
    """The reading that counts for each meter, from rows of (meter id, kind, t1, t2, t3,
    submitted_at) of a month's accepted readings (the close's and the rebill's)."""
    by_meter: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_meter[row[0]].append(row)
    out: dict[int, engine.MonthReading] = {}
    for mid, found in by_meter.items():
        row = _counted(found, 1, 5)
        out[mid] = engine.MonthReading(tuple(_decimal(v) for v in row[2:5] if v is not None), row[1])
    return out


def _counted(rows: list[tuple[Any, ...]], kind: int, moment: int) -> tuple[Any, ...]:
    """Of a meter's accepted readings of one month (rows with the kind and the moment it was given
    at these positions), the one that counts (``domain.month_reading``)."""
    if len(rows) == 1:
        return rows[0]
    # The day a reading was given is the utility's (its time zone does not change in practice).
    zone = utility_zone(reference_peek().utility)
    counted = month_reading(given_at(r[kind], r[moment], zone, source=r) for r in rows)
    return rows[-1] if counted is None or counted.source is None else counted.source


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _by_account(column: str) -> str:
    """A period column compared so that PostgreSQL finds the rows by account, not by period.

    Planned with the statistics of before the close, the month being closed has no statements:
    ``period = <month>`` looked selective, the plan was driven by the (period, basis) index, and
    each chunk read every statement closed so far (the close was quadratic in the accounts).
    ``period + 0`` cannot use that index; the caller bounds the account ids."""
    return f"({column} + 0)" if connection.vendor == "postgresql" else column


def _decimal(value: Any) -> Decimal:
    """A decimal from the database (SQLite gives decimal columns back as floats: via str, 1100.6
    stays 1100.6 rather than 1100.5999999999999…)."""
    return value if type(value) is Decimal else Decimal(str(value))


def _older_states(cur: Any, span: list[int], period: date, wanted: set[int]) -> dict[int, engine.MeterState]:
    t_state = MeterBillingState._meta.db_table
    cur.execute(
        f"SELECT s.meter_id, s.data FROM {t_state} s JOIN (SELECT meter_id, MAX(period) AS p FROM {t_state} "  # noqa: S608
        f"WHERE account_id BETWEEN %s AND %s AND period < %s GROUP BY meter_id) t "
        f"ON s.meter_id = t.meter_id AND s.period = t.p",
        [*span, period],
    )
    return {mid: state_loads(data) for mid, data in cur.fetchall() if mid in wanted}


def states_bootstrap(
    cur: Any, meters: list[engine.MeterInfo], period: date, profile: RulesProfile
) -> dict[int, engine.MeterState]:
    """States of meters never billed here, from their accepted actual readings before ``period``."""
    t_read = Reading._meta.db_table
    by_id = {m.meter_id: m for m in meters}
    # Each month's accepted actual readings of each meter; the one that counts is its point.
    found: dict[int, dict[date, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(part))
        cur.execute(
            f"SELECT meter_id, period, kind, t1, t2, t3, submitted_at FROM {t_read} "  # noqa: S608
            f"WHERE meter_id IN ({marks}) "
            f"AND period < %s AND status = 'accepted' AND kind IN ('customer', 'control', 'initial')",
            [*part, period],
        )
        for row in cur.fetchall():
            found[row[0]][as_date(row[1])].append(row)
    points: dict[int, list[tuple[date, tuple[Decimal, ...]]]] = defaultdict(list)
    for mid, months in found.items():
        for p in sorted(months):
            row = _counted(months[p], 2, 6)
            points[mid].append((p, tuple(_decimal(v) for v in row[3:6] if v is not None)))
    return {mid: state_from_history(meter, points[mid], profile) for mid, meter in by_id.items()}
