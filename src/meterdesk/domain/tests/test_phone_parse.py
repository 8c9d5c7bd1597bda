"""Phone numbers as typed and as caller IDs come: one stored form (E.164), a clear refusal for
anything that is no number, and the form people read."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from meterdesk.domain.phones import MAX_TYPED, PHONE_INVALID, PhoneInvalid, phone_format, phone_parse


@pytest.mark.parametrize(
    "typed",
    [
        "+79161234567",
        "+7 916 123-45-67",
        "+7 (916) 123-45-67",
        "8 916 123 45 67",
        "8 (916) 123-45-67",
        "89161234567",
        "79161234567",  # a caller ID without the plus
        "9161234567",  # the ten digits alone
        "(916) 123-45-67",
        "+7.916.123.45.67",
        " +7\u00a0916\u00a0123-45-67 ",  # no-break spaces, as pasted from a web page
    ],
)
def test_every_usual_form_of_a_mobile_number_is_one_number(typed):
    assert phone_parse(typed) == "+79161234567"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("8 (495) 981-08-19", "+74959810819"),  # a Moscow landline
        ("8 800 555-35-35", "+78005553535"),  # toll-free
        ("+44 20 7946 0958", "+442079460958"),  # London
        ("+380 44 123 4567", "+380441234567"),  # Kyiv
    ],
)
def test_city_toll_free_and_foreign_numbers(typed, e164):
    assert phone_parse(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "12345",  # too short
        "+7 916 123 45 6",  # a digit missing
        "+7 916 123 45 678",  # one too many
        "+7 000 000 00 00",  # no such range
        "+7 916 abc 45 67",  # letters (libphonenumber alone would read them as keypad digits)
        "8-800-FLOWERS",
        "+7 916 123-45-67 доб. 5",  # an extension: a caller ID has none
        "+7 916 123-45-67 ext 5",
        "８９１６１２３４５６７",  # full-width digits
        "٨٩١٦١٢٣٤٥٦٧",  # Arabic-Indic digits
        "+7 916 123+45-67",  # a plus inside
        "++79161234567",
        "phone",
        "9" * (MAX_TYPED + 1),
        "+7916123456789012345",
    ],
)
def test_what_is_no_number_is_refused_with_its_code(typed):
    with pytest.raises(PhoneInvalid) as refused:
        phone_parse(typed)
    assert refused.value.code == PHONE_INVALID


@pytest.mark.parametrize(
    ("e164", "text"),
    [
        ("+79161234567", "+7 (916) 123-45-67"),
        ("+79991234567", "+7 (999) 123-45-67"),
        ("+74959810819", "+7 (495) 981-08-19"),
        ("+442079460958", "+44 20 7946 0958"),
        ("+380441234567", "+380 44 123 4567"),
    ],
)
def test_stored_numbers_are_shown_as_people_read_them(e164, text):
    assert phone_format(e164) == text


@given(st.text(max_size=60))
def test_any_text_is_a_valid_e164_number_or_refused(text):
    """Whatever is typed, parsing never fails otherwise, and a number it gives is E.164 that
    parses back to itself (so the stored form is a fixed point)."""
    try:
        e164 = phone_parse(text)
    except PhoneInvalid:
        return
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", e164)
    assert phone_parse(e164) == e164


@given(st.from_regex(r"\A9[0-9]{9}\Z"))
def test_any_russian_mobile_in_any_usual_form_is_the_same_number(digits):
    expected = f"+7{digits}"
    try:
        assert phone_parse(expected) == expected
    except PhoneInvalid:  # a few blocks of the 9xx ranges are not allotted
        assume(False)
    spaced = f"{digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    for typed in (f"+7{digits}", f"8{digits}", digits, f"+7 ({digits[:3]}) {digits[3:]}", f"8 {spaced}"):
        assert phone_parse(typed) == expected
    assert phone_format(expected) == f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
