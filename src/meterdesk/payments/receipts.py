"""Fiscal receipts under 54-FZ: the ``receipt`` object sent with each payment, as YooKassa's API
expects it (https://yookassa.ru/developers/54fz/parameters-values), and its check.

The provider hands the receipt to the utility's online cash register, which registers it with the
tax service and e-mails it to the customer. One item per account paid: the service (electricity),
quantity 1, the account's amount, the utility's VAT code, paid in full (``full_payment``) for a
``service``. The VAT code, the tax system and the item's wording are settings
(``METERDESK_RECEIPT_VAT_CODE``, ``METERDESK_RECEIPT_TAX_SYSTEM``, ``METERDESK_RECEIPT_ITEM``).

``receipt_problems`` is the check the sandbox provider makes (the real provider makes its own): a
payment with a malformed receipt is refused with the first problem in words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

#: YooKassa's VAT codes: 1 no VAT, 2 0 %, 3 10 %, 4 20 %, 5 10/110, 6 20/120, 7 5 %, 8 7 %,
#: 9 5/105, 10 7/107, 11 22 %, 12 22/122.
VAT_CODES = range(1, 13)
#: Tax systems: 1 general, 2 simplified (income), 3 simplified (income less costs), 4 imputed
#: income, 5 agricultural, 6 patent.
TAX_SYSTEMS = range(1, 7)
PAYMENT_MODES = frozenset(
    {
        "full_prepayment",
        "partial_prepayment",
        "advance",
        "full_payment",
        "partial_payment",
        "credit",
        "credit_payment",
    }
)
PAYMENT_SUBJECTS = frozenset(
    {
        "commodity",
        "excise",
        "job",
        "service",
        "gambling_bet",
        "gambling_prize",
        "lottery",
        "lottery_prize",
        "intellectual_activity",
        "payment",
        "agent_commission",
        "property_right",
        "non_operating_gain",
        "insurance_premium",
        "sales_tax",
        "resort_fee",
        "composite",
        "another",
    }
)
#: A receipt's item description, and its number of items, at most (YooKassa's limits).
DESCRIPTION_MAX = 128
ITEMS_MAX = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KOPECK = Decimal("0.01")


def item_description(number: str) -> str:
    """The item's words for the account ``number`` (METERDESK_RECEIPT_ITEM, ``{account}`` in it
    replaced by the number)."""
    wording = str(getattr(settings, "METERDESK_RECEIPT_ITEM", "") or "Электроэнергия, лицевой счёт {account}")
    return wording.replace("{account}", number)[:DESCRIPTION_MAX]


def receipt_build(
    *, email: str = "", phone: str = "", items: Sequence[tuple[str, Decimal]]
) -> dict[str, Any]:
    """The ``receipt`` object for a payment of ``items`` — (account number, amount) each — whose
    receipt goes to ``email``, or by SMS to ``phone`` (E.164; YooKassa takes its digits)."""
    receipt: dict[str, Any] = {
        "customer": {"email": email} if email else {"phone": phone.lstrip("+")},
        "items": [
            {
                "description": item_description(number),
                "quantity": "1.00",
                "amount": {"value": f"{amount:.2f}", "currency": "RUB"},
                "vat_code": int(getattr(settings, "METERDESK_RECEIPT_VAT_CODE", 11)),
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
            for number, amount in items
        ],
    }
    tax_system = getattr(settings, "METERDESK_RECEIPT_TAX_SYSTEM", None)
    if tax_system:
        receipt["tax_system_code"] = int(tax_system)
    return receipt


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _item_problem(n: int, item: Any) -> tuple[str | None, Decimal]:
    """The first problem of item ``n`` (or None) and its amount (zero when unreadable)."""
    where = f"receipt.items[{n}]"
    if not isinstance(item, dict):
        return f"{where}: not an object", Decimal(0)
    description = item.get("description")
    if not isinstance(description, str) or not description.strip():
        return f"{where}.description: required", Decimal(0)
    if len(description) > DESCRIPTION_MAX:
        return f"{where}.description: at most {DESCRIPTION_MAX} characters", Decimal(0)
    quantity = _money(item.get("quantity"))
    if quantity is None or quantity <= 0:
        return f"{where}.quantity: a positive number is required", Decimal(0)
    raw_amount = item.get("amount")
    value = _money(raw_amount.get("value")) if isinstance(raw_amount, dict) else None
    if value is None or value <= 0 or value != value.quantize(KOPECK):
        return f"{where}.amount.value: a positive amount in whole kopecks is required", Decimal(0)
    if not isinstance(raw_amount, dict) or raw_amount.get("currency") != "RUB":
        return f"{where}.amount.currency: must be RUB", Decimal(0)
    vat = item.get("vat_code")
    if not isinstance(vat, int) or isinstance(vat, bool) or vat not in VAT_CODES:
        return f"{where}.vat_code: one of 1..12 is required", Decimal(0)
    if item.get("payment_mode") not in PAYMENT_MODES:
        return f"{where}.payment_mode: unknown value {item.get('payment_mode')!r}", Decimal(0)
    if item.get("payment_subject") not in PAYMENT_SUBJECTS:
        return f"{where}.payment_subject: unknown value {item.get('payment_subject')!r}", Decimal(0)
    return None, (value * quantity).quantize(KOPECK)


def receipt_problems(receipt: Any, amount: Decimal) -> list[str]:
    """What is wrong with ``receipt`` for a payment of ``amount``: empty when it is well formed.
    Its items must add up to the payment, kopeck for kopeck."""
    if receipt is None:
        return ["receipt: required (the shop sends receipts under 54-FZ)"]
    if not isinstance(receipt, dict):
        return ["receipt: not an object"]
    problems: list[str] = []
    customer = receipt.get("customer")
    email = customer.get("email") if isinstance(customer, dict) else None
    phone = customer.get("phone") if isinstance(customer, dict) else None
    if not (isinstance(email, str) and EMAIL.match(email)) and not (isinstance(phone, str) and phone):
        problems.append("receipt.customer: an e-mail or a phone number is required")
    tax_system = receipt.get("tax_system_code")
    if tax_system is not None and (not isinstance(tax_system, int) or tax_system not in TAX_SYSTEMS):
        problems.append("receipt.tax_system_code: one of 1..6")
    items = receipt.get("items")
    if not isinstance(items, list) or not items:
        return [*problems, "receipt.items: at least one item is required"]
    if len(items) > ITEMS_MAX:
        problems.append(f"receipt.items: at most {ITEMS_MAX} items")
    total = Decimal(0)
    for n, item in enumerate(items):
        problem, item_amount = _item_problem(n, item)
        if problem is not None:
            problems.append(problem)
        total += item_amount
    if not problems and total != amount:
        problems.append(f"receipt.items: the items add up to {total:.2f}, the payment is {amount:.2f}")
    return problems
