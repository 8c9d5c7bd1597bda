from __future__ import annotations

import io

import pytest
from PIL import Image

from meterdesk.backoffice.tests.conftest import office_world  # noqa: F401 - the back office's customer


def photo(fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> bytes:
    """A real little image, as a phone's camera would send it (smaller)."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, fmt)
    return out.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    """Attachments go to the test's own data directory."""
    settings.DATA_DIR = tmp_path
    settings.METERDESK_SITE_URL = "https://lk.example.com"
    return tmp_path
