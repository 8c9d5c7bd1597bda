"""Billing from the browser: start a month's close (the same ``meterdesk bill``, run in the
background), watch its progress, see its summary by basis, and rebill one account with a reason."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Max, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.audit import change_record
from meterdesk.backoffice.selectors import account_of
from meterdesk.billing.close import close_refusals, run_summary
from meterdesk.billing.messages import money, month_name
from meterdesk.billing.models import AccountClose, BillingChunk, BillingRun
from meterdesk.billing.rebill import CAUSES, RebillError, rebill
from meterdesk.customers.models import User
from meterdesk.domain.periods import add_months, month_start
from meterdesk.utility.selectors import reading_window_get, utility_get, utility_now

CAUSE_WORDS = {
    "reading_corrected": gettext_lazy("a reading corrected"),
    "control_reading": gettext_lazy("an inspector's control reading"),
    "residents_changed": gettext_lazy("the residents changed"),
    "meter_corrected": gettext_lazy("the meter's data corrected"),
    "prices_corrected": gettext_lazy("prices corrected"),
    "other": gettext_lazy("other"),
}


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)


def _month(text: str) -> date:
    try:
        return date(int(text[:4]), int(text[5:7]), 1)
    except (ValueError, IndexError) as error:
        raise Http404 from error


def close_log(period: date) -> Path:
    return Path(settings.DATA_DIR) / "billing" / f"close-{period:%Y-%m}.log"


def close_launch(period: date, *, by: User, force: bool = False, reason: str = "") -> subprocess.Popen[bytes]:
    """Start ``meterdesk bill --period`` in the background, in a session of its own (it outlives
    the request and the web worker), its output in ``close_log``; ``by`` is recorded as the one who
    forced it, when forced."""
    command = [sys.executable, "-m", "meterdesk.cli", "bill", "--period", f"{period:%Y-%m}"]
    if force:
        command += ["--force", "--reason", reason]
    log = close_log(period)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own command, no shell
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "LOGNAME": by.email},
        )


class CloseForm(forms.Form):
    period = forms.DateField(
        label=gettext_lazy("Month"), input_formats=["%Y-%m"], widget=forms.DateInput(attrs={"type": "month"})
    )
    force = forms.BooleanField(label=gettext_lazy("Close it despite the checks"), required=False)
    reason = forms.CharField(label=gettext_lazy("Why (required to force)"), required=False, max_length=500)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("force") and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why the checks are overridden: it is recorded on the run."))
        return data


def _progress(run: BillingRun) -> dict[str, Any]:
    chunks = BillingChunk.objects.filter(run=run)
    total = chunks.count()
    done = chunks.filter(status="done").count()
    closed = chunks.aggregate(n=Sum("accounts_closed"))["n"] or 0
    return {
        "total": total,
        "done": done,
        "closed": closed,
        "percent": round(100 * done / total) if total else 100,
    }


@staff_action("billing_runs")
def billing_runs(request: HttpRequest) -> HttpResponse:
    runs = list(BillingRun.objects.order_by("-period")[:24])
    return render(
        request,
        "backoffice/billing_runs.html",
        {"rows": [(run, _progress(run)) for run in runs], "form": CloseForm()},
    )


@staff_action("billing_close")
@require_http_methods(["GET", "POST"])
def billing_close_start(request: HttpRequest) -> HttpResponse:
    today = utility_now().date()
    latest = AccountClose.objects.aggregate(last=Max("period"))["last"]
    suggested = add_months(latest, 1) if latest else add_months(month_start(today), -1)
    form = CloseForm(request.POST or None, initial={"period": f"{suggested:%Y-%m}"})
    refusals: list[str] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            period = month_start(form.cleaned_data["period"])
            found = close_refusals(
                period, today, reading_window_get(None, period), latest, utility_get().time_zone
            )
            if found and not form.cleaned_data["force"]:
                refusals = [str(error) for error in found]
                status = 422
            else:
                close_launch(
                    period, by=_staff(request), force=bool(found), reason=form.cleaned_data["reason"].strip()
                )
                messages.success(
                    request, _("The close of %(month)s is started.") % {"month": month_name(period)}
                )
                return redirect("backoffice:billing_run", f"{period:%Y-%m}")
        else:
            status = 422
    return render(
        request, "backoffice/billing_close.html", {"form": form, "refusals": refusals}, status=status
    )


@staff_action("billing_runs")
def billing_run(request: HttpRequest, month: str) -> HttpResponse:
    period = _month(month)
    run = BillingRun.objects.filter(period=period).first()
    log = close_log(period)
    tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:] if log.is_file() else []
    if run is None and not log.is_file():  # started: the log is made before the close starts
        raise Http404
    summary = run_summary(period) if run is not None else None
    number = (request.GET.get("account") or "").strip()
    if number:
        if account_of(number) is None:
            messages.error(request, _("No account %(number)s.") % {"number": number})
        else:
            return redirect("backoffice:account", number)
    return render(
        request,
        "backoffice/billing_run.html",
        {
            "period": period,
            "run": run,
            "progress": _progress(run) if run is not None else None,
            "summary": summary,
            "money": {
                key: money(getattr(summary, key))
                for key in ("charges", "recalculations", "penalty", "payments")
            }
            if summary is not None
            else {},
            "log": tail,
            "running": run is None or run.status != "done",
        },
    )


class RebillForm(forms.Form):
    period = forms.TypedChoiceField(label=gettext_lazy("From month"), coerce=str)
    cause = forms.ChoiceField(label=gettext_lazy("Cause"), choices=[(c, CAUSE_WORDS[c]) for c in CAUSES])
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


@staff_action("rebill")
@require_http_methods(["GET", "POST"])
def rebill_account(request: HttpRequest, number: str) -> HttpResponse:
    account = account_of(number)
    if account is None:
        raise Http404
    months = list(
        AccountClose.objects.filter(account=account).order_by("-period").values_list("period", flat=True)
    )
    form = RebillForm(request.POST or None)
    cast(forms.ChoiceField, form.fields["period"]).choices = [(f"{p:%Y-%m}", month_name(p)) for p in months]
    posted = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            period = _month(form.cleaned_data["period"])
            reason = form.cleaned_data["reason"].strip()
            try:
                entries = rebill(
                    account=account,
                    period=period,
                    reason=reason,
                    cause=form.cleaned_data["cause"],
                    user=_staff(request),
                )
            except RebillError as error:
                form.add_error(None, str(error))
                status = 422
            else:
                total = sum((e.amount for e in entries), start=0)
                change_record(
                    actor=_staff(request),
                    instance=account,
                    account=account,
                    changes={"rebill": (f"{period:%Y-%m}", money(total))},
                    reason=reason,
                    extra={"cause": form.cleaned_data["cause"], "entries": len(entries)},
                )
                posted = [(e.period, e.kind, e.basis, money(e.amount)) for e in entries]
        else:
            status = 422
    return render(
        request,
        "backoffice/rebill.html",
        {"account": account, "form": form, "posted": posted, "now": timezone.now()},
        status=status,
    )
