"""The dialog hears words (``Conversation.heard``) as the keys they stand for, without telephony
or a recognizer: the texts are what the recognizers return."""

from __future__ import annotations

from unittest import mock

import pytest

from meterdesk.metering.models import Reading
from meterdesk.phone.dialog import Conversation, Transfer
from meterdesk.phone.models import CallbackRequest
from meterdesk.phone.prompts import fixed_prompts
from meterdesk.phone.tests.helpers import IN_WINDOW, conversation, customer, keys, said

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now(settings):
    settings.METERDESK_READING_WINDOW = None
    settings.METERDESK_IVR_OPERATOR = ""
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW):
        yield


def spoken(language: str = "ru") -> Conversation:
    call = conversation(language=language)
    call.speech = True
    return call


def hear(call: Conversation, *texts: str) -> str:
    return " ".join(said(call.heard(text)) for text in texts)


def test_a_reading_given_by_voice_in_english():
    customer()
    call = spoken("en")
    first = said(call.start())
    assert "say yes or press 1" in first
    assert "Say what you are calling about" in hear(call, "yes")
    text = hear(call, "readings")
    assert call.step == "value" and "Say the reading of" in text
    text = hear(call, "one three zero zero")
    assert "one thousand" in text and "say yes or press 1" in text
    hear(call, "yes", "six five zero", "yes")
    reading = Reading.objects.get(meter__serial="40001122", period__month=11)
    assert (reading.t1, reading.t2) == (1300, 650)
    assert call.path[:3] == ["address", "menu", "value"] and "menu:1" in call.inputs
    assert call.topics == ["readings"]


def test_russian_words_and_an_account_number_said_digit_by_digit():
    person = customer(phone=None)
    call = spoken()
    assert "Назовите номер лицевого счёта" in said(call.start())
    words = dict(
        enumerate(("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"))
    )
    text = hear(call, " ".join(words[int(d)] for d in person.number))
    assert call.step == "account_check" and call.number == person.number and "скажите «да»" in text
    hear(call, "да", "один один два два")
    assert call.account is not None and call.step == "menu"
    hear(call, "баланс")
    assert call.topics == ["balance"] and call.step == "menu"
    hear(call, "ближайший офис")  # the one word it knows among others
    assert call.topics == ["balance", "office"]


def test_a_digit_names_a_menu_key_and_zero_or_operator_is_the_operator():
    customer()
    call = spoken("en")
    call.start()
    hear(call, "yes")
    hear(call, "three")
    assert call.topics == ["tariff"]
    hear(call, "zero")
    assert call.topics[-1] == "operator" and call.finished
    assert CallbackRequest.objects.get().topic == "operator"


def test_operator_and_repeat_work_everywhere(settings):
    settings.METERDESK_IVR_OPERATOR = "sip:operator@127.0.0.1"
    settings.METERDESK_IVR_OPERATOR_HOURS = "00:00-23:59"
    customer(phone=None)
    call = spoken("en")
    first = said(call.start())
    keys(call, "12")
    assert hear(call, "repeat") == first and call.entry == ""
    assert conversation(language="en").heard("yes") == []  # not begun yet
    out = call.heard("operator")
    assert out[-1] == Transfer("sip:operator@127.0.0.1") and call.outcome == "operator"
    assert call.heard("yes") == []  # the call is over


def test_speech_not_understood_is_asked_again_then_the_operator():
    customer()
    call = spoken("en")
    call.start()
    text = hear(call, "[unk]")
    assert "did not understand" in text and call.step == "address" and call.failures == 1
    assert "did not understand" in hear(call, "readings")  # a command is not an answer to yes/no
    hear(call, "yes")
    assert call.step == "menu"
    hear(call, "yes")  # nothing in the menu
    assert call.step == "menu" and call.failures == 1
    assert call.topics == []


def test_a_number_with_a_word_not_understood_is_not_taken():
    customer(phone=None)
    call = spoken("en")
    call.start()
    text = hear(call, "one two [unk] three")
    assert "did not understand" in text and call.entry == "" and call.step == "account"
    assert "yes" not in call.inputs


def test_a_number_said_too_short_gets_the_entrys_message():
    customer(phone=None)
    call = spoken("en")
    call.start()
    assert "ten digits" in hear(call, "one two three")
    assert call.step == "account"


def test_prompts_say_press_only_without_a_recognizer():
    customer()
    call = conversation(language="en")
    text = said(call.start()) + keys(call, "1")
    assert "say" not in text.lower() and "press 1" in text
    call = conversation()
    text = said(call.start()) + keys(call, "1")
    assert "скажите" not in text.lower() and "нажмите 1" in text


def test_the_fixed_prompts_with_speech_are_rendered_ahead_where_it_is_heard(settings):
    settings.METERDESK_IVR_SPEECH = ["pocketsphinx", "vosk"]
    for language, say in (("en", "Say what you are calling about"), ("ru", "Скажите, что вас интересует")):
        texts = fixed_prompts(language)
        assert any(text.startswith(say) for text in texts)
        assert any("9" in text and say not in text for text in texts)
    settings.METERDESK_IVR_SPEECH = ["pocketsphinx"]
    assert not any("Скажите" in text for text in fixed_prompts("ru"))
