"""Server-drawn SVG charts: no JavaScript, scale to any screen, and carry text for screen readers
(each bar has a <title>; the page also has the same figures as a table).

The months run left to right, the latest at the right; the value axis is on the right too, so that
a chart that opens scrolled to its latest months (site.css, ``.chart-scroll``) shows its scale. A
month's label is its short name, and the year is written under each January and under the first
month: a label is narrower than a month's slot, so no two labels overlap (``label_boxes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from meterdesk.billing.messages import kwh as kwh_text
from meterdesk.billing.messages import money, month_name
from meterdesk.core.accounts import HistoryMonth
from meterdesk.domain.money import is_russian, number_text

ZONE_COLOURS = ("#1f6fb2", "#6c3fb5", "#d9822b")
BILLED_COLOUR = "#2e7d4f"
ESTIMATE_COLOUR = "#a9d3b8"  # the billed colour, lighter: not billed yet (site.css .swatch.estimate)
HEIGHT = 220
TOP = 26
BOTTOM = 40  # two lines of labels: the month, the year
LEFT = 8
RIGHT = 64  # the value axis
SLOT = 28
BAR = SLOT - 8
FONT_PX = 11
#: A generous width of a character of the labels' font at FONT_PX (system-ui, digits and letters).
CHAR_PX = 0.62 * FONT_PX


@dataclass(frozen=True)
class Label:
    x: float  # the centre
    y: float
    text: str

    @property
    def left(self) -> float:
        return self.x - len(self.text) * CHAR_PX / 2

    @property
    def right(self) -> float:
        return self.x + len(self.text) * CHAR_PX / 2


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


def _short_month(period: date) -> str:
    """``янв``, ``Jan``: Django's three-letter name (lower case in Russian, as written there)."""
    text = date_format(period, "b")
    return text if is_russian(get_language()) else text.capitalize()


def label_boxes(periods: Sequence[date]) -> list[Label]:
    """The labels under the bars of ``periods`` (oldest first): each month's short name, and the
    year under each January and under the first month (unless a January follows closely enough
    for the two years to touch)."""
    labels = []
    for index, period in enumerate(periods):
        x = LEFT + index * SLOT + 4 + BAR / 2
        labels.append(Label(x, HEIGHT - 24, _short_month(period)))
        january_soon = any(p.month == 1 for p in periods[index + 1 : index + 2])
        if period.month == 1 or (index == 0 and not january_soon):
            labels.append(Label(x, HEIGHT - 8, str(period.year)))
    return labels


def _axis(max_value: Decimal, width: int, unit: str) -> SafeString:
    plot = HEIGHT - TOP - BOTTOM
    right = width - RIGHT
    parts = []
    for i in range(5):
        value = max_value * i / 4
        y = TOP + plot - plot * i / 4
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
                '<text x="{}" y="{}" class="tick">{}</text>',
                LEFT,
                right,
                f"{y:.1f}",
                f"{y:.1f}",
                right + 6,
                f"{y + 4:.1f}",
                number_text(value, 0, get_language()),
            )
        )
    parts.append(format_html('<text x="{}" y="{}" class="unit">{}</text>', right + 6, TOP - 12, unit))
    return mark_safe("".join(parts))  # noqa: S308 - every part was escaped by format_html


def _labels(periods: Sequence[date]) -> SafeString:
    return format_html_join(
        "",
        '<text x="{}" y="{}" class="tick" text-anchor="middle">{}</text>',
        ((f"{label.x:.0f}", f"{label.y:.0f}", label.text) for label in label_boxes(periods)),
    )


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


def _bar(x: int, value: Decimal, top: Decimal, colour: str, title: str, css: str = "") -> SafeString:
    plot = HEIGHT - TOP - BOTTOM
    h = float(value / top) * plot
    return format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"{}><title>{}</title></rect>',
        x,
        f"{TOP + plot - h:.1f}",
        BAR,
        f"{h:.1f}",
        colour,
        format_html(' class="{}"', css) if css else "",
        title,
    )


def history_chart(months: Sequence[HistoryMonth], zone_labels: Sequence[str]) -> dict[str, object]:
    """Two charts over the months (oldest first): what each month was billed (or, not billed yet,
    its estimate by the readings, drawn lighter) and the consumption per zone (stacked)."""
    width = LEFT + SLOT * max(1, len(months)) + RIGHT
    plot = HEIGHT - TOP - BOTTOM
    max_kwh = _nice_max(max((m.kwh for m in months), default=Decimal(0)))
    max_rub = _nice_max(max((m.amount or Decimal(0) for m in months), default=Decimal(0)))
    kwh_bars = []
    rub_bars = []
    for index, item in enumerate(months):
        x = LEFT + index * SLOT + 4
        month = month_name(item.period)
        y_base: float = TOP + plot
        for zone, volume in enumerate(item.row.zone_kwh[: len(zone_labels)]):
            if volume <= 0:
                continue
            h = float(volume / max_kwh) * plot
            y_base -= h
            kwh_bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {} {}</title></rect>',
                    x,
                    f"{y_base:.1f}",
                    BAR,
                    f"{h:.1f}",
                    ZONE_COLOURS[zone],
                    month,
                    zone_labels[zone],
                    kwh_text(volume.quantize(Decimal(1))),
                    _("kWh"),
                )
            )
        amount = item.amount
        if amount is not None and amount > 0:
            if item.billed is not None:
                rub_bars.append(_bar(x, amount, max_rub, BILLED_COLOUR, f"{month}: {money(amount)}"))
            else:
                title = _("%(month)s: %(amount)s, an estimate by the readings, not billed yet") % {
                    "month": month,
                    "amount": money(amount),
                }
                rub_bars.append(_bar(x, amount, max_rub, ESTIMATE_COLOUR, title, "estimate"))
    labels = _labels([m.period for m in months])
    kwh_body = mark_safe(_axis(max_kwh, width, _("kWh")) + "".join(kwh_bars) + labels)  # noqa: S308
    rub_body = mark_safe(_axis(max_rub, width, "₽") + "".join(rub_bars) + labels)  # noqa: S308
    legend = format_html_join(
        "",
        # The swatch's colour comes from site.css (.zone-N, the same as ZONE_COLOURS): the
        # Content-Security-Policy allows no inline style.
        '<li><span class="swatch zone-{}" aria-hidden="true"></span>{}</li>',
        ((i + 1, lbl) for i, lbl in enumerate(zone_labels)),
    )
    return {
        "consumption": _svg(width, _("Consumption by month and zone, kWh"), kwh_body),
        "charges": _svg(width, _("Billed by month, roubles"), rub_body),
        "legend": legend,
        "has_estimate": any(m.billed is None and m.estimate for m in months),
    }
