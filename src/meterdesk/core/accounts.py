"""An account as every channel shows it: the reading window today, a meter's card, the money at a
glance and a statement's lines with their basis in words.

The portal, the API and the documents take these and only lay them out (HTML, JSON, PDF); a new
channel (e-mail, the phone line, the terminal, the back office) does the same. Words are in the
active language (``billing.messages``, ``metering.messages``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from meterdesk.billing.messages import balance_words, entry_words, entry_zone
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import AccountOverview, Statement, account_overview
from meterdesk.customers.models import Account, User
from meterdesk.domain import billing as engine
from meterdesk.metering.messages import window_message, zone_label
from meterdesk.metering.models import Meter, Reading
from meterdesk.metering.selectors import meter_is_failed, meter_last_reading
from meterdesk.tariffs.models import Tariff
from meterdesk.tariffs.selectors import NoTariffError, tariff_in_force
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import reading_window_get, utility_get, utility_now

ZERO = Decimal("0.00")


# --- the reading window ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowState:
    """The submission window as the customer sees it today (in the utility's zone)."""

    open: bool
    opens_on: date  # today's month's opening if open now, else the next one
    closes_on: date  # the last day of that window
    start_day: int
    end_day: int
    text: str  # the window in words ("Readings are accepted from the 15th to the 25th ...")


def window_state(utility: UtilitySettings | None = None, today: date | None = None) -> WindowState:
    utility = utility or utility_get()
    window = reading_window_get(utility)
    today = today or utility_now(utility).date()
    opens = window.next_opening(today)
    return WindowState(
        open=window.is_open(today),
        opens_on=opens,
        closes_on=window.bounds(opens.year, opens.month)[1],
        start_day=window.start_day,
        end_day=window.end_day,
        text=window_message(window.start_day, window.end_day),
    )


# --- a meter's card -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRow:
    label: str  # the zone in words
    band: int
    upper_kwh: Decimal | None  # the band's upper limit, None for a tariff without bands
    price: Decimal


@dataclass(frozen=True)
class MeterCard:
    meter: Meter
    last: Reading | None  # the last accepted reading
    last_values: list[tuple[str, Decimal]]  # its values by zone, with the zone in words
    tariff: Tariff | None  # the tariff in force today for the account and the meter's zones
    prices: list[PriceRow]
    failed: bool  # past its verification date: it counts as failed


def meter_card(meter: Meter, account: Account, today: date) -> MeterCard:
    utility = utility_get()
    last = meter_last_reading(meter)
    labels = [zone_label(meter.zones, z) for z in range(1, meter.zones + 1)]
    tariff = None
    prices: list[PriceRow] = []
    try:
        in_force = tariff_in_force(
            region=utility.tariff_region, category=account.category, zones=meter.zones, on=today
        )
    except NoTariffError:
        pass
    else:
        tariff = in_force.tariff
        spec = in_force.spec
        for (zone, band), price in sorted(spec.prices.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            upper = spec.band_limits[band - 1] if spec.has_bands else None
            prices.append(PriceRow(labels[zone - 1], band, upper, price))
    return MeterCard(
        meter=meter,
        last=last,
        last_values=list(zip(labels, last.values, strict=False)) if last else [],
        tariff=tariff,
        prices=prices,
        failed=meter_is_failed(meter, today),
    )


# --- the money ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneySummary:
    """An account's money at a glance: the balance, the last payment and the latest bill."""

    balance: Decimal  # positive a debt, negative a credit
    balance_text: str
    last_payment: LedgerEntry | None
    latest: AccountClose | None  # the latest monthly statement

    @property
    def debt(self) -> Decimal:
        return max(self.balance, Decimal(0))

    @property
    def credit(self) -> Decimal:
        return max(-self.balance, Decimal(0))

    @property
    def last_payment_amount(self) -> Decimal | None:
        return -self.last_payment.amount if self.last_payment is not None else None

    @property
    def latest_due(self) -> Decimal:
        return max(self.latest.closing_balance, ZERO) if self.latest is not None else Decimal(0)


def money_of(overview: AccountOverview) -> MoneySummary:
    return MoneySummary(
        balance=overview.balance,
        balance_text=balance_words(overview.balance),
        last_payment=overview.payment,
        latest=overview.latest,
    )


def money_summary(user: User, number: str) -> MoneySummary | None:
    """The money of the account ``number`` if it is linked to ``user`` (else None), read in one
    statement (``billing.selectors.account_overview``)."""
    overview = account_overview(user, number)
    return money_of(overview) if overview is not None else None


# --- statement lines ------------------------------------------------------------------------------


def line_basis(entry: LedgerEntry) -> str:
    """The basis code of a ledger line (a correction posted later has none of its own)."""
    return entry.basis or (engine.CORRECTION if entry.kind == EntryKind.CORRECTION else "")


def control_months(entries: Iterable[LedgerEntry]) -> set[tuple[date, int | None]]:
    """The (month, meter) pairs among ``entries`` whose values came from an inspector's control
    reading: a recalculation in such a month says so."""
    return {(e.period, e.meter_id) for e in entries if e.basis == engine.CONTROL}


def control_months_of(account: Account, periods: Iterable[date]) -> set[tuple[date, int | None]]:
    """``control_months`` of the account's whole ledger in ``periods``: for a page of lines that
    may not hold the control reading's own line."""
    rows = LedgerEntry.objects.filter(
        account=account, period__in=set(periods), basis=engine.CONTROL
    ).values_list("period", "meter_id")
    return set(rows)


def line_words(entry: LedgerEntry, control: set[tuple[date, int | None]]) -> str:
    """The basis of a ledger line in words; ``control`` from ``control_months``."""
    return entry_words(entry, after_control=(entry.period, entry.meter_id) in control)


@dataclass(frozen=True)
class StatementLine:
    entry: LedgerEntry
    basis: str  # the code (``line_basis``)
    words: str  # the basis in words
    meter: str  # the meter's serial, "" for a line without a meter
    zone: str  # the zone in words (``billing.messages.entry_zone``)
    band: int
    volume: Decimal | None
    price: Decimal | None
    amount: Decimal


def statement_line(entry: LedgerEntry, control: set[tuple[date, int | None]]) -> StatementLine:
    return StatementLine(
        entry=entry,
        basis=line_basis(entry),
        words=line_words(entry, control),
        meter=entry.meter.serial if entry.meter is not None else "",
        zone=entry_zone(entry),
        band=entry.band,
        volume=entry.volume,
        price=entry.price,
        amount=entry.amount,
    )


def statement_lines(statement: Statement) -> list[StatementLine]:
    """The charge lines of a monthly statement in the order the close wrote them (each meter's
    lines, its recalculation next to them), then the corrections posted later."""
    control = control_months(statement.lines)
    return [statement_line(e, control) for e in sorted(statement.lines, key=lambda e: e.pk)]
