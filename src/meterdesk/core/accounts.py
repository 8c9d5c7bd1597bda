"""An account as every channel shows it: the reading window today, a meter's card, the money at a
glance, a monthly statement (its totals, its lines with their basis in words, the payments and
the penalty), whether the month's readings are in and the months of an account's history with
what each was billed.

The portal, the API and the documents take these and only lay them out (HTML, JSON, PDF); a new
channel (e-mail, the phone line, the terminal, the back office) does the same. Words are in the
active language (``billing.messages``, ``metering.messages``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from meterdesk.billing.messages import balance_words, entry_words, entry_zone, penalty_words
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.pricing import MissingPrice, pricing_get
from meterdesk.billing.selectors import AccountOverview, Statement, account_overview
from meterdesk.customers.models import Account, User
from meterdesk.domain import billing as engine
from meterdesk.domain.tariffs import TariffSpec
from meterdesk.metering.check import OUT_OF_SERVICE
from meterdesk.metering.messages import window_message, zone_label
from meterdesk.metering.models import Meter, Reading
from meterdesk.metering.selectors import MonthRow, meter_is_failed, meter_last_reading
from meterdesk.tariffs.models import Tariff
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import Reference, reading_window_get, reference_get, utility_get, utility_now

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
    zone: int
    label: str  # the zone in words
    band: int
    upper_kwh: Decimal | None  # the band's upper limit, None for a tariff without bands
    price: Decimal


def price_rows(spec: TariffSpec) -> list[PriceRow]:
    """A tariff's prices band by band, each band's zones in order, with the zones in words."""
    rows = []
    for (zone, band), price in sorted(spec.prices.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        upper = spec.band_limits[band - 1] if spec.has_bands and band <= len(spec.band_limits) else None
        rows.append(PriceRow(zone, zone_label(spec.zones, zone), band, upper, price))
    return rows


@dataclass(frozen=True)
class MeterCard:
    meter: Meter
    labels: list[str]  # each zone in words, zone 1 first
    last: Reading | None  # the last accepted reading
    last_values: list[tuple[str, Decimal]]  # its values by zone, with the zone in words
    tariff: Tariff | None  # the tariff in force today for the account and the meter's zones
    prices: list[PriceRow]
    overdue: bool  # past its verification date
    failed: bool  # so marked, lost or overdue: it counts as failed
    accepts_readings: bool  # neither removed nor lost (``metering.check.OUT_OF_SERVICE``)


def meter_card(meter: Meter, account: Account, today: date, reference: Reference | None = None) -> MeterCard:
    """The card of ``meter`` of ``account`` on ``today``. ``reference``: the reference data as the
    caller has it (a list of cards reads it once); the tariff comes from its prices in memory."""
    reference = reference or reference_get()
    last = meter_last_reading(meter)
    labels = [zone_label(meter.zones, z) for z in range(1, meter.zones + 1)]
    pricing = pricing_get(reference.utility.tariff_region, reference)
    tariff: Tariff | None
    try:
        spec, tariff = pricing.tariff_record(account.category, meter.zones, today)
    except MissingPrice:
        tariff, prices = None, []
    else:
        prices = price_rows(spec)
    return MeterCard(
        meter=meter,
        labels=labels,
        last=last,
        last_values=list(zip(labels, last.values, strict=False)) if last else [],
        tariff=tariff,
        prices=prices,
        overdue=meter.verification_due < today,
        failed=meter_is_failed(meter, today),
        accepts_readings=meter.status not in OUT_OF_SERVICE,
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
        return amount_due(self.latest) if self.latest is not None else Decimal(0)


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


# --- a monthly statement -------------------------------------------------------------------------


def amount_due(close: AccountClose) -> Decimal:
    """What a statement asks to pay: its closing balance if that is a debt, else nothing."""
    return max(close.closing_balance, ZERO)


@dataclass(frozen=True)
class StatementTotals:
    """A closed month's sums as its statement shows them, from the close alone (for a list of
    months). Payments received count positive here; in the ledger they are negative."""

    period: date
    basis: str
    opening_balance: Decimal  # positive a debt, negative a credit
    charges: Decimal
    recalculations: Decimal
    billed: Decimal  # charges and recalculations
    paid: Decimal
    penalty: Decimal
    closing_balance: Decimal
    due: Decimal  # ``amount_due``
    due_date: date
    closed_at: datetime


#: What ``StatementTotals`` takes from the close as it is.
_CLOSE_AS_IS = (
    "period",
    "basis",
    "opening_balance",
    "charges",
    "recalculations",
    "penalty",
    "closing_balance",
    "due_date",
    "closed_at",
)


def statement_totals(close: AccountClose) -> StatementTotals:
    return StatementTotals(
        **{name: getattr(close, name) for name in _CLOSE_AS_IS},
        billed=close.charges + close.recalculations,
        paid=-close.payments,
        due=amount_due(close),
    )


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
    lines, its recalculation next to them), then the corrections posted later; paid services last."""
    control = control_months(statement.lines)
    ordered = sorted(statement.lines, key=lambda e: (e.kind == EntryKind.SERVICE, e.pk))
    return [statement_line(e, control) for e in ordered]


@dataclass(frozen=True)
class PaymentLine:
    entry: LedgerEntry
    on: date  # the day it was paid
    amount: Decimal  # positive


@dataclass(frozen=True)
class PenaltyLine:
    entry: LedgerEntry
    amount: Decimal
    parts: list[str]  # how it was reckoned, a sentence a part (``billing.messages.penalty_words``)


@dataclass(frozen=True)
class StatementView:
    """A monthly statement as every channel shows it: the month's sums, each line with its basis
    in words and the lines' total (corrections posted after the close included), the payments
    received and the penalty with its reasons."""

    period: date
    totals: StatementTotals
    lines: list[StatementLine]
    lines_total: Decimal
    payments: list[PaymentLine]  # in the order the ledger holds them
    penalties: list[PenaltyLine]


def statement_view(statement: Statement) -> StatementView:
    """The view of ``statement`` (``billing.selectors.statement_get``), words in the active
    language."""
    totals = statement_totals(statement.close)
    return StatementView(
        period=totals.period,
        totals=totals,
        lines=statement_lines(statement),
        lines_total=sum((e.amount for e in statement.lines), ZERO),
        payments=[PaymentLine(e, e.posted_on, -e.amount) for e in statement.payments],
        penalties=[PenaltyLine(e, e.amount, penalty_words(e.detail)) for e in statement.penalty],
    )


# --- the month's readings -------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterMonthReading:
    card: MeterCard
    given: Reading | None  # the accepted reading of the month, None: not given yet


@dataclass(frozen=True)
class MonthReadings:
    """Whether the readings of the month (today's, in the utility's zone) are in, meter by meter
    (those that accept readings), with the window that takes them."""

    period: date
    meters: list[MeterMonthReading]
    window: WindowState

    @property
    def given(self) -> bool:
        """Every meter's reading of the month is in (and there is a meter to read)."""
        return bool(self.meters) and all(m.given is not None for m in self.meters)

    @property
    def missing(self) -> list[MeterCard]:
        return [m.card for m in self.meters if m.given is None]

    @property
    def given_on(self) -> datetime | None:
        """When the last of the month's readings came in."""
        times = [m.given.submitted_at for m in self.meters if m.given is not None]
        return max(times) if times else None


def month_readings(cards: Iterable[MeterCard], window: WindowState, today: date) -> MonthReadings:
    """The month's readings of an account's meters (their ``meter_card``s, whose last accepted
    reading tells: it is the month's if its period is the month)."""
    period = today.replace(day=1)
    meters = [
        MeterMonthReading(card, card.last if card.last is not None and card.last.period == period else None)
        for card in cards
        if card.accepts_readings
    ]
    return MonthReadings(period=period, meters=meters, window=window)


# --- the months of an account ---------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryMonth:
    """A month of an account's history: its readings and the consumption they imply
    (``metering.selectors.MonthRow``), what the month's statement billed, and the same month a
    year before."""

    row: MonthRow
    statement: StatementTotals | None  # None: the month is not billed (yet)
    year_before: HistoryMonth | None = None

    @property
    def period(self) -> date:
        return self.row.period

    @property
    def billed(self) -> Decimal | None:
        """The month's charges and recalculations as its statement billed them."""
        return self.statement.billed if self.statement is not None else None

    @property
    def estimate(self) -> Decimal | None:
        """For a month not billed yet: its charge by the readings given, at the month's prices
        (the statement may differ: estimates, recalculations, other meters' lines)."""
        if self.statement is not None or not any(m.reading is not None and m.priced for m in self.row.meters):
            return None
        return self.row.amount

    @property
    def amount(self) -> Decimal | None:
        """What the month cost: billed, else the estimate from readings."""
        billed = self.billed
        return billed if billed is not None else self.estimate

    @property
    def kwh(self) -> Decimal:
        return self.row.total_kwh


def history_months(rows: list[MonthRow], closes: Iterable[AccountClose]) -> list[HistoryMonth]:
    """``rows`` (``metering.selectors.account_history``, newest first) with each month's
    statement among ``closes`` and the same month of the year before, newest first."""
    by_period = {close.period: statement_totals(close) for close in closes}
    months = [HistoryMonth(row, by_period.get(row.period)) for row in rows]
    by_month = {m.period: m for m in months}
    return [
        HistoryMonth(m.row, m.statement, by_month.get(m.period.replace(year=m.period.year - 1)))
        for m in months
    ]
