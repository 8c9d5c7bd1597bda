"""The login's personal accounts: balance, meters, charges, statements, payments; linking one more.

Every account is looked up among the accounts linked to the login: anyone else's is 404, exactly
like an account that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from meterdesk.api import present
from meterdesk.api.auth import client_address, request_user
from meterdesk.api.errors import ApiError, link_error, not_found, rate_limited
from meterdesk.api.ratelimit import LinkLimit, default_throttles
from meterdesk.api.routers import (
    NUMBER,
    PERIOD,
    account_of,
    email_not_verified,
    errors,
    page,
    page_body,
    paged,
)
from meterdesk.api.schemas import (
    MONTH_PATTERN,
    AccountOut,
    AccountPage,
    AccountSummary,
    LedgerPage,
    LinkIn,
    MeterPage,
    PageQuery,
    StatementOut,
    StatementPage,
)
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.pricing import MissingPrice, pricing_get
from meterdesk.billing.selectors import (
    account_overview,
    statement_get,
    statements_of,
)
from meterdesk.core.accounts import (
    control_months_of,
    meter_card,
    money_of,
    statement_totals,
    statement_view,
)
from meterdesk.core.residents import MAX_RESIDENTS, ResidentsInvalid, residents_report, residents_words
from meterdesk.customers.services import (
    AccountMismatch,
    AlreadyLinked,
    EmailNotVerified,
    TooManyAttempts,
    account_link,
)
from meterdesk.domain.periods import month_parse
from meterdesk.metering.selectors import accounts_for_user, meters_of
from meterdesk.utility.selectors import reference_get, utility_now

router = Router(tags=["accounts"])


@router.get(
    "",
    response={200: AccountPage, **errors(401, 422, 429)},
    summary="The login's personal accounts",
)
def account_list(request: HttpRequest, params: Query[PageQuery]) -> Any:
    return paged(accounts_for_user(request_user(request)), params, present.account_summary)


@router.post(
    "/link",
    response={201: AccountSummary, **errors(400, 401, 403, 409, 422, 429)},
    throttle=default_throttles(LinkLimit()),
    summary="Link one more account to the login",
    description=(
        "By the account number and the serial number of one of its meters, as printed on the bill "
        "(and the registration code, where the utility asks for it). A wrong pair is "
        "account_meter_mismatch (the answer does not say which part is wrong). Attempts are limited "
        "per login, per account number and per client address (429 rate_limited). The account's "
        "other logins are told by e-mail, with a link that undoes the link."
    ),
)
def account_link_create(request: HttpRequest, payload: LinkIn) -> Any:
    try:
        link = account_link(
            user=request_user(request),
            account_number=payload.number,
            meter_serial=payload.meter_serial,
            registration_code=payload.registration_code,
            site=request.build_absolute_uri("/").rstrip("/"),
            client=client_address(request),
            channel="api",
        )
    except (AccountMismatch, AlreadyLinked) as error:
        raise link_error(error) from error
    except TooManyAttempts as error:
        raise rate_limited(error.wait) from error
    except EmailNotVerified as error:
        raise email_not_verified() from error
    return Status(201, present.account_summary(link.account))


@router.get(
    "/{number}",
    response={200: AccountOut, **errors(401, 404, 422, 429)},
    summary="An account: address, balance or debt, last payment, current tariffs",
)
def account_detail(request: HttpRequest, number: str = NUMBER) -> Any:
    overview = account_overview(request_user(request), number)
    if overview is None:
        raise not_found()
    account, money = overview.account, money_of(overview)
    reference = reference_get(stamp=overview.stamp)
    utility = reference.utility
    today = utility_now(utility).date()
    pricing = pricing_get(utility.tariff_region, reference)  # the tariffs in force, from memory
    tariffs = []
    for count in overview.zones or [1]:
        try:
            tariffs.append(pricing.tariff_record(account.category, count, today)[1])
        except MissingPrice:
            continue
    return {
        **present.account_summary(account),
        "holder_name": account.holder_name,
        "rooms": account.rooms,
        "residents": account.residents,
        "opened_on": account.opened_on,
        "closed_on": account.closed_on,
        "balance": present.money(money.balance),
        "debt": present.money(money.debt),
        "credit": present.money(money.credit),
        "balance_text": money.balance_text,
        "last_payment": present.payment_out(money.last_payment) if money.last_payment is not None else None,
        "latest_statement": (
            {
                "period": present.month(money.latest.period),
                "total_due": present.money(money.latest_due),
                "due_date": money.latest.due_date,
            }
            if money.latest is not None
            else None
        ),
        "tariffs": [present.tariff_out(t) for t in tariffs],
    }


@router.get(
    "/{number}/meters",
    response={200: MeterPage, **errors(401, 404, 422, 429)},
    summary="The account's meters, with the reading window",
    description="Zones, digits, verification date, last reading and the submission window (start, end, open now).",
)
def meter_list(request: HttpRequest, params: Query[PageQuery], number: str = NUMBER) -> Any:
    account = account_of(request, number)
    window = present.window_out()
    reference = reference_get()
    today = utility_now(reference.utility).date()
    return paged(
        meters_of(account),
        params,
        lambda meter: present.meter_out(meter_card(meter, account, today, reference), window),
    )


class ChargesQuery(PageQuery):
    from_: str | None = Field(
        None, alias="from", pattern=MONTH_PATTERN, description="the first billing month, YYYY-MM"
    )
    to: str | None = Field(None, pattern=MONTH_PATTERN, description="the last billing month, YYYY-MM")


CHARGE_KINDS = (
    EntryKind.CHARGE,
    EntryKind.RECALCULATION,
    EntryKind.CORRECTION,
    EntryKind.PENALTY,
    EntryKind.SERVICE,
)


@router.get(
    "/{number}/charges",
    response={200: LedgerPage, **errors(401, 404, 422, 429)},
    summary="Ledger lines: charges, recalculations, corrections, penalties",
    description="Newest month first; each line with its basis (actual, average, norm, …) in words.",
)
def charge_list(request: HttpRequest, params: Query[ChargesQuery], number: str = NUMBER) -> Any:
    account = account_of(request, number)
    entries = LedgerEntry.objects.filter(account=account, kind__in=CHARGE_KINDS).select_related("meter")
    if params.from_:
        entries = entries.filter(period__gte=month_parse(params.from_))
    if params.to:
        entries = entries.filter(period__lte=month_parse(params.to))
    items, total = page(entries.order_by("-period", "pk"), params)
    control = control_months_of(account, {e.period for e in items})
    return page_body((present.ledger_line_out(e, control) for e in items), total, params)


@router.get(
    "/{number}/statements",
    response={200: StatementPage, **errors(401, 404, 422, 429)},
    summary="Monthly statements, newest first",
)
def statement_list(request: HttpRequest, params: Query[PageQuery], number: str = NUMBER) -> Any:
    account = account_of(request, number)
    return paged(statements_of(account), params, lambda c: present.statement_summary(statement_totals(c)))


@router.get(
    "/{number}/statements/{period}",
    response={200: StatementOut, **errors(401, 404, 422, 429)},
    summary="One month's statement: lines, payments, penalty, balances",
)
def statement_detail(request: HttpRequest, number: str = NUMBER, period: str = PERIOD) -> Any:
    account = account_of(request, number)
    statement = statement_get(account, month_parse(period))
    if statement is None:
        raise not_found()
    view = statement_view(statement)
    return {
        **present.statement_summary(view.totals),
        "lines": [present.statement_line_out(line) for line in view.lines],
        "payments_received": [present.payment_out(p.entry) for p in view.payments],
        "penalties": [present.penalty_out(line) for line in view.penalties],
    }


class ResidentsIn(Schema):
    residents: int = Field(..., ge=0, le=MAX_RESIDENTS, description="the number of residents now")
    changed_on: date = Field(..., description="the day the number changed (YYYY-MM-DD)")


class ResidentsOut(Schema):
    residents: int
    effective_from: date = Field(description="the day the new number counts from")
    late: bool = Field(description="reported after the rules' deadline: counts from the day of the report")
    rebilled: bool = Field(description="months already billed since then are recalculated on the next bill")
    message: str


@router.post(
    "/{number}/residents",
    response={201: ResidentsOut, **errors(400, 401, 404, 422, 429)},
    summary="Report a change in the number of residents (the norm charge follows it)",
    description=(
        "Reported within the rules' working days (5) of the change, it counts from the day it "
        "happened; later, from the day it is reported. A change reaching back into a billed month "
        "rebills the account from that month. 422 `residents_invalid`, `date_in_future`, `date_too_early`."
    ),
)
def residents_change(request: HttpRequest, payload: ResidentsIn, number: str = NUMBER) -> Any:
    account = account_of(request, number)
    try:
        result = residents_report(
            account=account,
            residents=payload.residents,
            changed_on=payload.changed_on,
            channel="api",
            user=request_user(request),
        )
    except ResidentsInvalid as error:
        raise ApiError(422, error.code, str(error)) from error
    return Status(
        201,
        {
            "residents": payload.residents,
            "effective_from": result.effective_from,
            "late": result.late,
            "rebilled": bool(result.rebilled),
            "message": residents_words(result),
        },
    )
