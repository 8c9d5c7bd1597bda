"""The bill prints the account's one-time registration code only when the utility asks for codes
(METERDESK_REGISTRATION_CODE), below the cut line, and the printed code registers."""

from __future__ import annotations

import pytest

from meterdesk.customers.services import account_match, registration_code_issue
from meterdesk.documents.render import bill_pdf
from meterdesk.documents.selectors import bill_data
from meterdesk.documents.tests.conftest import SEP
from meterdesk.documents.tests.helpers import pdf_text

pytestmark = pytest.mark.django_db

LABEL = "Код для регистрации в личном кабинете"


def _bill_text(meter) -> str:
    data = bill_data(meter.account, SEP)
    assert data is not None
    return " ".join(pdf_text(bill_pdf(data)).split())


def test_no_code_on_the_bill_unless_codes_are_asked_for(history):
    _user, meter = history
    code = registration_code_issue(account=meter.account)
    text = _bill_text(meter)
    assert LABEL not in text
    assert code not in text


def test_the_bill_prints_the_code_that_registers(history, settings):
    settings.METERDESK_REGISTRATION_CODE = True
    _user, meter = history
    code = registration_code_issue(account=meter.account)
    text = _bill_text(meter)
    assert f"{LABEL}: {code}" in text
    assert text.index(LABEL) > text.index("линия отреза")  # not on the part handed to the bank
    assert account_match(number=meter.account.number, meter_serial=meter.serial, registration_code=code)
