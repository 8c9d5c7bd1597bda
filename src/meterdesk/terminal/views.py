"""The office terminal's pages (docs/terminal.md). Thin: the household is identified by
``customers.services.account_identify`` (registration's check and guessing limits), readings go
through ``core.readings`` like every channel's, and the account is shown through
``core.accounts``; what a shared screen may show is ``terminal.privacy``'s."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from meterdesk.billing.messages import kwh, money, month_name
from meterdesk.billing.preview import ChargePreview, reading_charge
from meterdesk.billing.selectors import AccountOverview, account_balance, last_payment, statements_of
from meterdesk.core.accounts import MoneySummary, meter_card, money_of, month_readings, window_state
from meterdesk.core.confirmations import confirmation_enqueue
from meterdesk.core.readings import reading_check, reading_submit
from meterdesk.customers.services import AccountMismatch, TooManyAttempts, account_identify
from meterdesk.domain.readings import confirmation_parse
from meterdesk.metering.check import (
    MonthClosed,
    NeedsConfirmation,
    ReadingError,
    ReadingInvalid,
    WindowClosed,
)
from meterdesk.metering.messages import issue_message, month_closed_message, zone_label
from meterdesk.metering.models import Channel, Meter, Reading
from meterdesk.metering.selectors import meter_last_reading, meters_of
from meterdesk.ratelimit import wait_minutes
from meterdesk.terminal import device
from meterdesk.terminal.device import Visit, device_required, visit_required
from meterdesk.terminal.models import SessionEnd, Terminal, TerminalReading
from meterdesk.terminal.privacy import address_public, name_masked
from meterdesk.terminal.services import (
    EnrolmentInvalid,
    enrolment_check,
    reading_record,
    session_start,
    terminal_enrol,
)
from meterdesk.utility.selectors import utility_now

#: Confirmations a household may have e-mailed in one session (a shared screen must not become
#: a way to send letters to anyone).
EMAILS_PER_SESSION = 3
#: A reading asks at most two confirmations per zone, of at most three zones.
MAX_CONFIRMATIONS = 6


class IdentifyForm(forms.Form):
    account_number = forms.CharField(label="", max_length=14)
    meter_serial = forms.CharField(label="", max_length=40)

    def clean_account_number(self) -> str:
        value = "".join(self.cleaned_data["account_number"].split())
        if not value.isdigit() or len(value) != 10:
            raise forms.ValidationError(_("An account number has exactly 10 digits."), code="invalid")
        return value


class EmailForm(forms.Form):
    email = forms.EmailField(label="", max_length=254)


# --- the start, the language, the end --------------------------------------------------------


@device_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, terminal: Terminal) -> HttpResponse:
    """Identification by the account number and the meter serial, on the number pad."""
    if device.visit_of(request, terminal) is not None:
        return redirect("terminal:account")
    form = IdentifyForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            account = account_identify(
                number=form.cleaned_data["account_number"],
                meter_serial=form.cleaned_data["meter_serial"],
                client=f"terminal-{terminal.pk}",  # a guessing limit per device, not per office address
            )
        except AccountMismatch:
            form.add_error(None, _("The account number and meter serial number do not match."))
            status = 422
        except TooManyAttempts as error:
            minutes = wait_minutes(error.wait)
            form.add_error(
                None,
                ngettext(
                    "Too many attempts. Try again in %(n)d minute or ask the office staff.",
                    "Too many attempts. Try again in %(n)d minutes or ask the office staff.",
                    minutes,
                )
                % {"n": minutes},
            )
            status = 429
        else:
            device.visit_start(request, terminal, session_start(terminal=terminal, account=account))
            return redirect("terminal:account")
    ended = request.GET.get("ended", "")
    return render(
        request,
        "terminal/start.html",
        {"form": form, "terminal": terminal, "ended": ended if ended in SessionEnd.values else ""},
        status=status,
    )


@device_required
@require_POST
def language(request: HttpRequest, terminal: Terminal) -> HttpResponse:
    """The screen's language for this session (Russian again for the next person)."""
    chosen = request.POST.get("language", "")
    if chosen in {code for code, _name in settings.LANGUAGES}:
        request.session[device.LANGUAGE] = chosen
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/terminal/") and "//" not in target else "terminal:start")


@device_required
@require_POST
def finish(request: HttpRequest, terminal: Terminal) -> HttpResponse:
    """The "Finish" button, or the screen's countdown run out: the session ends and nothing of it
    is kept."""
    end = SessionEnd.TIMEOUT if request.POST.get("end") == SessionEnd.TIMEOUT else SessionEnd.FINISH
    had_visit = device.visit_of(request, terminal) is not None
    device.visit_end(request, end)
    return redirect(reverse("terminal:start") + (f"?ended={end.value}" if had_visit else ""))


@device_required
@require_POST
def ping(request: HttpRequest, terminal: Terminal) -> HttpResponse:
    """The screen is in use (typing on the pad sends no request): keeps the session; 410 when it
    has ended."""
    return HttpResponse(status=204 if device.visit_of(request, terminal) is not None else 410)


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time link staff open on a new terminal: a page that says which terminal, and one
    button (a link alone must change nothing)."""
    try:
        terminal = enrolment_check(token)
    except EnrolmentInvalid:
        return render(request, "terminal/enrol.html", {"invalid": True}, status=404)
    if request.method == "POST":
        terminal, key = terminal_enrol(token=token)
        response = render(request, "terminal/enrol.html", {"terminal": terminal, "done": True})
        device.device_cookie_set(response, terminal, key)
        return response
    return render(request, "terminal/enrol.html", {"terminal": terminal})


# --- the account -----------------------------------------------------------------------------


def _money(visit: Visit) -> MoneySummary:
    account = visit.account
    overview = AccountOverview(
        account, account_balance(account), last_payment(account), statements_of(account).first(), [], None
    )
    return money_of(overview)


def _meter_of(visit: Visit, meter_id: int) -> Meter:
    meter = Meter.objects.select_related("account").filter(pk=meter_id, account=visit.account).first()
    if meter is None:
        raise Http404
    return meter


@visit_required
def account(request: HttpRequest, visit: Visit) -> HttpResponse:
    today = utility_now().date()
    window = window_state(today=today)
    cards = [meter_card(m, visit.account, today) for m in meters_of(visit.account) if m.removed_on is None]
    month = month_readings(cards, window, today)
    given = {m.card.meter.pk: m.given for m in month.meters}
    meters = []
    for card in cards:
        reading = given.get(card.meter.pk)
        meters.append(
            {
                "card": card,
                "given": reading,
                "charge": _charge_words(reading_charge(reading), reading.period) if reading else "",
            }
        )
    return render(
        request,
        "terminal/account.html",
        {
            "visit": visit,
            "holder": name_masked(visit.account.holder_name),
            "address": address_public(visit.account.address),
            "money": _money(visit),
            "window": window,
            "meters": meters,
        },
    )


# --- readings --------------------------------------------------------------------------------


def _refusal(error: ReadingError) -> list[tuple[int, str, str]]:
    """(zone or 0, code, words) of each reason a reading is refused."""
    if isinstance(error, ReadingInvalid):
        return [(issue.zone or 0, issue.code, issue_message(issue)) for issue in error.issues]
    if isinstance(error, MonthClosed):
        return [(0, error.code, month_closed_message(error.period))]
    return [(0, error.code, _("This meter no longer takes readings: please ask the office staff."))]


def _charge_words(charge: ChargePreview, period: date | None) -> str:
    if charge.total is None:
        return _("No tariff is set for this meter yet; the charge will appear on the bill.")
    if charge.basis is None:
        return _("A new meter is billed from the 1st of the month after its installation.")
    return _("Charge for %(month)s by these readings: %(amount)s") % {
        "month": month_name(period) if period else "",
        "amount": money(charge.total),
    }


@visit_required
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, visit: Visit, meter_id: int) -> HttpResponse:
    meter = _meter_of(visit, meter_id)
    zones = range(1, meter.zones + 1)
    values = [request.POST.get(f"t{z}", "").strip()[:40] for z in zones]
    window = window_state()
    errors: list[tuple[int, str, str]] = []
    confirmations: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        confirmed = [t for t in request.POST.getlist("confirm")[:MAX_CONFIRMATIONS] if confirmation_parse(t)]
        try:
            result = reading_submit(
                meter_id=meter.pk, values=values, channel=Channel.TERMINAL, confirmed=confirmed
            )
        except WindowClosed:
            status = 422
        except NeedsConfirmation as needs:
            confirmations = [
                {
                    "code": issue.code,
                    "zone": issue.zone,
                    "label": zone_label(meter.zones, issue.zone),
                    "value": needs.checked.values[issue.zone - 1],
                    "confirm": needs.checked.token(issue),
                    "text": issue_message(issue),
                }
                for issue in needs.issues
            ]
        except ReadingError as error:
            errors, status = _refusal(error), 422
        else:
            reading_record(session=visit.session, reading=result.reading)
            return redirect("terminal:reading", confirmation=result.reading.confirmation)
    last = meter_last_reading(meter)
    previous = last.values if last is not None else meter.initial_values
    fields = [
        {
            "name": f"t{z}",
            "label": zone_label(meter.zones, z),
            "value": values[z - 1],
            "previous": previous[z - 1] if z - 1 < len(previous) else None,
            "errors": [(code, text) for zone, code, text in errors if zone == z],
        }
        for z in zones
    ]
    return render(
        request,
        "terminal/submit.html",
        {
            "visit": visit,
            "meter": meter,
            "window": window,
            "fields": fields,
            "last": last,
            "errors": [(code, text) for zone, code, text in errors if not zone],
            "confirmations": confirmations,
        },
        status=status,
    )


@visit_required
@require_GET
def preview(request: HttpRequest, visit: Visit, meter_id: int) -> JsonResponse:
    """What the form shows as the values are typed: each zone's consumption and the month's
    charge, or why the values would be refused (``reading_check``, no writes)."""
    meter = _meter_of(visit, meter_id)
    values = [request.GET.get(f"t{z}", "").strip()[:40] for z in range(1, meter.zones + 1)]
    if not all(values):
        return JsonResponse({"state": "incomplete"})
    outcome = reading_check(meter_id=meter.pk, values=values)
    if outcome.error is not None:
        return JsonResponse(
            {"state": "error", "messages": [text for _z, _c, text in _refusal(outcome.error)]}
        )
    assert outcome.charge is not None  # noqa: S101 - no rule broken, so the month was priced
    return JsonResponse(
        {
            "state": "ok",
            "consumption": [
                _("%(kwh)s kWh since the previous reading") % {"kwh": kwh(v)}
                for v in outcome.charge.consumption
            ],
            "total": _charge_words(outcome.charge, outcome.period),
            "messages": [issue_message(issue) for issue in outcome.needed],
        }
    )


def _session_reading(visit: Visit, confirmation: str) -> Reading:
    """A reading given in this session (the confirmation of an earlier household's is not shown)."""
    record = (
        TerminalReading.objects.select_related("reading__meter__account")
        .filter(session=visit.session, reading__confirmation=confirmation)
        .first()
    )
    if record is None:
        raise Http404
    return record.reading


@visit_required
@require_GET
def reading(request: HttpRequest, visit: Visit, confirmation: str) -> HttpResponse:
    found = _session_reading(visit, confirmation)
    return _receipt(request, visit, found, EmailForm(), sent=request.session.pop(device.SENT, ""))


def _receipt(request: HttpRequest, visit: Visit, found: Reading, form: EmailForm, sent: str) -> HttpResponse:
    charge = reading_charge(found)
    meter = found.meter
    rows = [
        {
            "label": zone_label(meter.zones, zone),
            "value": found.values[zone - 1],
            "consumption": charge.consumption[zone - 1] if zone - 1 < len(charge.consumption) else None,
            "lines": [line for line in charge.reading_lines if line.zone == zone],
        }
        for zone in range(1, meter.zones + 1)
    ]
    return render(
        request,
        "terminal/reading.html",
        {
            "visit": visit,
            "reading": found,
            "meter": meter,
            "charge": charge,
            "charge_text": _charge_words(charge, found.period),
            "rows": rows,
            "others": charge.other_lines,
            "submitted_local": utility_now(None, found.submitted_at),
            "form": form,
            "sent": sent,
            "can_email": int(request.session.get(device.EMAILS, 0)) < EMAILS_PER_SESSION,
        },
        status=422 if form.errors else 200,
    )


@visit_required
@require_POST
def email(request: HttpRequest, visit: Visit, confirmation: str) -> HttpResponse:
    """E-mail the confirmation to an address typed on the screen (the same letter as the web's),
    then back to the confirmation, which says where it went."""
    found = _session_reading(visit, confirmation)
    form = EmailForm(request.POST)
    sent_count = int(request.session.get(device.EMAILS, 0))
    if sent_count >= EMAILS_PER_SESSION:
        form.add_error(None, _("The confirmation cannot be e-mailed again from this screen."))
    elif form.is_valid():
        address = form.cleaned_data["email"]
        confirmation_enqueue(found, reading_charge(found), address, get_language() or "ru")
        request.session[device.EMAILS] = sent_count + 1
        request.session[device.SENT] = address
        return redirect("terminal:reading", confirmation=found.confirmation)
    return _receipt(request, visit, found, form, sent="")
