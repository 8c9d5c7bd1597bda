"""Pages of the personal account. Thin: parse input, call a service or selector, render."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from meterdesk.billing.messages import kwh, money, month_name
from meterdesk.billing.preview import ChargePreview, reading_charge
from meterdesk.billing.selectors import statement_get, statements_of
from meterdesk.core.accounts import (
    MoneySummary,
    history_months,
    meter_card,
    money_summary,
    month_readings,
    statement_totals,
    statement_view,
    window_state,
)
from meterdesk.core.readings import reading_check, reading_submit
from meterdesk.customers.models import Account, User
from meterdesk.domain.periods import month_parse
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.check import (
    MeterNotInService,
    MonthClosed,
    NeedsConfirmation,
    ReadingError,
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
from meterdesk.programme.selectors import account_standing, programme_current
from meterdesk.utility.selectors import rules_profile_get, utility_now


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
    window = window_state(today=today)
    programme = programme_current(today)
    accounts = []
    for account in accounts_for_user(user):
        cards = [meter_card(m, account, today) for m in meters_of(account) if m.removed_on is None]
        accounts.append(
            {
                "account": account,
                "meters": cards,
                "money": _money(user, account),
                "readings": month_readings(cards, window, today),
                "standing": None if programme is None else account_standing(programme, account.pk),
            }
        )
    context = {"accounts": accounts, "window": window, "today": today, "programme": programme}
    return render(request, "portal/dashboard.html", context)


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
        except (ReadingInvalid, MeterNotInService, MonthClosed) as error:
            for field, text, code in _refusal_errors(error):
                form.add_error(field, ValidationError(text, code=code))
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
    last = meter_last_reading(meter)
    context["last"] = last
    # Beside each zone's field, the value the new one follows: the last reading's, or the
    # meter's own at installation.
    previous = last.values if last is not None else meter.initial_values
    context["zones"] = []
    for zone, bound in enumerate(form.zone_fields()):
        # Read out with the field: its error first, then the value it follows (submit.html's ids).
        described = [f"{bound.auto_id}_error"] if bound.errors else []
        if zone < len(previous):
            described.append(f"{bound.auto_id}_previous")
        if described:
            bound.field.widget.attrs["aria-describedby"] = " ".join(described)
        context["zones"].append(
            {"field": bound, "previous": previous[zone] if zone < len(previous) else None}
        )
    status = 200
    if request.method == "POST" and (form.errors or confirmations or not state.open):
        status = 422 if form.errors else 200
    return render(request, "portal/submit.html", context, status=status)


def _refusal_errors(error: ReadingError) -> list[tuple[str | None, str, str]]:
    """A refused reading's errors for the form: (the zone's field or None, the words, the code)."""
    if isinstance(error, ReadingInvalid):
        return [(f"t{i.zone}" if i.zone else None, issue_message(i), i.code) for i in error.issues]
    if isinstance(error, MonthClosed):
        return [(None, month_closed_message(error.period), error.code)]
    text = _("This meter is no longer in service; readings are not accepted for it.")
    return [(None, text, error.code)]


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
    months = history_months(account_history(account), statements_of(account))
    zones = max((m.zones for m in meters_of(account)), default=1)
    labels = [zone_label(zones, z) for z in range(1, zones + 1)]
    return render(
        request,
        "portal/history.html",
        {
            "account": account,
            "months": months,
            "zone_labels": labels,
            "zone_count": len(labels),
            "chart": history_chart(list(reversed(months)), labels),
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
    rules = profile_load(rules_profile_get()).penalty
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
            "month": month_name(month),
            "money": _money(_customer(request), account),
            "penalty_rules": _penalty_rules(),
        },
    )


@login_required
@require_GET
def reading_preview(request: HttpRequest, meter_id: int) -> JsonResponse:
    """What the submission form shows as the household types (portal/static/portal/preview.js):
    the consumption of each zone and the month's charge, or why the values would be refused, by
    ``core.readings.reading_check`` (no writes). Texts come ready to show, in the page's language."""
    meter = _user_meter(request, meter_id)
    values = [request.GET.get(f"t{zone}", "").strip()[:40] for zone in range(1, meter.zones + 1)]
    if not all(values):
        return JsonResponse({"state": "incomplete"})
    try:
        outcome = reading_check(meter_id=meter.pk, login=_customer(request), values=values)
    except Meter.DoesNotExist as exc:  # unlinked since the page was read
        raise Http404 from exc
    if outcome.error is not None:
        texts = [text for _field, text, _code in _refusal_errors(outcome.error)]
        return JsonResponse({"state": "error", "messages": texts})
    assert outcome.charge is not None  # noqa: S101 - no rule broken, so the month was priced
    return JsonResponse(
        {
            "state": "ok",
            **_preview_texts(outcome.charge, outcome.period),
            "messages": [issue_message(issue) for issue in outcome.needed],
        }
    )


def _preview_texts(charge: ChargePreview, period: date) -> dict[str, Any]:
    consumption = [
        _("%(kwh)s kWh since the previous reading") % {"kwh": kwh(value)} for value in charge.consumption
    ]
    if charge.total is None:
        total = _("No tariff is set for this meter yet; the charge will appear on the bill.")
    elif charge.basis is None:
        total = _("A new meter is billed from the 1st of the month after its installation.")
    else:
        total = _("Charge for %(month)s by these readings: %(amount)s") % {
            "month": month_name(period),
            "amount": money(charge.total),
        }
    return {"consumption": consumption, "total": total}


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:dashboard")
    return redirect(reverse("portal:login"))
