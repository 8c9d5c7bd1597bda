"""An amount is never split across lines of a PDF paragraph (reportlab breaks at U+202F)."""

from decimal import Decimal

from meterdesk.documents.pdf import markup, p, rub_sign


def _text_lines(paragraph, width):
    paragraph.wrap(width, 1000)
    out = []
    for line in paragraph.blPara.lines:
        if isinstance(line, tuple):
            out.append(" ".join(line[1]))
        else:
            out.append("".join(getattr(word, "text", "") for word in line.words))
    return out


def test_a_grouped_amount_stays_on_one_line():
    amount = rub_sign(Decimal("1234567.89"))
    assert "\u202f" in amount  # the money format groups with narrow no-break spaces
    for make in (p, markup):
        lines = _text_lines(make(f"Итого к оплате {amount} до 25.12.2026", 9), 90)
        assert any("1\u00a0234\u00a0567,89\u00a0₽" in line for line in lines), lines
        assert not any(line.rstrip().endswith(("1", "234")) for line in lines), lines


def test_the_amount_keeps_its_digits():
    lines = _text_lines(p(rub_sign(Decimal("2384.13")), 9), 200)
    assert "".join(lines).replace("\u00a0", " ") == "2 384,13 ₽"
