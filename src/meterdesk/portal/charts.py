"""Server-drawn SVG charts: no JavaScript, scale to any screen, and carry text for screen readers
(each bar has a <title>; the page also has the same figures as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from meterdesk.metering.selectors import MonthRow

ZONE_COLOURS = ("#1f6fb2", "#6c3fb5", "#d9822b")
CHARGE_COLOUR = "#2e7d4f"
HEIGHT = 220
TOP = 16
BOTTOM = 36
LEFT = 56
SLOT = 28


def _nice_max(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(1)
    exponent = len(str(int(value))) - 1
    step = Decimal(10) ** exponent
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = step * Decimal(str(multiple))
        if candidate >= value:
            return candidate
    return step * 10  # pragma: no cover


def _axis(max_value: Decimal, width: int, unit: str) -> SafeString:
    plot = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = max_value * i / 4
        y = TOP + plot - plot * i / 4
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
                '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>',
                LEFT,
                width,
                f"{y:.1f}",
                f"{y:.1f}",
                LEFT - 6,
                f"{y + 4:.1f}",
                number_format(value.quantize(Decimal(1)), force_grouping=True),
            )
        )
    parts.append(format_html('<text x="4" y="{}" class="unit">{}</text>', TOP - 4, unit))
    return mark_safe("".join(parts))  # noqa: S308 - every part was escaped by format_html


def _month_label(row: MonthRow, index: int, count: int) -> str:
    if count > 14 and row.period.month not in (1, 4, 7, 10):
        return ""
    return date_format(row.period, "m.y")


def _svg(width: int, label: str, body: SafeString) -> SafeString:
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet">{}</svg>',
        width,
        HEIGHT,
        width,
        HEIGHT,
        label,
        body,
    )


def history_chart(rows: Sequence[MonthRow], zone_labels: Sequence[str]) -> dict[str, SafeString]:
    """Two charts over the months (oldest first): consumption per zone (stacked) and charges."""
    width = LEFT + SLOT * max(1, len(rows)) + 8
    plot = HEIGHT - TOP - BOTTOM
    max_kwh = _nice_max(max((r.total_kwh for r in rows), default=Decimal(0)))
    max_rub = _nice_max(max((r.amount for r in rows), default=Decimal(0)))
    kwh_bars = []
    rub_bars = []
    for index, row in enumerate(rows):
        x = LEFT + index * SLOT + 4
        month = date_format(row.period, "F Y")
        label = _month_label(row, index, len(rows))
        y_base: float = TOP + plot
        for zone, kwh in enumerate(row.zone_kwh[: len(zone_labels)]):
            if kwh <= 0:
                continue
            h = float(kwh / max_kwh) * plot
            y_base -= h
            kwh_bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {} {}</title></rect>',
                    x,
                    f"{y_base:.1f}",
                    SLOT - 8,
                    f"{h:.1f}",
                    ZONE_COLOURS[zone],
                    month,
                    zone_labels[zone],
                    number_format(kwh, decimal_pos=0, force_grouping=True),
                    _("kWh"),
                )
            )
        if row.amount > 0:
            h = float(row.amount / max_rub) * plot
            rub_bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} ₽</title></rect>',
                    x,
                    f"{TOP + plot - h:.1f}",
                    SLOT - 8,
                    f"{h:.1f}",
                    CHARGE_COLOUR,
                    month,
                    number_format(row.amount, decimal_pos=2, force_grouping=True),
                )
            )
        if label:
            tick = format_html(
                '<text x="{}" y="{}" class="tick" text-anchor="middle">{}</text>',
                x + (SLOT - 8) // 2,
                HEIGHT - 18,
                label,
            )
            kwh_bars.append(tick)
            rub_bars.append(tick)
    kwh_body = mark_safe(_axis(max_kwh, width, _("kWh")) + "".join(kwh_bars))  # noqa: S308
    rub_body = mark_safe(_axis(max_rub, width, "₽") + "".join(rub_bars))  # noqa: S308
    legend = format_html_join(
        "",
        # The swatch's colour comes from site.css (.zone-N, the same as ZONE_COLOURS): the
        # Content-Security-Policy allows no inline style.
        '<li><span class="swatch zone-{}" aria-hidden="true"></span>{}</li>',
        ((i + 1, lbl) for i, lbl in enumerate(zone_labels)),
    )
    return {
        "consumption": _svg(width, _("Consumption by month and zone, kWh"), kwh_body),
        "charges": _svg(width, _("Charges by month, roubles"), rub_body),
        "legend": legend,
    }
