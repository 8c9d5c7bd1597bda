"""docs/examples/scheduled_submission.py works against a running server."""

from __future__ import annotations

import importlib.util
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from meterdesk.api.auth import token_create
from meterdesk.metering.models import Reading
from meterdesk.testing import MeterFactory, UserFactory, link, make_tariff
from meterdesk.utility.selectors import utility_now

EXAMPLE = Path(django_settings.BASE_DIR).parents[1] / "docs" / "examples" / "scheduled_submission.py"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def example():
    spec = importlib.util.spec_from_file_location("scheduled_submission", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def setup(live_server, monkeypatch):
    user = UserFactory(email="hub@example.com")
    meter = MeterFactory(zones=2)
    link(user, meter.account)
    make_tariff(prices=("9.45", "4.08"))
    monkeypatch.setenv("METERDESK_URL", live_server.url)
    monkeypatch.setenv("METERDESK_TOKEN", token_create(user=user, name="hub")[1])
    monkeypatch.setenv("METERDESK_METER_ID", str(meter.pk))
    monkeypatch.delenv("METERDESK_CONFIRM", raising=False)
    monkeypatch.delenv("METERDESK_SPREAD_SECONDS", raising=False)
    return meter


def test_a_scheduled_submission_is_stored_once(example, setup, capsys):
    assert example.main(["1100", "560"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("Accepted: confirmation ")
    assert example.main(["1100", "560"]) == 0  # cron ran twice: the same answer, no second reading
    assert capsys.readouterr().out == first
    assert Reading.objects.count() == 1
    assert Reading.objects.get().channel == "api"


def test_it_reads_the_values_from_the_meter_reader(example, setup, monkeypatch, capsys):
    class Tasmota(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"StatusSNS": {"SML": {"Total_T1": 1234.9, "Total_T2": 567.2}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Tasmota)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv(
            "METERDESK_SOURCE_URL", f"http://127.0.0.1:{server.server_port}/cm?cmnd=Status%2010"
        )
        monkeypatch.setenv("METERDESK_SOURCE_PATHS", "StatusSNS.SML.Total_T1,StatusSNS.SML.Total_T2")
        assert example.main([]) == 0
    finally:
        server.shutdown()
    assert Reading.objects.get().values == (Decimal(1234), Decimal(567))


def test_a_closed_window_is_not_an_error(example, setup, settings, capsys):
    day = 28 if utility_now().day < 28 else 1
    settings.METERDESK_READING_WINDOW = f"{day}-{day}"
    assert example.main(["1100", "560"]) == 0
    assert "Window closed" in capsys.readouterr().out
    assert not Reading.objects.exists()


def test_a_confirmation_is_left_to_a_person_unless_configured(example, setup, monkeypatch, capsys):
    setup.zones = 1
    setup.initial_t1 = Decimal(99500)
    setup.initial_t2 = None
    setup.save()
    assert example.main(["200"]) == 1
    err = capsys.readouterr().err
    assert "needs_confirmation" in err
    assert "METERDESK_CONFIRM=rollover" in err
    monkeypatch.setenv("METERDESK_CONFIRM", "rollover")
    assert example.main(["200"]) == 0
    assert Reading.objects.get().rolled_over


def test_a_spread_waits_the_meter_s_own_offset_then_submits(example, setup, monkeypatch, capsys):
    waited: list[float] = []
    monkeypatch.setattr(example.time, "sleep", waited.append)
    assert example.main(["1100", "560"]) == 0
    assert waited == []  # nothing is waited by default
    monkeypatch.setenv("METERDESK_SPREAD_SECONDS", "3600")
    assert example.main(["1100", "560"]) == 0  # the same reading again: the first answer
    assert waited == [example.spread_offset(setup.pk, 3600)]
    assert f"Waiting {int(waited[0])} s" in capsys.readouterr().out
    assert Reading.objects.count() == 1


def test_the_offsets_spread_the_meters_over_the_whole_span(example):
    offsets = [example.spread_offset(meter_id, 3600) for meter_id in range(1, 10_001)]
    assert offsets == [example.spread_offset(meter_id, 3600) for meter_id in range(1, 10_001)]
    assert min(offsets) >= 0 and max(offsets) < 3600
    per_minute = [0] * 60
    for offset in offsets:
        per_minute[offset // 60] += 1
    # 10 000 meters over 60 minutes: ~167 a minute; none nearly empty, none crowded.
    assert min(per_minute) > 100 and max(per_minute) < 250
    assert example.spread_offset(1, 0) == 0
