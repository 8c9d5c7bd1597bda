"""Text messages: the file gateway for the demo, SMS.ru's HTTP API (against a local server that
answers as SMS.ru does), the mobile-only rule and the daily limit per number."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from meterdesk.sms import SmsError, is_mobile, sms_enabled, sms_send

pytestmark = pytest.mark.django_db


class SmsRu(BaseHTTPRequestHandler):
    """POST /sms/send as SMS.ru answers it (json=1): OK with an id per number, or an error."""

    received: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        SmsRu.received.append(form)
        if self.path != "/sms/send":
            body = {"status": "ERROR", "status_code": 404}
        elif form.get("api_id") != ["the-key"]:
            body = {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}
        else:
            to = form["to"][0]
            body = {
                "status": "OK",
                "status_code": 100,
                "sms": {to: {"status": "OK", "status_code": 100, "sms_id": "000000-10000001"}},
                "balance": 100.5,
            }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def smsru(settings) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SmsRu)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SmsRu.received = []
    settings.METERDESK_SMS_BACKEND = "smsru"
    settings.METERDESK_SMS_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.METERDESK_SMS_API_KEY = "the-key"
    settings.METERDESK_SMS_SENDER = "Energo"
    settings.METERDESK_SMS_PER_DAY = 3
    try:
        yield settings.METERDESK_SMS_URL
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_gateway_nothing_is_sent(settings):
    settings.METERDESK_SMS_BACKEND = ""
    assert not sms_enabled()
    with pytest.raises(SmsError) as error:
        sms_send("+79161234567", "x")
    assert error.value.code == "off"


def test_an_unknown_gateway_is_named(settings):
    settings.METERDESK_SMS_BACKEND = "carrier-pigeon"
    with pytest.raises(SmsError, match="carrier-pigeon"):
        sms_enabled()


def test_only_russian_mobiles():
    assert is_mobile("+79161234567")
    assert not any(map(is_mobile, ["+74951234567", "89161234567", "+7916123456", "+441234567890", ""]))


def test_the_file_gateway_writes_each_message(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.METERDESK_SMS_BACKEND = "file"
    settings.METERDESK_SMS_PER_DAY = 3
    sent = sms_send("+79161234567", "Оплата: https://lk.example.ru/p/abc")
    (path,) = (tmp_path / "sms").glob("*.txt")
    assert path.stem == sent.message_id
    assert path.read_text(encoding="utf-8") == "To: +79161234567\n\nОплата: https://lk.example.ru/p/abc\n"


def test_smsru_gets_the_key_number_text_and_sender(smsru):
    sent = sms_send("+79161234567", "Оплата по ссылке")
    assert sent.message_id == "000000-10000001"
    (form,) = SmsRu.received
    assert form == {
        "api_id": ["the-key"],
        "to": ["79161234567"],
        "msg": ["Оплата по ссылке"],
        "json": ["1"],
        "from": ["Energo"],
    }


def test_smsru_refusing_is_an_error_with_its_words(smsru, settings):
    settings.METERDESK_SMS_API_KEY = "wrong"
    with pytest.raises(SmsError) as error:
        sms_send("+79161234567", "x")
    assert error.value.code == "gateway" and "Неправильный api_id" in str(error.value)


def test_smsru_not_answering_is_an_error(settings):
    settings.METERDESK_SMS_BACKEND = "smsru"
    settings.METERDESK_SMS_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.METERDESK_SMS_API_KEY = "k"
    settings.METERDESK_SMS_PER_DAY = 3
    with pytest.raises(SmsError) as error:
        sms_send("+79161234567", "x")
    assert error.value.code == "gateway"


def test_the_daily_limit_counts_per_number(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.METERDESK_SMS_BACKEND = "file"
    settings.METERDESK_SMS_PER_DAY = 1
    sms_send("+79161234567", "one")
    with pytest.raises(SmsError) as error:
        sms_send("+79161234567", "two")
    assert error.value.code == "limit"
    sms_send("+79167654321", "another number")
    assert len(list((tmp_path / "sms").glob("*.txt"))) == 2
