"""Pages of the personal account. Thin: parse input, call a service or selector, render."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from meterdesk.billing.messages import month_label
from meterdesk.billing.preview import reading_charge
from meterdesk.billing.selectors import statement_get, statements_of
from meterdesk.core.accounts import (
    MoneySummary,
    meter_card,
    money_summary,
    statement_totals,
    statement_view,
    window_state,
)
from meterdesk.core.readings import reading_submit
from meterdesk.customers.models import Account, User
from meterdesk.domain.periods import month_parse
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.check import (
    MeterNotInService,
    MonthClosed,
    NeedsConfirmation,
    ReadingInvalid,
    WindowClosed,
)
from meterdesk.metering.messages import (
    issue_message,
    month_closed_message,
    month_moved_message,
    zone_label,
)
from meterdesk.metering.models import Channel, Meter, Reading
from meterdesk.metering.selectors import (
    account_history,
    accounts_for_user,
    meter_for_user,
    meter_last_reading,
    meters_of,
)
from meterdesk.portal.charts import history_chart
from meterdesk.portal.forms import ReadingForm
from meterdesk.portal.registration import check_mail
from meterdesk.utility.selectors import utility_get, utility_now


def _customer(request: HttpRequest) -> User:
    """The logged-in user (views using this are behind login_required)."""
    return cast(User, request.user)


def _money(user: User, account: Account) -> MoneySummary:
    money = money_summary(user, account.number)
    if money is None:  # unlinked since the page looked it up
        raise Http404
    return money


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _customer(request)
    if not user.email_verified:
        return check_mail(request, user)
    today = utility_now().date()
    accounts = []
    for account in accounts_for_user(user):
        cards = [meter_card(m, account, today) for m in meters_of(account) if m.removed_on is None]
        accounts.append({"account": account, "meters": cards, "money": _money(user, account)})
    return render(request, "portal/dashboard.html", {"accounts": accounts, "window": window_state()})


def _user_meter(request: HttpRequest, meter_id: int) -> Meter:
    user = _customer(request)
    try:
        return meter_for_user(user, meter_id)
    except Meter.DoesNotExist as exc:
        raise Http404 from exc


@login_required
@require_http_methods(["GET", "POST"])
def submit_reading(request: HttpRequest, meter_id: int) -> HttpResponse:
    user = _customer(request)
    meter = _user_meter(request, meter_id)
    state = window_state()
    form = ReadingForm(request.POST or None, meter=meter)
    confirmations: list[dict[str, Any]] = []
    context: dict[str, Any] = {"meter": meter, "account": meter.account, "window": state, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            result = reading_submit(
                meter_id=meter.pk,
                login=user,
                values=form.raw_values(),
                channel=Channel.WEB,
                submitted_by=user,
                confirmed=form.cleaned_data.get("confirm") or (),
                language=get_language(),
            )
        except Meter.DoesNotExist as exc:  # unlinked since the page was read
            raise Http404 from exc
        except WindowClosed:
            state = window_state()
            context["window"] = state
        except ReadingInvalid as error:
            for issue in error.issues:
                field = f"t{issue.zone}" if issue.zone else None
                form.add_error(field, ValidationError(issue_message(issue), code=issue.code))
        except NeedsConfirmation as needs:
            # Each box confirms its zone's value as sent now (a token naming it): a value changed
            # after ticking the box is asked about again.
            confirmations = [
                {
                    "code": issue.code,
                    "confirm": needs.checked.token(issue),
                    "zone": zone_label(meter.zones, issue.zone),
                    "value": needs.checked.values[issue.zone - 1],
                    "text": issue_message(issue),
                }
                for issue in needs.issues
            ]
        except MeterNotInService as error:
            message = _("This meter is no longer in service; readings are not accepted for it.")
            form.add_error(None, ValidationError(message, code=error.code))
        except MonthClosed as closed:
            form.add_error(None, ValidationError(month_closed_message(closed.period), code=closed.code))
        else:
            if result.moved_from is not None:
                messages.info(request, month_moved_message(result.moved_from, result.reading.period))
            if result.replaced:
                messages.success(
                    request, _("Reading accepted. It replaces your earlier reading for this month.")
                )
            else:
                messages.success(request, _("Reading accepted."))
            return redirect("portal:reading", confirmation=result.reading.confirmation)
    context["confirmations"] = confirmations
    context["last"] = meter_last_reading(meter)
    status = 200
    if request.method == "POST" and (form.errors or confirmations or not state.open):
        status = 422 if form.errors else 200
    return render(request, "portal/submit.html", context, status=status)


@login_required
def reading_detail(request: HttpRequest, confirmation: str) -> HttpResponse:
    user = _customer(request)
    reading = (
        Reading.objects.select_related("meter__account")
        .filter(confirmation=confirmation, account__links__user=user)
        .first()
    )
    if reading is None:
        raise Http404
    charge = reading_charge(reading)
    meter = reading.meter
    rows = []
    for zone in range(1, meter.zones + 1):
        lines = [line for line in charge.reading_lines if line.zone == zone]
        rows.append(
            {
                "label": zone_label(meter.zones, zone),
                "value": reading.values[zone - 1],
                "consumption": charge.consumption[zone - 1],
                "lines": lines,
            }
        )
    others = [
        {"label": zone_label(meter.zones, line.zone) if line.zone else "", "line": line}
        for line in charge.other_lines
    ]
    return render(
        request,
        "portal/reading.html",
        {
            "reading": reading,
            "meter": meter,
            "account": meter.account,
            "charge": charge,
            "rows": rows,
            "others": others,
            "submitted_local": utility_now(None, reading.submitted_at),
        },
    )


@login_required
def history(request: HttpRequest, number: str) -> HttpResponse:
    account = _user_account(request, number)
    rows = account_history(account)
    zones = max((m.zones for m in meters_of(account)), default=1)
    labels = [zone_label(zones, z) for z in range(1, zones + 1)]
    return render(
        request,
        "portal/history.html",
        {
            "account": account,
            "rows": rows,
            "zone_labels": labels,
            "chart": history_chart(list(reversed(rows)), labels),
        },
    )


def _user_account(request: HttpRequest, number: str) -> Account:
    return get_object_or_404(accounts_for_user(_customer(request)), number=number)


@login_required
def statements(request: HttpRequest, number: str) -> HttpResponse:
    account = _user_account(request, number)
    rows = [statement_totals(close) for close in statements_of(account)]
    return render(
        request,
        "portal/statements.html",
        {"account": account, "rows": rows, "money": _money(_customer(request), account)},
    )


def _period_from(text: str) -> date:
    try:
        return month_parse(text)
    except ValueError as exc:
        raise Http404 from exc


def _penalty_rules() -> dict[str, int]:
    rules = profile_load(utility_get().rules_profile).penalty
    return {
        "first_from": rules.grace_days + 1,
        "first_divisor": rules.first_divisor,
        "second_from_day": rules.second_from_day,
        "second_divisor": rules.second_divisor,
    }


@login_required
def statement_detail(request: HttpRequest, number: str, period: str) -> HttpResponse:
    account = _user_account(request, number)
    month = _period_from(period)
    statement = statement_get(account, month)
    if statement is None:
        raise Http404
    return render(
        request,
        "portal/statement.html",
        {
            "account": account,
            "view": statement_view(statement),
            "month": month_label(month),
            "penalty_rules": _penalty_rules(),
        },
    )


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:dashboard")
    return redirect(reverse("portal:login"))
