"""The GOST R 56042-2014 payment payload: fields, separator, lengths, and reading it back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterdesk.domain.gostqr import (
    ELLIPSIS,
    MAX_LENGTH,
    OTHER_TEXT_LIMIT,
    QrPayloadError,
    clean_text,
    payload_decode,
    payload_encode,
    payload_parse,
    payment_payload,
)

PAYEE: dict[str, Any] = {
    "name": "АО «Мосэнергосбыт»",
    "personal_acc": "40702810638000123456",
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "corresp_acc": "30101810400000000225",
}


def full(**overrides):
    return payment_payload(
        **{
            **PAYEE,
            "payee_inn": "7736520080",
            "kpp": "997650001",
            "sum_kopecks": 217560,
            "purpose": "Оплата электроэнергии, л/с 5000000001, 08.2025",
            "pers_acc": "5000000001",
            "paym_period": "082025",
            "last_name": "Сидоров",
            "payer_address": "г. Москва, ул. Тестовая, д. 1, кв. 1",
            "tech_code": "02",
            **overrides,
        }
    )


def test_the_payload_as_the_standard_writes_it():
    payload = full()
    assert payload == (
        "ST00012|Name=АО «Мосэнергосбыт»|PersonalAcc=40702810638000123456|BankName=ПАО Сбербанк"
        "|BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7736520080|KPP=997650001|Sum=217560"
        "|Purpose=Оплата электроэнергии, л/с 5000000001, 08.2025|PersAcc=5000000001|PaymPeriod=082025"
        "|LastName=Сидоров|PayerAddress=г. Москва, ул. Тестовая, д. 1, кв. 1|TechCode=02"
    )


def test_round_trip_field_by_field():
    parsed = payload_parse(full())
    assert parsed.encoding == "2"
    assert parsed.separator == "|"
    assert [k for k, _ in parsed.fields][:5] == ["Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc"]
    assert parsed["Sum"] == "217560"
    assert parsed["PersAcc"] == "5000000001"
    assert parsed["PaymPeriod"] == "082025"
    assert parsed["TechCode"] == "02"
    assert parsed["Name"] == PAYEE["name"]
    # From the UTF-8 bytes of a symbol, as a scanner gives them.
    assert payload_decode(full().encode("utf-8")) == parsed


def test_optional_fields_left_out_when_empty():
    payload = payment_payload(**PAYEE)
    assert payload.count("|") == 5
    assert payload_parse(payload).get("Sum") is None


def test_sum_zero_is_written_and_none_is_not():
    assert payload_parse(payment_payload(**PAYEE, sum_kopecks=0))["Sum"] == "0"
    assert "Sum=" not in payment_payload(**PAYEE, sum_kopecks=None)


def test_a_separator_inside_a_value_is_replaced():
    payload = full(last_name="Иванов|Петров", payer_address="ул. Ленина|д. 5")
    parsed = payload_parse(payload)
    assert parsed.separator == "|"
    assert parsed["LastName"] == "Иванов/Петров"
    assert parsed["PayerAddress"] == "ул. Ленина/д. 5"
    # Nothing else moved: every field is still where it was.
    assert parsed["TechCode"] == "02"
    assert len(parsed.fields) == 14


def test_lossless_mode_chooses_a_separator_found_in_no_value():
    fields = [
        ("Name", "ООО «Свет|Тепло»"),
        ("PersonalAcc", "40702810638000123456"),
        ("BankName", "Банк #1"),
        ("BIC", "044525225"),
        ("CorrespAcc", "30101810400000000225"),
        ("LastName", "Иванов^Петров"),
    ]
    payload = payload_encode(fields, separator=None)
    parsed = payload_parse(payload)
    assert parsed.separator == "~"  # |, # and ^ occur in values
    assert payload[7] == "~"
    assert parsed.fields == tuple(fields)


def test_line_breaks_and_control_characters_become_spaces():
    parsed = payload_parse(full(payer_address="г. Москва,\nул. Тестовая,\r\n\tд. 1"))
    assert parsed["PayerAddress"] == "г. Москва, ул. Тестовая, д. 1"


def test_long_names_are_cut_to_the_standard_limits():
    long_name = "Акционерное общество " + "«Очень длинное название энергосбытовой компании» " * 6
    long_bank = "Публичное акционерное общество «Сбербанк России», Московский банк"
    long_address = "Московская область, " + "улица Очень Длинная, " * 20
    parsed = payload_parse(
        full(name=long_name, bank_name=long_bank, payer_address=long_address, purpose="Оплата " * 60)
    )
    assert len(parsed["Name"]) == MAX_LENGTH["Name"] == 160
    assert parsed["Name"].endswith(ELLIPSIS)
    assert parsed["Name"].startswith("Акционерное общество «Очень длинное")
    assert len(parsed["BankName"]) <= MAX_LENGTH["BankName"] == 45
    assert parsed["BankName"].endswith(ELLIPSIS)
    assert len(parsed["Purpose"]) <= MAX_LENGTH["Purpose"] == 210
    assert len(parsed["PayerAddress"]) <= OTHER_TEXT_LIMIT
    # The digits a bank needs are intact.
    assert parsed["PersonalAcc"] == PAYEE["personal_acc"]
    assert parsed["Sum"] == "217560"


def test_a_name_within_the_limit_is_not_cut():
    name = "Я" * 160
    assert payload_parse(full(name=name))["Name"] == name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("personal_acc", "4070281063800012345", "PersonalAcc must be 20 digits"),
        ("personal_acc", "4070281063800012345X", "PersonalAcc must be 20 digits"),
        ("bic", "04452522", "BIC must be 9 digits"),
        ("bic", "", "BIC must be 9 digits"),
        ("corresp_acc", "301018104000000002", "CorrespAcc must be 20 digits"),
        ("name", "  ", "Name (the payee's name) is required"),
        ("bank_name", "", "BankName (the payee's bank) is required"),
    ],
)
def test_required_fields_are_checked(field, value, message):
    with pytest.raises(QrPayloadError, match=re.escape(message)):
        payment_payload(**{**PAYEE, field: value})


def test_a_bank_without_a_correspondent_account_writes_zero():
    assert payload_parse(payment_payload(**{**PAYEE, "corresp_acc": "0"}))["CorrespAcc"] == "0"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("payee_inn", "77365200", "PayeeINN must be 10 or 12 digits"),
        ("kpp", "99765000", "KPP must be 9 digits"),
        ("sum_kopecks", -1, "Sum must be a whole number"),
        ("sum_kopecks", 10**18, "Sum has more than 18 digits"),
        ("paym_period", "132025", "PaymPeriod must be MMYYYY"),
        ("paym_period", "2025-08", "PaymPeriod must be MMYYYY"),
        ("tech_code", "2", "TechCode must be 2 digits"),
    ],
)
def test_optional_codes_are_checked(field, value, message):
    with pytest.raises(QrPayloadError, match=re.escape(message)):
        full(**{field: value})


@pytest.mark.parametrize(
    "text",
    [
        "ST00022|Name=x",
        "XX00012|Name=x",
        "ST0001",
        "ST00012|PersonalAcc=1|Name=x|BankName=b|BIC=1|CorrespAcc=0",
        "ST00012|Name=x|PersonalAcc=1|BankName=b|BIC=1|CorrespAcc=0|Sum=1|Sum=2",
        "ST00012|Name=x|PersonalAcc|BankName=b|BIC=1|CorrespAcc=0",
    ],
)
def test_the_parser_refuses_what_is_not_a_payload(text):
    with pytest.raises(QrPayloadError):
        payload_parse(text)


def test_decode_reads_the_encoding_of_the_header():
    text = "ST00011|Name=Мосэнергосбыт|PersonalAcc=1|BankName=Банк|BIC=1|CorrespAcc=0"
    assert payload_decode(text.encode("cp1251"))["Name"] == "Мосэнергосбыт"
    koi = text.replace("ST00011", "ST00013")
    assert payload_decode(koi.encode("koi8-r"))["BankName"] == "Банк"


def test_a_payee_with_every_separator_candidate_cannot_choose_one():
    fields = [
        ("Name", "|#^~`;@$*"),
        ("PersonalAcc", "40702810638000123456"),
        ("BankName", "Банк"),
        ("BIC", "044525225"),
        ("CorrespAcc", "30101810400000000225"),
    ]
    with pytest.raises(QrPayloadError, match="every separator candidate"):
        payload_encode(fields, separator=None)


@given(
    name=st.text(min_size=1, max_size=300).filter(clean_text),
    address=st.text(max_size=300),
)
def test_any_text_round_trips_safely(name, address):
    payload = full(name=name, payer_address=address)
    parsed = payload_parse(payload)
    assert parsed["Sum"] == "217560"
    assert parsed["TechCode"] == "02"
    assert len(parsed["Name"]) <= 160
    assert "|" not in parsed["Name"]
    assert "\n" not in payload
