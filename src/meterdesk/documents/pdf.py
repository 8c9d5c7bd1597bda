"""The building blocks of the PDF documents: embedded fonts, styles, numbers, the QR symbol.

Fonts: DejaVu Sans and DejaVu Sans Bold, vendored in ``documents/fonts`` and embedded in every
document (reportlab writes a subset of each TrueType font as a ``FontFile2``), so that a bill
prints the same on any machine, with Cyrillic, ``₽`` and ``№``. See docs/adr/0007-pdf-reportlab-segno.md.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import segno
from django.utils import translation
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate

from meterdesk.billing.messages import month_name
from meterdesk.domain.money import NARROW_NBSP, NBSP, money_text, volume_text

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

_registered = False


def fonts_register() -> None:
    """Register the vendored fonts with reportlab (once per process)."""
    global _registered
    if _registered:
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONTS_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONTS_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
    _registered = True


def style(size: float = 9, *, bold: bool = False, right: bool = False, leading: float | None = None) -> Any:
    fonts_register()
    return ParagraphStyle(
        name=f"s{size}{bold}{right}",
        fontName=FONT_BOLD if bold else FONT,
        fontSize=size,
        leading=leading or size * 1.25,
        alignment=TA_RIGHT if right else 0,
    )


def unbroken(text: str) -> str:
    """``text`` with its narrow no-break spaces (the thousands separator of ``money_text``) made
    no-break spaces: reportlab breaks a line at U+202F and drops it, splitting ``2 384,13``."""
    return text.replace(NARROW_NBSP, NBSP)


def p(text: str, size: float = 9, *, bold: bool = False, right: bool = False) -> Paragraph:
    """A paragraph of plain text (escaped; ``<b>`` is not interpreted)."""
    return Paragraph(escape(unbroken(text)), style(size, bold=bold, right=right))


def markup(text: str, size: float = 9, *, right: bool = False, leading: float | None = None) -> Paragraph:
    """A paragraph whose text is reportlab markup already (use ``escape`` for values)."""
    return Paragraph(unbroken(text), style(size, right=right, leading=leading))


def rub(amount: Decimal | int | None, *, sign: bool = True) -> str:
    """``1 234,56`` (``domain.money.money_text`` in Russian, a true minus sign for a negative
    amount unless ``sign`` is false); empty for None."""
    if amount is None:
        return ""
    value = Decimal(amount)
    return money_text(value if sign else abs(value), "ru", symbol=False)


def rub_sign(amount: Decimal | int) -> str:
    """``1 234,56 ₽``."""
    return money_text(amount, "ru")


def kwh(volume: Decimal | None) -> str:
    """A volume with its meaningful decimals only (up to 3): ``200``, ``156,5``."""
    return volume_text(volume, "ru")


def price_text(price: Decimal | None) -> str:
    return "" if price is None else f"{price:.2f}".replace(".", ",")


def reading_text(value: Decimal) -> str:
    """A meter's value as the meter shows it: whole, or with its decimal part."""
    normal = value.normalize()
    places = max(0, -int(normal.as_tuple().exponent))
    return f"{value:.{places}f}".replace(".", ",")


def month_words(period: date) -> str:
    """``август 2025`` (``billing.messages.month_name``: the documents are in Russian)."""
    with translation.override("ru"):
        return month_name(period)


def month_code(period: date) -> str:
    """``08.2025``."""
    return f"{period.month:02d}.{period.year}"


class QrCode(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A QR symbol drawn as vector squares (one filled path), with its quiet zone.

    segno encodes the payload in byte mode as UTF-8 (no ECI: the payload's header says UTF-8),
    error correction level M."""

    def __init__(self, payload: str, size: float = 42 * mm, border: int = 4) -> None:
        super().__init__()
        self.qr = segno.make(
            payload, error="m", mode="byte", encoding="utf-8", boost_error=False, micro=False
        )
        self.size = size
        self.border = border
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        matrix = [list(row) for row in self.qr.matrix_iter(border=self.border)]
        count = len(matrix)
        module = self.size / count
        canvas: Canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        path = canvas.beginPath()
        for y, row in enumerate(matrix):
            top = self.size - (y + 1) * module
            x = 0
            while x < count:
                if row[x]:
                    start = x
                    while x < count and row[x]:
                        x += 1
                    path.rect(start * module, top, (x - start) * module, module)
                else:
                    x += 1
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.restoreState()


class CutLine(Flowable):  # type: ignore[misc]
    """A dashed line across the page with a label: where to detach the payment part."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, 6 * mm

    def draw(self) -> None:
        canvas: Canvas = self.canv
        canvas.saveState()
        canvas.setDash(3, 2)
        canvas.setLineWidth(0.5)
        canvas.line(0, 3 * mm, self.width, 3 * mm)
        canvas.setFont(FONT, 7)
        label_width = pdfmetrics.stringWidth(self.label, FONT, 7)
        canvas.setFillColor(colors.white)
        canvas.rect(8 * mm - 1, 1.8 * mm, label_width + 2, 2.8 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        canvas.drawString(8 * mm, 2.3 * mm, self.label)
        canvas.restoreState()


def grid(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header: bool = True,
    box: bool = True,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A table with thin lines, the first row as a grey header."""
    table = Table(list(rows), colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if box:
        commands.append(("GRID", (0, 0), (-1, -1), 0.4, colors.grey))
    if header:
        commands += [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 7.5),
        ]
    table.setStyle(TableStyle([*commands, *extra]))
    return table


def document_build(
    story: list[Any],
    *,
    title: str,
    author: str,
    subject: str = "",
    footer: Callable[[Canvas, BaseDocTemplate], None] | None = None,
) -> bytes:
    """An A4 PDF of the flowables (margins 12 mm), with its metadata and a page footer."""
    fonts_register()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=10 * mm,
        bottomMargin=14 * mm,
        title=title,
        author=author,
        subject=subject,
        creator="meterdesk",
        lang="ru-RU",
        initialFontName=FONT,  # no unembedded Helvetica in the file
        initialFontSize=9,
    )

    def on_page(canvas: Canvas, template: BaseDocTemplate) -> None:
        if footer is not None:
            footer(canvas, template)
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawRightString(A4[0] - 12 * mm, 8 * mm, f"Стр. {template.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


#: The width of the frame's content: the page less the margins and the frame's own padding (6 pt a side).
CONTENT_WIDTH = A4[0] - 24 * mm - 12
