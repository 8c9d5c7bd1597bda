"""The parts of the monthly bill that paper bills have beyond the statement: the payment slip in
two parts (the notice, извещение, that the bank keeps, with the box for handwritten readings; the
receipt, квитанция, that the payer keeps, with the payment QR), the premises and the debt warning
of Decree 354 p.119. ``render.bill_pdf`` puts them together with the statement's tables.

In Russian, like the rest of the bill: it is a legal document in Russian.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from meterdesk.core.accounts import StatementTotals
from meterdesk.customers.models import Account, PremisesCategory
from meterdesk.documents.pdf import (
    CONTENT_WIDTH,
    FONT,
    CutLine,
    grid,
    kwh,
    markup,
    month_code,
    month_words,
    p,
    reading_text,
    rub_sign,
)
from meterdesk.documents.selectors import DebtWarning, MeterReadings, NormBilled, Premises
from meterdesk.domain.billing import period_end
from meterdesk.metering.messages import zone_label

#: Decree 354 p.119 a), current text: supply may be limited if the debt is not paid within this
#: many days of the warning's delivery (the warning may be printed on the bill).
DEBT_NOTICE_DAYS = 20
#: The left column of each part of the slip: its name, whose copy it is, the cashier's mark.
LABEL_WIDTH = 30 * mm
#: What the parts' frames take of the width (their left and right padding).
_PADDING = 4 + 3
BODY_WIDTH = CONTENT_WIDTH - LABEL_WIDTH - _PADDING
QR_SIZE = 36 * mm
_QR_COLUMN = QR_SIZE + 3 * mm
_CELL_WIDTH = 4.2 * mm
_CELL_HEIGHT = 4.5 * mm


@dataclass(frozen=True)
class Slip:
    """What both parts of the slip say: who is paid, who pays, for which month, how much."""

    payee: str
    payee_details: tuple[str, ...]  # its codes and bank, a line each
    payee_contacts: str  # address, phone, e-mail in one line ("" if none)
    account: Account
    period: date
    totals: StatementTotals


class DigitCells(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """Empty boxes to write a reading in by hand: one per integer digit of the meter, then a
    comma and one per decimal place it shows."""

    def __init__(self, digits: int, decimals: int = 0) -> None:
        super().__init__()
        self.digits = digits
        self.decimals = decimals
        self.width = _CELL_WIDTH * (digits + decimals) + (2 * mm if decimals else 0)
        self.height = _CELL_HEIGHT

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas: Canvas = self.canv
        canvas.saveState()
        canvas.setLineWidth(0.5)
        x = 0.0
        for index in range(self.digits + self.decimals):
            if index == self.digits:  # the decimal mark, drawn (not a character of the text)
                canvas.circle(x + 1 * mm, 0.6 * mm, 0.35 * mm, stroke=0, fill=1)
                x += 2 * mm
            canvas.rect(x, 0, _CELL_WIDTH, self.height, stroke=1, fill=0)
            x += _CELL_WIDTH
        canvas.restoreState()


def columns(cells: Sequence[Any], widths: Sequence[float]) -> Table:
    """Flowables side by side, without lines or padding of their own."""
    table = Table([list(cells)], colWidths=list(widths), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),  # else the cells' font is an unembedded Helvetica
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _part(title: str, whose: str, body: list[Any]) -> Table:
    """One part of the slip, framed: its name and the cashier's place on the left, ``body`` on
    the right."""
    label = [p(title, 9.5, bold=True), p(whose, 6.5), Spacer(1, 10 * mm), p("Кассир", 7.5)]
    table = Table([[label, body]], colWidths=[LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                ("LINEAFTER", (0, 0), (0, 0), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _payee(slip: Slip, *, contacts: bool) -> list[Any]:
    lines: list[Any] = [markup(f"<b>Получатель:</b> {escape(slip.payee)}", 7.5)]
    lines += [p(line, 7) for line in slip.payee_details]
    if contacts and slip.payee_contacts:
        lines.append(p(slip.payee_contacts, 7))
    return lines


def _payer(slip: Slip) -> list[Any]:
    account = slip.account
    return [
        markup(f"<b>Плательщик:</b> {escape(account.holder_name)}", 7.5),
        markup(f"<b>Адрес:</b> {escape(account.address)}", 7.5),
    ]


def _account_and_period(slip: Slip) -> list[Any]:
    return [
        markup(f"<b>Лицевой счёт:</b> <font size=10>{escape(slip.account.number)}</font>", 7.5, leading=12),
        markup(f"<b>Расчётный период:</b> {month_words(slip.period)} ({month_code(slip.period)})", 7.5),
    ]


def _money(amount: Decimal) -> str:
    """``3 392,00 ₽`` kept on one line (``markup`` turns its narrow spaces into no-break ones)."""
    return rub_sign(amount)


def _amount(totals: StatementTotals) -> list[Any]:
    """The amount due and by when; or, with nothing due, that nothing is to be paid and why."""
    if totals.due > 0:
        return [
            markup(f"<b>Итого к оплате: <font size=11>{_money(totals.due)}</font></b>", 8, leading=13),
            markup(f"<b>Оплатить до:</b> {totals.due_date:%d.%m.%Y}", 8),
        ]
    lines = [markup("<b>Итого к оплате: <font size=11>0,00 ₽</font></b>", 8, leading=13)]
    credit = -totals.closing_balance
    if credit > 0:
        lines.append(
            p(f"Оплачивать не нужно: переплата {_money(credit)} будет зачтена в следующих счетах.", 7)
        )
    else:
        lines.append(p("Оплачивать не нужно: задолженности нет.", 7))
    return lines


def _signature(*, wide: bool) -> list[Any]:
    """What the payer fills in and signs at the bank's counter (on one line where ``wide``)."""
    amount = "Сумма платежа: ___________ руб. ____ коп."
    signature = "Подпись плательщика _______________  Дата «____» __________ 20___ г."
    consent = p(
        "С условиями приёма указанной в платёжном документе суммы, в том числе с суммой "
        "взимаемой платы за услуги банка, ознакомлен и согласен.",
        6,
    )
    if wide:
        return [Spacer(1, 1.5 * mm), consent, Spacer(1, 1.5 * mm), p(f"{amount}   {signature}", 7)]
    return [Spacer(1, 1.5 * mm), p(amount, 7.5), consent, Spacer(1, 1.5 * mm), p(signature, 7.5)]


def readings_box(meters: Sequence[MeterReadings]) -> list[Any]:
    """For each meter (serial, each zone, the values last known), empty cells for the digits of
    the new reading: a household paying at a bank's counter writes them in, and the bank passes
    the notice on. Nothing for premises without a meter."""
    if not meters:
        return []
    rows: list[list[Any]] = [
        [
            p("Счётчик", 6.5, bold=True),
            p("Зона", 6.5, bold=True),
            p("Последние показания", 6.5, bold=True),
            p("Новые показания — впишите", 6.5, bold=True),
        ]
    ]
    extra: list[tuple[Any, ...]] = [("VALIGN", (0, 1), (-1, -1), "MIDDLE")]
    for item in meters:
        meter = item.meter
        values, month = item.last
        first = len(rows)
        for zone in range(1, meter.zones + 1):
            last = f"{reading_text(values[zone - 1])} ({month_code(month)})" if zone <= len(values) else ""
            rows.append(
                [
                    p(f"№ {meter.serial}", 7) if zone == 1 else "",
                    p(zone_label(meter.zones, zone), 7),
                    p(last, 7, right=True),
                    DigitCells(meter.digits, meter.decimal_places),
                ]
            )
        if meter.zones > 1:
            extra.append(("SPAN", (0, first), (0, len(rows) - 1)))
    widths = [32 * mm, 26 * mm, 34 * mm]
    table = grid(rows, [*widths, BODY_WIDTH - sum(widths)], extra=extra)
    heading = markup(
        "<b>Показания счётчиков</b> — впишите, если платите в банке. "
        "Дата снятия показаний «____» ____________ 20____ г.",
        7,
    )
    return [heading, Spacer(1, 0.8 * mm), table]


def _notice(slip: Slip, meters: Sequence[MeterReadings]) -> Table:
    left = [*_payee(slip, contacts=False), Spacer(1, 1 * mm), *_payer(slip)]
    right = [*_account_and_period(slip), Spacer(1, 1 * mm), *_amount(slip.totals)]
    body: list[Any] = [columns([left, right], [BODY_WIDTH * 0.58, BODY_WIDTH * 0.42])]
    box = readings_box(meters)
    if box:
        body += [Spacer(1, 1.5 * mm), *box]
    body += _signature(wide=True)
    return _part("ИЗВЕЩЕНИЕ", "экземпляр банка", body)


def _receipt(slip: Slip, qr: list[Any]) -> Table:
    details = [
        *_payee(slip, contacts=True),
        Spacer(1, 1 * mm),
        *_payer(slip),
        *_account_and_period(slip),
        Spacer(1, 1 * mm),
        *_amount(slip.totals),
        *_signature(wide=False),
    ]
    return _part(
        "КВИТАНЦИЯ",
        "экземпляр плательщика",
        [columns([details, qr], [BODY_WIDTH - _QR_COLUMN, _QR_COLUMN])],
    )


def payment_slip(slip: Slip, qr: list[Any], meters: Sequence[MeterReadings]) -> list[Any]:
    """The two parts of the slip (ПД-4), one above the other with a cut line between: the notice
    with the readings box, the receipt with ``qr`` (the payment QR and its caption, or why there
    is none)."""
    return [
        _notice(slip, meters),
        Spacer(1, 0.5 * mm),
        CutLine("✂ линия отреза: извещение остаётся в банке, квитанция — у плательщика"),
        Spacer(1, 0.5 * mm),
        _receipt(slip, qr),
    ]


def _norm_words(norm: NormBilled) -> str:
    """``78 кВт·ч на человека в месяц; ... 2 чел. × 78 кВт·ч × 1,5 (повышающий коэффициент) =
    234 кВт·ч``: the norm and how the month's volume was reckoned from it."""
    per_person = " / ".join(kwh(value) for value in sorted({part.kwh_per_person for part in norm.parts}))
    terms = [
        f"{part.residents} чел. × {kwh(part.kwh_per_person)} кВт·ч"
        + ("" if part.share == 1 else " × " + f"{part.share:.4f}".replace(".", ",") + " мес.")
        for part in norm.parts
    ]
    formula = " + ".join(terms)
    if norm.coefficient is not None:
        formula = (f"({formula})" if len(terms) > 1 else formula) + (
            f" × {kwh(norm.coefficient)} (повышающий коэффициент)"
        )
    return (
        f"<b>Норматив потребления:</b> {per_person} кВт·ч на человека в месяц. "
        f"Месяц начислен по нормативу: {formula} = {kwh(norm.volume)} кВт·ч."
    )


def premises_block(premises: Premises) -> list[Any]:
    """The premises: total area, rooms, residents, category; the norm if the month was billed
    by it."""
    facts = []
    if premises.area is not None:
        facts.append(f"общая площадь {kwh(premises.area)} м²")  # kwh: its meaningful decimals
    facts += [f"комнат {premises.rooms}", f"проживает {premises.residents} чел."]
    category = dict(PremisesCategory.choices).get(premises.category)
    if category:
        facts.append(str(category))
    lines = [markup(f"<b>Помещение:</b> {escape('; '.join(facts))}.", 7.5)]
    if premises.norm is not None:
        lines.append(markup(_norm_words(premises.norm), 7.5))
    return lines


def debt_warning_box(warning: DebtWarning, period: date) -> Table:
    """The warning of Decree 354 p.119, in a frame: the debt, that it exceeds two months'
    charges, and that supply may be limited, then suspended, if it is not paid within
    ``DEBT_NOTICE_DAYS`` days of this notice."""
    if len(warning.months) > 1:
        months = "начисления за " + " и ".join(month_words(month) for month in warning.months)
    else:
        months = f"двойное начисление за {month_words(warning.months[0])}"
    text = (
        f"<b>ПРЕДУПРЕЖДЕНИЕ О ЗАДОЛЖЕННОСТИ.</b> Долг за электроэнергию за прошлые месяцы, не "
        f"погашенный на {period_end(period):%d.%m.%Y}, — <b>{_money(warning.debt)}</b>. Это больше "
        f"начислений за два месяца ({_money(warning.threshold)}: {months}). Если долг не будет "
        f"погашен в течение {DEBT_NOTICE_DAYS} дней со дня доставки этого предупреждения, подача "
        "электроэнергии может быть сначала ограничена, а затем приостановлена (пп. 117–119 Правил "
        "предоставления коммунальных услуг, утв. постановлением Правительства РФ от 06.05.2011 "
        "№ 354). Если долг уже оплачен, не учитывайте это предупреждение."
    )
    table = Table([[markup(text, 7)]], colWidths=[CONTENT_WIDTH])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#eeeeee")),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table
