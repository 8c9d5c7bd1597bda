"""The phone line's fixtures: ``line``, the SIP endpoint serving on a free port in a thread, the
clock at a day inside the readings window."""

from __future__ import annotations

import threading
from unittest import mock

import pytest

from meterdesk.phone.tests.helpers import IN_WINDOW
from meterdesk.testing import free_port


@pytest.fixture
def line(settings, tmp_path):
    from meterdesk.phone.sip import Line

    settings.METERDESK_READING_WINDOW = None
    settings.DATA_DIR = tmp_path
    port = free_port()
    rtp = free_port()
    server = Line(sip_port=port, rtp_ports=(rtp, rtp + 40))

    def serve() -> None:
        server.start()
        server.run()

    thread = threading.Thread(target=serve, daemon=True)
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW):
        thread.start()
        assert server.ready.wait(10)
        yield server
        server.stop()
        thread.join(10)
