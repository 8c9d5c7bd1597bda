"""The three documents as PDF (in Russian: the bill is a legal document in Russian).

* ``bill_pdf`` — the monthly bill (ЕПД): the payment slip in two parts (``bill_layout``: the
  notice with a box for handwritten readings, the receipt with the payment QR, GOST R
  56042-2014), then the debt warning if due, the premises, and the calculation: each line of the
  month with its meter, zone, previous and current readings, volume, price, amount and basis in
  words; the balance (opening, charges, recalculations, penalty, payments, closing, due) beside
  the payments received; the penalty's reasons.
* ``receipt_pdf`` — the receipt of one payment (a payment ledger entry).
* ``confirmation_pdf`` — the confirmation of one accepted reading.

Nothing to pay (a zero or credit balance): the bill still carries a QR, without ``Sum`` (the payer
types an amount to pay in advance), and says in words that nothing is due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.utils import translation
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Spacer, Table
from reportlab.platypus.doctemplate import BaseDocTemplate

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.preview import ChargePreview, reading_charge
from meterdesk.core.accounts import (
    PaymentLine,
    StatementLine,
    StatementTotals,
    StatementView,
    statement_view,
)
from meterdesk.customers.models import Account
from meterdesk.customers.services import registration_code_for_bill
from meterdesk.documents.bill_layout import (
    QR_SIZE,
    Slip,
    columns,
    debt_warning_box,
    payment_slip,
    premises_block,
)
from meterdesk.documents.pdf import (
    CONTENT_WIDTH,
    FONT,
    CutLine,
    QrCode,
    document_build,
    grid,
    kwh,
    markup,
    month_code,
    month_words,
    p,
    price_text,
    reading_text,
    rub,
    rub_sign,
)
from meterdesk.documents.selectors import READING_BASES, BillData
from meterdesk.domain.gostqr import QrPayloadError, payment_payload
from meterdesk.domain.phones import phone_text
from meterdesk.metering.messages import zone_label
from meterdesk.metering.models import Channel, Reading, ReadingKind, ReadingStatus
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import utility_get, utility_now

log = logging.getLogger(__name__)

#: How each source of a payment (the ledger entry's ``reason``) is named on its receipt.
PAYMENT_SOURCES = {
    "card": "банковской картой через личный кабинет",
    "card_payment": "банковской картой через личный кабинет",
    "registry": "в банке (по реестру платежей банка)",
    "bank_registry": "в банке (по реестру платежей банка)",
    "bank": "в банке (по реестру платежей банка)",
    "import": "перенесён из прежней учётной системы",
    "demo": "демонстрационный платёж",
    "sbp": "через Систему быстрых платежей",
    "qr": "по QR-коду в приложении банка",
}


def payment_source_words(source: str, detail: dict[str, Any] | None = None) -> str:
    """How a payment was made, for a receipt: its source's words; a payment autopayment made says
    so, with the card as the customer knows it (``Visa *4242``)."""
    if not source:
        return "платёж"
    words = PAYMENT_SOURCES.get(source.lower(), source)
    if detail and detail.get("autopay"):
        card = str(detail.get("card") or "").strip()
        return f"автоплатёж с сохранённой карты {card}" if card else "автоплатёж с сохранённой карты"
    return words


def _payee_details(utility: UtilitySettings) -> tuple[str, str, str]:
    """The payee's codes, its bank and its contacts, a line each (the details it has; "" for a
    line with none)."""
    groups = (
        (" / ", (("ИНН {}", utility.inn), ("КПП {}", utility.kpp))),
        (
            ", ",
            (
                ("р/с {}", utility.settlement_account),
                ("в {}", utility.bank_name),
                ("БИК {}", utility.bic),
                ("к/с {}", utility.correspondent_account),
            ),
        ),
        (
            ", ",
            (
                ("Адрес: {}", utility.address),
                ("тел. {}", phone_text(utility.phone)),
                ("e-mail: {}", utility.support_email),
            ),
        ),
    )
    codes, bank, contacts = (
        separator.join(label.format(value) for label, value in details if value)
        for separator, details in groups
    )
    return codes, bank, contacts


def _payee_lines(utility: UtilitySettings) -> list[str]:
    """The payee: its name, then a line each of its codes, its bank and its contacts."""
    return [utility.name, *(line for line in _payee_details(utility) if line)]


def _footer(utility: UtilitySettings, label: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    made = utility_now(utility)

    def draw(canvas: Canvas, template: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 6.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(12 * mm, 8 * mm, f"{label}. Сформирован {made:%d.%m.%Y %H:%M} (время московское).")
        canvas.restoreState()

    return draw


def _utility_document(
    utility: UtilitySettings, story: list[Any], title: str, subject: str, label: str
) -> bytes:
    """A document of the utility: the PDF of ``story``, authored by the utility, each page's footer
    naming it (``label``) and when it was made."""
    return document_build(
        story, title=title, author=utility.name, subject=subject, footer=_footer(utility, label)
    )


def _name_parts(holder: str) -> tuple[str, str, str]:
    """(last, first, middle) of a payer's name written "Фамилия Имя Отчество"."""
    parts = holder.split()
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1], ""
    return holder, "", ""


def bill_payload(data: BillData) -> str:
    """The GOST R 56042 payload of the bill: Sum = the amount due in kopecks (none when nothing
    is due). Raises QrPayloadError when the utility's bank details are missing or malformed."""
    utility, account = data.utility, data.account
    last, first, middle = _name_parts(account.holder_name)
    due = data.total_due_kopecks
    return payment_payload(
        name=utility.name,
        personal_acc=utility.settlement_account,
        bank_name=utility.bank_name,
        bic=utility.bic,
        corresp_acc=utility.correspondent_account,
        payee_inn=utility.inn,
        kpp=utility.kpp,
        sum_kopecks=due if due > 0 else None,
        purpose=f"Оплата электроэнергии за {month_code(data.period)}, л/с {account.number}",
        pers_acc=account.number,
        paym_period=f"{data.period.month:02d}{data.period.year}",
        last_name=last,
        first_name=first,
        middle_name=middle,
        payer_address=account.address,
        tech_code="02",
    )


def _line_basis(line: StatementLine) -> str:
    """The line's basis in words (``core.accounts``), with a correction's reason, capitalised."""
    entry, words = line.entry, line.words
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    if entry.kind == EntryKind.CORRECTION and detail.get("reason"):
        words += f" ({detail['reason']})"
    return words[:1].upper() + words[1:]


def _charges_table(data: BillData, view: StatementView) -> Table:
    header = [
        p("Прибор учёта", 7, bold=True),
        p("Зона", 7, bold=True),
        p("Предыдущие показания", 7, bold=True),
        p("Текущие показания", 7, bold=True),
        p("Объём, кВт·ч", 7, bold=True),
        p("Тариф, ₽/кВт·ч", 7, bold=True),
        p("Сумма, ₽", 7, bold=True),
        p("Основание начисления", 7, bold=True),
    ]
    rows: list[list[Any]] = [header]
    shown: set[tuple[int, int]] = set()
    for line in view.lines:
        entry = line.entry
        meter = entry.meter
        zone = ""
        if meter is not None and entry.zone:
            zone = zone_label(meter.zones, entry.zone)
        elif entry.volume is not None:
            zone = "одноставочный"
        previous = current = ""
        readings = data.readings.get(entry.meter_id or 0)
        key = (entry.meter_id or 0, entry.zone)
        if (
            readings is not None
            and entry.basis in READING_BASES
            and entry.zone
            and readings.current is not None
            and key not in shown
            and entry.zone <= len(readings.current)
        ):
            shown.add(key)
            previous = (
                f"{reading_text(readings.previous[entry.zone - 1])} ({month_code(readings.previous_period)})"
            )
            current = reading_text(readings.current[entry.zone - 1])
        if entry.band > 1:
            zone += f", ступень {entry.band}"
        rows.append(
            [
                p(f"№ {meter.serial}" if meter is not None else "—", 7),
                p(zone, 7),
                p(previous, 7, right=True),
                p(current, 7, right=True),
                p(kwh(entry.volume), 7, right=True),
                p(price_text(entry.price), 7, right=True),
                p(rub(entry.amount), 7, right=True),
                p(_line_basis(line), 6.5),
            ]
        )
    total = p(rub(view.lines_total), 7.5, bold=True, right=True)
    rows.append(["", "", "", "", "", p("Итого", 7.5, bold=True), total, ""])
    widths = [x * mm for x in (19, 17, 23, 17, 16, 15, 19, 55)]
    return grid(rows, widths, extra=[("SPAN", (0, len(rows) - 1), (4, len(rows) - 1))])


def _balance_table(totals: StatementTotals) -> Table:
    opening = totals.opening_balance
    rows = [
        [p("Показатель", 7.5, bold=True), p("Сумма, ₽", 7.5, bold=True, right=True)],
        [
            p(
                "Задолженность на начало периода" if opening >= 0 else "Переплата (аванс) на начало периода",
                8,
            ),
            p(rub(opening), 8, right=True),
        ],
        [p("Начислено за период", 8), p(rub(totals.charges), 8, right=True)],
        [p("Перерасчёты и корректировки", 8), p(rub(totals.recalculations), 8, right=True)],
        [p("Пени за просрочку оплаты", 8), p(rub(totals.penalty), 8, right=True)],
        [p("Оплачено в периоде", 8), p(rub(totals.paid), 8, right=True)],
        [
            p(
                "Задолженность на конец периода"
                if totals.closing_balance >= 0
                else "Переплата на конец периода",
                8,
            ),
            p(rub(totals.closing_balance), 8, right=True),
        ],
        [p("Итого к оплате", 9, bold=True), p(rub(totals.due), 9, bold=True, right=True)],
    ]
    return grid(rows, [60 * mm, 24 * mm])


def _payments_table(payments: list[PaymentLine]) -> Table:
    rows: list[list[Any]] = [
        [
            p("Дата", 7.5, bold=True),
            p("Сумма, ₽", 7.5, bold=True, right=True),
            p("Способ оплаты", 7.5, bold=True),
        ]
    ]
    for payment in sorted(payments, key=lambda line: (line.on, line.entry.pk)):
        rows.append(
            [
                p(f"{payment.on:%d.%m.%Y}", 8),
                p(rub(payment.amount), 8, right=True),
                p(payment_source_words(payment.entry.reason, payment.entry.detail), 8),
            ]
        )
    return grid(rows, [20 * mm, 24 * mm, 48 * mm])


def _qr_block(data: BillData, due: Decimal) -> list[Any]:
    """The payment QR with its caption, or the sentence saying why there is none."""
    try:
        payload = bill_payload(data)
    except QrPayloadError as error:
        log.warning("no payment QR on the bill of %s for %s: %s", data.account.number, data.period, error)
        return [p("QR-код для оплаты не сформирован: не заданы банковские реквизиты получателя.", 7)]
    caption = (
        "Оплата по QR-коду в приложении банка: реквизиты и сумма заполнятся сами."
        if due > 0
        else "QR-код без суммы: для оплаты авансом введите сумму в приложении банка."
    )
    return [QrCode(payload, size=QR_SIZE), p(caption, 6)]


def _slip(data: BillData, totals: StatementTotals) -> Slip:
    codes, bank, contacts = _payee_details(data.utility)
    return Slip(
        payee=data.utility.name,
        payee_details=tuple(line for line in (codes, bank) if line),
        payee_contacts=contacts,
        account=data.account,
        period=data.period,
        totals=totals,
    )


#: How many sentences of the penalty's reasons go beside the balance (more go below it).
_PENALTY_PARTS_BESIDE = 6


def _money_tables(view: StatementView, more: list[Any]) -> Table:
    """The balance and, beside it, the payments received in the month, then ``more`` (the
    penalty's reasons, the registration code): the column of the payments has the room."""
    totals = view.totals
    balance: list[Any] = [p("Состояние расчётов", 9.5, bold=True), Spacer(1, 1 * mm), _balance_table(totals)]
    balance.append(Spacer(1, 1 * mm))
    if totals.due > 0:
        balance.append(p(f"Срок оплаты: до {totals.due_date:%d.%m.%Y}.", 8, bold=True))
    balance.append(
        p(
            "Положительная сумма — задолженность, сумма со знаком минус — переплата, которая "
            "засчитывается в следующие счета.",
            6.5,
        )
    )
    payments: list[Any] = [p("Оплаты, поступившие в расчётном периоде", 9.5, bold=True), Spacer(1, 1 * mm)]
    if view.payments:
        payments.append(_payments_table(view.payments))
    else:
        payments.append(p("В этом месяце оплат не поступало.", 8))
    left = 88 * mm
    return columns([balance, [*payments, *more]], [left, CONTENT_WIDTH - left])


def bill_pdf(data: BillData) -> bytes:
    """The monthly bill (ЕПД) as a PDF."""
    with translation.override("ru"):
        return _bill_pdf(data)


def _bill_pdf(data: BillData) -> bytes:
    utility, account = data.utility, data.account
    view = statement_view(data.statement)  # its words in Russian, as the rest of the bill
    totals = view.totals
    title = f"Счёт за электроэнергию за {month_words(data.period)}"
    story: list[Any] = [
        markup(f"<b>{escape(utility.name)}</b>     Лицевой счёт № {escape(account.number)}", 8),
        p(
            f"ЕДИНЫЙ ПЛАТЁЖНЫЙ ДОКУМЕНТ (счёт) за электроэнергию за {month_words(data.period)} г.",
            11,
            bold=True,
        ),
        Spacer(1, 1.5 * mm),
        *payment_slip(_slip(data, totals), _qr_block(data, totals.due), data.slip_meters),
        Spacer(1, 0.5 * mm),
        CutLine(
            "✂ линия отреза: выше — извещение и квитанция для оплаты в банке, ниже — расчёт, он остаётся у вас"
        ),
        Spacer(1, 1 * mm),
    ]
    if data.debt_warning is not None:
        story += [debt_warning_box(data.debt_warning, data.period), Spacer(1, 1.5 * mm)]
    story += [
        p("Расчёт размера платы за электроэнергию", 10, bold=True),
        p(
            f"{account.holder_name}, {account.address}; лицевой счёт № {account.number}; "
            f"период {month_code(data.period)}.",
            7.5,
        ),
    ]
    if data.premises is not None:
        story += premises_block(data.premises)
    story.append(Spacer(1, 1.5 * mm))
    if view.lines:
        story.append(_charges_table(data, view))
    else:
        story.append(p("За этот месяц начислений нет.", 8.5))
    more: list[Any] = []
    if view.penalties:
        more += [Spacer(1, 2.5 * mm), p("Пени за несвоевременную оплату", 9.5, bold=True)]
        for line in view.penalties:
            more.append(p(f"Пени: {rub_sign(line.amount)}", 8, bold=True))
            more += [p(f"• {part}", 7.5) for part in line.parts]
    code = registration_code_for_bill(account)  # below the cut line: the bank never sees it
    if code is not None:
        more += [
            Spacer(1, 2.5 * mm),
            p(
                f"Код для регистрации в личном кабинете: {code}. Действует один раз; никому его не сообщайте.",
                8,
            ),
        ]
    # A row of a table cannot break across pages: a long penalty (years of debt) goes below.
    beside = more if sum(len(line.parts) for line in view.penalties) <= _PENALTY_PARTS_BESIDE else []
    story += [Spacer(1, 2 * mm), _money_tables(view, beside)]
    if not beside:
        story += more
    return _utility_document(
        utility,
        story,
        title,
        f"Лицевой счёт {account.number}, {month_code(data.period)}",
        f"Счёт по лицевому счёту {account.number} за {month_code(data.period)}",
    )


def receipt_number(entry: LedgerEntry) -> str:
    return f"{entry.posted_on:%Y}-{entry.pk:08d}"


def _facts(rows: list[tuple[str, str]]) -> Table:
    return grid(
        [[p(label, 8.5, bold=True), p(value, 8.5)] for label, value in rows],
        [55 * mm, CONTENT_WIDTH - 55 * mm],
        header=False,
    )


def receipt_pdf(entry: LedgerEntry) -> bytes:
    """The receipt of one payment (a payment ledger entry)."""
    with translation.override("ru"):
        utility = utility_get()
        account: Account = entry.account
        number = receipt_number(entry)
        received = utility_now(utility, entry.created_at) if entry.created_at else None
        rows = [
            ("Номер квитанции", number),
            ("Дата платежа", f"{entry.posted_on:%d.%m.%Y}"),
            ("Плательщик", account.holder_name),
            ("Лицевой счёт", account.number),
            ("Адрес", account.address),
            ("Сумма", rub_sign(-entry.amount)),
            ("Способ оплаты", payment_source_words(entry.reason, entry.detail)),
            ("Идентификатор платежа", entry.external_id or "—"),
            ("Зачтён в расчётный период", month_code(entry.period)),
        ]
        if received is not None:
            rows.append(("Зарегистрирован", f"{received:%d.%m.%Y %H:%M} (время московское)"))
        story: list[Any] = [
            p(utility.name, 8, bold=True),
            p(f"КВИТАНЦИЯ ОБ ОПЛАТЕ № {number}", 12, bold=True),
            p("за электроэнергию", 9),
            Spacer(1, 4 * mm),
            _facts(rows),
            Spacer(1, 3 * mm),
            p(
                f"Платёж в сумме {rub_sign(-entry.amount)} получен и учтён на лицевом счёте {account.number}.",
                9,
            ),
            Spacer(1, 5 * mm),
            p("Получатель платежа", 9, bold=True),
            *[p(line, 7.5) for line in _payee_lines(utility)],
        ]
        title = f"Квитанция об оплате № {number}"
        return _utility_document(
            utility, story, title, f"Лицевой счёт {account.number}", f"Квитанция № {number}"
        )


def _charge_rows(charge: ChargePreview, zones: int) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            p("Зона", 7.5, bold=True),
            p("Объём, кВт·ч", 7.5, bold=True, right=True),
            p("Тариф, ₽/кВт·ч", 7.5, bold=True, right=True),
            p("Сумма, ₽", 7.5, bold=True, right=True),
            p("Основание", 7.5, bold=True),
        ]
    ]
    for line in charge.lines:
        zone = zone_label(zones, line.zone) if line.zone else "одноставочный"
        if line.band > 1:
            zone += f", ступень {line.band}"
        words = line.words
        rows.append(
            [
                p(zone, 8),
                p(kwh(line.volume), 8, right=True),
                p(price_text(line.price), 8, right=True),
                p(rub(line.amount), 8, right=True),
                p(words[:1].upper() + words[1:], 7),
            ]
        )
    return rows


def confirmation_pdf(reading: Reading) -> bytes:
    """The confirmation that a reading was accepted: when, how, which meter, the values, and the
    month's charge that the values imply (the same computation the customer saw on submitting)."""
    with translation.override("ru"):
        utility = utility_get()
        meter = reading.meter
        account = meter.account
        submitted = utility_now(utility, reading.submitted_at)
        rows = [
            ("Номер подтверждения", reading.confirmation),
            ("Принято", f"{submitted:%d.%m.%Y %H:%M} (время московское)"),
            ("Способ передачи", str(Channel(reading.channel).label)),
            ("Лицевой счёт", account.number),
            ("Плательщик", account.holder_name),
            ("Адрес", account.address),
            ("Прибор учёта", f"№ {meter.serial}" + (f", {meter.model_name}" if meter.model_name else "")),
            ("Расчётный период", f"{month_words(reading.period)} ({month_code(reading.period)})"),
            ("Вид показаний", str(ReadingKind(reading.kind).label)),
        ]
        if reading.status == ReadingStatus.SUPERSEDED:
            rows.append(("Состояние", "заменены более поздней передачей показаний за этот месяц"))
        values: list[list[Any]] = [[p("Зона", 7.5, bold=True), p("Показания", 7.5, bold=True, right=True)]]
        for zone, value in enumerate(reading.values, start=1):
            values.append([p(zone_label(meter.zones, zone), 8.5), p(reading_text(value), 8.5, right=True)])
        story: list[Any] = [
            p(utility.name, 8, bold=True),
            p(f"ПОДТВЕРЖДЕНИЕ ПРИЁМА ПОКАЗАНИЙ № {reading.confirmation}", 12, bold=True),
            Spacer(1, 4 * mm),
            _facts(rows),
            Spacer(1, 3 * mm),
            p("Переданные показания", 10, bold=True),
            Spacer(1, 1 * mm),
            grid(values, [50 * mm, 35 * mm]),
        ]
        if reading.rolled_over:
            story.append(p("Счётчик прошёл максимальное значение и начал счёт с нуля; это учтено.", 8))
        if reading.kind != ReadingKind.INITIAL:
            charge = reading_charge(reading)
            story += [Spacer(1, 3 * mm), p("Начисление за месяц по этим показаниям", 10, bold=True)]
            if charge.total is None:
                story.append(p("Тариф на этот месяц ещё не установлен: начисление появится в счёте.", 8))
            elif charge.basis is None:
                story.append(
                    p(
                        "Новый счётчик учитывается с 1-го числа месяца, следующего за месяцем установки: "
                        "показания сохранены, начисление по ним будет в следующих счетах.",
                        8,
                    )
                )
            elif charge.lines:
                story.append(grid(_charge_rows(charge, meter.zones), [x * mm for x in (28, 24, 24, 24, 81)]))
                story.append(p(f"Итого по счётчику: {rub_sign(charge.total)}", 9, bold=True))
            story.append(
                p(
                    "Расчёт выполнен по тем же правилам, что и ежемесячный счёт, по ценам расчётного "
                    "периода. В счёте будут и другие начисления по лицевому счёту, оплаты и пени.",
                    7,
                )
            )
        story += [Spacer(1, 5 * mm), *[p(line, 7.5) for line in _payee_lines(utility)]]
        return _utility_document(
            utility,
            story,
            f"Подтверждение приёма показаний № {reading.confirmation}",
            f"Лицевой счёт {account.number}, счётчик № {meter.serial}",
            f"Подтверждение № {reading.confirmation}",
        )


def bill_filename(number: str, period: Any) -> str:
    return f"schet-{number}-{period:%Y-%m}.pdf"


def receipt_filename(entry: LedgerEntry) -> str:
    return f"kvitanciya-{entry.account.number}-{receipt_number(entry)}.pdf"


def confirmation_filename(reading: Reading) -> str:
    return f"pokazaniya-{reading.confirmation}.pdf"
