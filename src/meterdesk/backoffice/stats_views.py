"""The supervisors' dashboard: the figures of a period (``stats.figures``) as tables with
server-drawn SVG charts (each with its title, description and the table it is drawn from), and
each table as a CSV file."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _

from meterdesk.backoffice.access import staff_action
from meterdesk.billing.messages import money
from meterdesk.domain.money import number_text
from meterdesk.metering.models import Channel
from meterdesk.stats.figures import CHANNELS, Figures, figures_of, tables
from meterdesk.utility.selectors import utility_now

#: The longest period the page computes at once (the command has no limit).
MAX_DAYS = 366
BAR_COLOUR = "#1f6fb2"
#: One colour a channel (Okabe and Ito's palette, told apart by most colour-blind readers, then greys).
COLOURS = {
    "web": "#0072b2",
    "api": "#e69f00",
    "email": "#009e73",
    "ivr": "#cc79a7",
    "terminal": "#d55e00",
    "paper": "#56b4e9",
    "operator": "#7a5c00",
    "inspector": "#222222",
    "smart": "#8a8a8a",
    "import": "#b8a800",
}

#: The names of the figures of the tables of pairs, as the page shows them.
LABELS: dict[str, Any] = {
    # support
    "asked": gettext_lazy("questions asked"),
    "closed": pgettext_lazy("support questions", "closed"),
    "open": gettext_lazy("open now"),
    "waiting_for_customer": gettext_lazy("waiting for the customer"),
    "overdue": pgettext_lazy("support questions", "overdue"),
    "escalated": pgettext_lazy("support questions", "escalated"),
    "under_1_day": gettext_lazy("under a day"),
    "1_to_3_days": gettext_lazy("1 to 3 days"),
    "3_to_7_days": gettext_lazy("3 to 7 days"),
    "over_7_days": gettext_lazy("over a week"),
    # phone
    "calls": gettext_lazy("calls"),
    "callers": gettext_lazy("callers"),
    "readings": gettext_lazy("gave readings"),
    "balance": gettext_lazy("asked the balance"),
    "tariff": gettext_lazy("asked the tariff"),
    "office": gettext_lazy("asked an office's address"),
    "operator": gettext_lazy("put through to an operator"),
    "abandoned": gettext_lazy("hung up"),
    # letters
    "letters": gettext_lazy("letters"),
    "understood": gettext_lazy("understood"),
    "not_understood": gettext_lazy("not understood"),
    "automatic": gettext_lazy("automatic, not answered"),
    "waiting": gettext_lazy("waiting to be processed"),
    # terminals
    "sessions": gettext_lazy("sessions"),
    "terminals": gettext_lazy("terminals used"),
    "accounts": gettext_lazy("accounts"),
    "finished": gettext_lazy("finished by the customer"),
    "timed_out": gettext_lazy("ended after inactivity"),
}


#: The bases of a month's bill and the ways of paying, as the page names them (else their code).
BASES: dict[str, Any] = {
    "actual": gettext_lazy("by readings"),
    "average": gettext_lazy("by the average"),
    "norm": gettext_lazy("by the norm"),
    "norm_increased": gettext_lazy("by the norm with the increasing coefficient"),
}
WAYS: dict[str, Any] = {
    "card": gettext_lazy("bank card"),
    "sbp": gettext_lazy("Faster Payments System (SBP)"),
    "registry": gettext_lazy("bank's registry"),
    "import": gettext_lazy("data import"),
    "demo": gettext_lazy("demo data"),
    "other": gettext_lazy("not said"),
}


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


def _period(request: HttpRequest) -> tuple[PeriodForm, date | None, date | None]:
    """The period asked (the current month when none is): its form, and its days when it is valid."""
    today = utility_now().date()
    form = PeriodForm(request.GET if "start" in request.GET or "end" in request.GET else None)
    if not form.is_bound:
        form = PeriodForm({"start": today.replace(day=1), "end": today})
    if form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, None, None


def bars(rows: list[tuple[str, int]], label: str) -> SafeString:
    """A horizontal bar chart of ``rows`` (name, count), each bar with its count written beside it
    and a <title>; the page has the same figures as a table."""
    top = max((value for _name, value in rows), default=0) or 1
    height = 26 * len(rows) + 8
    language = get_language()
    body = format_html_join(
        "",
        '<text x="0" y="{}" class="tick">{}</text>'
        '<rect x="200" y="{}" width="{}" height="18" fill="{}"><title>{}: {}</title></rect>'
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
                f"{206 + 280 * value / top:.1f}",
                26 * n + 17,
                number_text(value, 0, language),
            )
            for n, (name, value) in enumerate(rows)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 560 {}" width="560" height="{}" role="img" aria-label="{}">{}</svg>',
        height,
        height,
        label,
        body,
    )


def day_columns(days: dict[str, dict[str, int]], channels: list[str], title: str, desc: str) -> SafeString:
    """Readings per day as stacked columns, one colour a channel (``channels``: those drawn), with
    a legend, the largest day's count on the axis, and a <title> on each part. The chart names
    itself by its <title> and <desc>; the page has the same figures as a table below it."""
    width, plot_top, plot_height, left = 720, 10, 180, 48
    names = list(days)
    totals = [sum(days[d].get(c, 0) for c in channels) for d in names]
    top = max(totals, default=0) or 1
    step = (width - left - 8) / max(len(names), 1)
    language = get_language()
    parts: list[tuple[Any, ...]] = []
    for n, day in enumerate(names):
        y = float(plot_top + plot_height)
        for channel in channels:
            value = days[day].get(channel, 0)
            if not value:
                continue
            h = plot_height * value / top
            y -= h
            parts.append(
                (
                    f"{left + n * step + step * 0.1:.1f}",
                    f"{y:.1f}",
                    f"{max(step * 0.8, 1):.1f}",
                    f"{h:.1f}",
                    COLOURS.get(channel, BAR_COLOUR),
                    day,
                    _channel(channel),
                    number_text(value, 0, language),
                )
            )
    columns = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} · {}: {}</title></rect>',
        parts,
    )
    base = plot_top + plot_height
    ticks = [0, len(names) // 2, len(names) - 1] if names else []
    anchors = {0: "start", len(names) - 1: "end"}
    axis = format_html_join(
        "",
        '<text x="{}" y="{}" class="tick" text-anchor="{}">{}</text>',
        (
            (
                f"{left + n * step + step / 2:.1f}",
                base + 16,
                anchors.get(n, "middle"),
                date.fromisoformat(names[n]).strftime("%d.%m"),
            )
            for n in sorted(set(ticks))
        ),
    )
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="12" height="12" fill="{}"></rect><text x="{}" y="{}" class="tick">{}</text>',
        (
            (
                left + 220 * (n % 3),
                base + 30 + 18 * (n // 3),
                COLOURS.get(c, BAR_COLOUR),
                left + 220 * (n % 3) + 16,
                base + 41 + 18 * (n // 3),
                _channel(c),
            )
            for n, c in enumerate(channels)
        ),
    )
    height = base + 30 + 18 * ((len(channels) + 2) // 3) + 4
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="days-title days-desc"><title id="days-title">{title}</title>'
        '<desc id="days-desc">{desc}</desc>'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#666"></line>'
        '<text x="{tx}" y="{ty}" class="tick" text-anchor="end">{top}</text>'
        '<text x="{tx}" y="{base}" class="tick" text-anchor="end">0</text>{columns}{axis}{legend}</svg>',
        w=width,
        h=height,
        title=title,
        desc=desc,
        left=left,
        right=width - 8,
        base=base,
        tx=left - 6,
        ty=plot_top + 10,
        top=number_text(top, 0, language),
        columns=columns,
        axis=axis,
        legend=legend,
    )


def _channel(code: str) -> str:
    return str(Channel(code).label) if code in Channel.values else code


def _pairs(row: dict[str, int]) -> list[tuple[str, int]]:
    return [(str(LABELS.get(key, key)), value) for key, value in row.items()]


def _context(figures: Figures) -> dict[str, Any]:
    start, end = figures.first, figures.last
    channels = sorted(figures.readings_by_channel.items(), key=lambda kv: (-kv[1], CHANNELS.index(kv[0])))
    given = [c for c, n in channels if n]
    payments = sorted(figures.payments_by_way.items(), key=lambda kv: -kv[1]["count"])
    total = sum(figures.readings_by_channel.values())
    return {
        "channels": [(_channel(c), n) for c, n in channels],
        "channels_chart": bars([(_channel(c), n) for c, n in channels if n], _("Readings by channel")),
        "days_chart": day_columns(
            figures.readings_by_day,
            given,
            _("Readings per day by channel"),
            _(
                "Stacked columns, one a day from %(start)s to %(end)s, one colour a channel; "
                "%(total)s readings in all. The table below has the same figures."
            )
            % {"start": f"{start:%d.%m.%Y}", "end": f"{end:%d.%m.%Y}", "total": total},
        )
        if total
        else None,
        "day_channels": [_channel(c) for c in given],
        "day_rows": [
            (day, [row.get(c, 0) for c in given], sum(row.values()))
            for day, row in sorted(figures.readings_by_day.items())
        ],
        "share": None if figures.inside_window_share is None else f"{figures.inside_window_share:.1%}",
        "billed": {
            month: [(str(BASES.get(b, b)), n) for b, n in sorted(row.items(), key=lambda kv: -kv[1])]
            for month, row in sorted(figures.billed_by_basis.items())
        },
        "payments": [(str(WAYS.get(way, way)), row["count"], money(row["amount"])) for way, row in payments],
        "true_ups_amount": money(figures.true_ups_amount),
        "support": _pairs(figures.support),
        "support_ages": _pairs(figures.support_ages),
        "phone": _pairs(figures.phone),
        "letters": _pairs(figures.letters),
        "terminal": _pairs(figures.terminal),
    }


@staff_action("stats")
def stats(request: HttpRequest) -> HttpResponse:
    form, start, end = _period(request)
    context: dict[str, Any] = {"form": form, "start": start, "end": end}
    if start is not None and end is not None:
        figures = figures_of(start, end)
        context |= {"figures": figures, "query": f"start={start}&end={end}", "csv": list(tables(figures))}
        context |= _context(figures)
    return render(request, "backoffice/stats.html", context, status=200 if start else 400)


@staff_action("stats")
def stats_csv(request: HttpRequest, table: str) -> HttpResponse:
    form, start, end = _period(request)
    if start is None or end is None:
        errors = [str(e) for field in form.errors.values() for e in field]
        return HttpResponse(" ".join(errors), status=400, content_type="text/plain; charset=utf-8")
    if table not in tables(Figures(start, end)):
        raise Http404
    header, rows = tables(figures_of(start, end))[table]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response
