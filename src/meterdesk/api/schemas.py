"""What the API takes and gives. Amounts and volumes are strings (exact decimals), dates and times
ISO 8601 (times in the utility's zone)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from ninja import Field, Schema
from pydantic import StrictFloat, StrictInt, StrictStr, StringConstraints

from meterdesk.domain.readings import CONFIRMATION_PATTERN

#: No NUL characters (databases refuse them), bounded length.
NO_NUL = r"^[^\x00]*$"
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
ACCOUNT_NUMBER_PATTERN = r"^[0-9]{10}$"
MAX_ID = 2**63 - 1

Money = Annotated[str, Field(description="roubles with kopecks, e.g. 1234.56", examples=["1234.56"])]
Kwh = Annotated[str, Field(description="kWh, up to 3 decimals", examples=["154"])]


# --- lists ----------------------------------------------------------------------------------------


class PageQuery(Schema):
    limit: int = Field(50, ge=1, le=200, description="at most this many items")
    offset: int = Field(0, ge=0, le=2**31 - 1, description="skip this many items")


class PageMeta(Schema):
    total: int = Field(description="items in the whole list")
    limit: int
    offset: int


# --- auth -----------------------------------------------------------------------------------------


class TokenIn(Schema):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254, pattern=NO_NUL)] = Field(
        description="the login's e-mail"
    )
    password: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)
    ] = Field(description="a name for the device, e.g. 'Home Assistant'", examples=["Home Assistant"])
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="the token stops working after this many days (none: never)"
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it in a list")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    current: bool = Field(False, description="the token of this request")


class TokenCreated(TokenOut):
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown only this once")


class TokenPage(PageMeta):
    items: list[TokenOut]


# --- tariffs --------------------------------------------------------------------------------------


class PriceOut(Schema):
    zone: int
    zone_label: str
    band: int
    upper_kwh: Kwh | None = Field(description="the band's monthly limit (none: the last band)")
    price: Money = Field(description="roubles per kWh including VAT")


class TariffOut(Schema):
    id: int
    region: str
    category: str
    category_label: str
    kind: str
    kind_label: str
    zones: int
    valid_from: date
    valid_to: date | None
    prices: list[PriceOut]


class TariffPage(PageMeta):
    items: list[TariffOut]


class TariffRef(Schema):
    id: int
    kind: str
    valid_from: date
    valid_to: date | None


# --- accounts -------------------------------------------------------------------------------------


class AccountSummary(Schema):
    number: str
    address: str
    category: str
    category_label: str


class AccountPage(PageMeta):
    items: list[AccountSummary]


class PaymentOut(Schema):
    id: int
    posted_on: date
    period: str = Field(description="the billing month it counts in, YYYY-MM")
    amount: Money
    source: str


class PaymentPage(PageMeta):
    items: list[PaymentOut]


class LatestStatement(Schema):
    period: str
    total_due: Money
    due_date: date


class AccountOut(AccountSummary):
    holder_name: str
    rooms: int
    residents: int
    opened_on: date
    closed_on: date | None
    balance: Money = Field(description="positive: a debt; negative: a credit")
    debt: Money
    credit: Money
    balance_text: str
    last_payment: PaymentOut | None
    latest_statement: LatestStatement | None
    tariffs: list[TariffOut] = Field(description="the tariffs in force today for the account's meters")


class LinkIn(Schema):
    number: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_NUL)] = Field(
        description="the 10-digit account number from the bill", examples=["1234567890"]
    )
    meter_serial: Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=NO_NUL)] = Field(
        description="the serial number of one of the account's meters"
    )
    registration_code: Annotated[str, StringConstraints(max_length=20, pattern=NO_NUL)] = Field(
        default="",
        description="the one-time registration code printed on the bill, where the utility asks for it",
    )


# --- meters and readings --------------------------------------------------------------------------


class WindowOut(Schema):
    start_day: int
    end_day: int
    open_now: bool
    opens_on: date = Field(description="today while open, else the next opening day")
    closes_on: date
    message: str


class ZoneValue(Schema):
    zone: int
    label: str
    value: Kwh


class LastReading(Schema):
    id: int
    period: str
    values: list[ZoneValue]
    submitted_at: datetime


class MeterOut(Schema):
    id: int
    serial: str
    model: str
    zones: int
    zone_labels: list[str]
    digits: int = Field(description="digits before the decimal point")
    decimal_places: int = Field(description="decimal places accepted (0: whole kWh only)")
    installed_on: date
    verification_due: date
    verification_overdue: bool
    status: str
    status_label: str
    accepts_readings: bool
    last_reading: LastReading | None
    window: WindowOut


class MeterPage(PageMeta):
    items: list[MeterOut]


_Value = (
    Annotated[StrictStr, StringConstraints(max_length=40)]
    | Annotated[StrictInt, Field(ge=-(10**30), le=10**30)]
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
    | None
)


class ReadingIn(Schema):
    values: list[_Value] = Field(
        min_length=1,
        max_length=6,
        description="one value per zone, T1 first (a string as on the meter, or a number)",
        examples=[["12345", "6789"]],
    )
    confirm: list[
        Annotated[StrictStr, StringConstraints(max_length=60, pattern=f"^{CONFIRMATION_PATTERN}$")]
    ] = Field(
        default_factory=list,
        max_length=6,
        description=(
            "the confirmations asked for by a needs_confirmation answer (`details.confirm`), each "
            "naming its code, zone and value: `high_consumption:1=98765`. A changed value is "
            "asked about again."
        ),
        examples=[["rollover:1=200"]],
    )


class ChargeLineOut(Schema):
    zone: int = Field(description="1..3, or 0 for a single-rate volume (the norm)")
    zone_label: str
    band: int
    volume: Kwh
    price: Money
    amount: Money
    basis: str
    reason: str
    words: str


class ConsumptionOut(Schema):
    zone: int
    label: str
    kwh: Kwh


class ChargeOut(Schema):
    period: str | None
    basis: str | None = Field(description="actual, average, norm, …; none when the meter does not bill yet")
    months: int = Field(description="the months the consumption covers")
    consumption: list[ConsumptionOut]
    lines: list[ChargeLineOut]
    total: Money | None = Field(description="none when no price is set for the month")
    tariff: TariffRef | None


class ReadingOut(Schema):
    id: int
    confirmation: str
    meter_id: int
    account_number: str
    period: str = Field(description="the billing month, YYYY-MM")
    values: list[ZoneValue]
    kind: str
    channel: str
    status: str = Field(description="accepted, or superseded by a later submission for the month")
    submitted_at: datetime
    rolled_over: bool
    confirmed: list[str]


class ReadingPage(PageMeta):
    items: list[ReadingOut]


class SubmissionOut(ReadingOut):
    replaced: str | None = Field(description="the confirmation number of the reading this one replaces")
    moved_from: str | None = Field(
        default=None,
        description="the month (YYYY-MM) the reading was given for when that month is already closed "
        "and the rules profile counts such readings for the next open month (`period`); else null",
    )
    charge: ChargeOut


class ConfirmationOut(Schema):
    code: str
    confirm: str = Field(description="what to send in `confirm` to confirm this value")
    zone: int
    zone_label: str
    message: str


class PreviewOut(Schema):
    period: str
    charge: ChargeOut
    confirmations_needed: list[ConfirmationOut] = Field(
        description="what a submission of these values must confirm (none: it would be accepted)"
    )
    window: WindowOut


# --- charges and statements -----------------------------------------------------------------------


class LedgerLineOut(Schema):
    id: int
    period: str
    posted_on: date
    kind: str
    basis: str
    reason: str
    words: str = Field(description="the basis of the line in plain words")
    meter_id: int | None
    meter_serial: str
    zone: int
    zone_label: str
    band: int
    volume: Kwh | None
    price: Money | None
    amount: Money


class LedgerPage(PageMeta):
    items: list[LedgerLineOut]


class StatementSummary(Schema):
    period: str
    basis: str
    opening_balance: Money
    charges: Money
    recalculations: Money
    payments: Money
    penalty: Money
    closing_balance: Money
    total_due: Money
    due_date: date
    closed_at: datetime


class StatementPage(PageMeta):
    items: list[StatementSummary]


class PenaltyOut(Schema):
    amount: Money
    parts: list[str]


class StatementOut(StatementSummary):
    lines: list[LedgerLineOut]
    payments_received: list[PaymentOut]
    penalties: list[PenaltyOut]
