"""The supervisors' dashboard: the figures of a period (``stats.figures``) as tables with
server-drawn bar charts, and each table as a CSV file."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from meterdesk.backoffice.access import staff_action
from meterdesk.billing.messages import money
from meterdesk.domain.money import number_text
from meterdesk.metering.models import Channel
from meterdesk.stats.figures import Figures, figures_of, tables
from meterdesk.utility.selectors import utility_now

#: The longest period the page computes at once (the command has no limit).
MAX_DAYS = 366
BAR_COLOUR = "#1f6fb2"


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The period ends before it begins."))
        if start and end and (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose a period of at most a year."))
        return data


def _period(request: HttpRequest) -> tuple[PeriodForm, date, date]:
    today = utility_now().date()
    form = PeriodForm(request.GET or {"start": today.replace(day=1), "end": today})
    if form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, today.replace(day=1), today


def bars(rows: list[tuple[str, int]], label: str) -> SafeString:
    """A horizontal bar chart of ``rows`` (name, count), each bar with its count written beside it
    and a <title>; the page has the same figures as a table."""
    top = max((value for _name, value in rows), default=0) or 1
    height = 26 * len(rows) + 8
    language = get_language()
    body = format_html_join(
        "",
        '<text x="0" y="{}" class="tick">{}</text>'
        '<rect x="150" y="{}" width="{}" height="18" fill="{}"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" class="tick">{}</text>',
        (
            (
                26 * n + 17,
                name,
                26 * n + 4,
                f"{280 * value / top:.1f}",
                BAR_COLOUR,
                name,
                number_text(value, 0, language),
                f"{156 + 280 * value / top:.1f}",
                26 * n + 17,
                number_text(value, 0, language),
            )
            for n, (name, value) in enumerate(rows)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 520 {}" width="520" height="{}" role="img" aria-label="{}">{}</svg>',
        height,
        height,
        label,
        body,
    )


def _channel(code: str) -> str:
    return str(Channel(code).label) if code in Channel.values else code


@staff_action("stats")
def stats(request: HttpRequest) -> HttpResponse:
    form, start, end = _period(request)
    figures: Figures = figures_of(start, end)
    channels = sorted(figures.readings_by_channel.items(), key=lambda kv: -kv[1])
    payments = sorted(figures.payments_by_way.items(), key=lambda kv: -kv[1]["count"])
    billed = {
        month: sorted(row.items(), key=lambda kv: -kv[1])
        for month, row in sorted(figures.billed_by_basis.items())
    }
    query = f"start={start}&end={end}"
    return render(
        request,
        "backoffice/stats.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "figures": figures,
            "channels": [(_channel(c), n) for c, n in channels],
            "channels_chart": bars([(_channel(c), n) for c, n in channels], _("Readings by channel")),
            "share": None if figures.inside_window_share is None else f"{figures.inside_window_share:.1%}",
            "billed": billed,
            "payments": [(way, row["count"], money(row["amount"])) for way, row in payments],
            "true_ups_amount": money(figures.true_ups_amount),
            "query": query,
            "csv": list(tables(figures)),
        },
    )


@staff_action("stats")
def stats_csv(request: HttpRequest, table: str) -> HttpResponse:
    _form, start, end = _period(request)
    found = tables(figures_of(start, end)).get(table)
    if found is None:
        raise Http404
    header, rows = found
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response
