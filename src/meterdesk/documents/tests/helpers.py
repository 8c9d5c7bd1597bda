"""Reading rendered PDFs back: the text (pypdfium2), the QR symbols (pypdfium2 + zxing-cpp), fonts."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import zxingcpp

from meterdesk.domain.gostqr import Payload, payload_decode


def pdf_pages(content: bytes) -> int:
    return len(pdfium.PdfDocument(content))


def pdf_text(content: bytes) -> str:
    """The text of every page, with runs of white space (line breaks, no-break spaces) as one space."""
    document = pdfium.PdfDocument(content)
    parts = [page.get_textpage().get_text_range() for page in document]
    return re.sub(r"\s+", " ", " ".join(parts))


def pdf_qr_codes(content: bytes, scale: float = 3) -> list[bytes]:
    """The raw bytes of every QR symbol found on the pages, rendered at 72 × ``scale`` dpi."""
    found = []
    for page in pdfium.PdfDocument(content):
        image = page.render(scale=scale).to_pil()
        for result in zxingcpp.read_barcodes(image):
            if result.format == zxingcpp.BarcodeFormat.QRCode:
                found.append(result.bytes)
    return found


def pdf_payload(content: bytes) -> Payload:
    """The one payment QR of a document, read back and parsed by the encoding its header names."""
    codes = pdf_qr_codes(content)
    assert len(codes) == 1, f"expected one QR code, found {len(codes)}"
    return payload_decode(codes[0])


def base_fonts(content: bytes) -> set[str]:
    """The names of the fonts the PDF uses (an embedded subset is named ``ABCDEF+Name``)."""
    return {name.decode() for name in re.findall(rb"/BaseFont\s*/([^\s/>]+)", content)}


def embedded_font_files(content: bytes) -> int:
    """How many TrueType font programs are embedded (``/FontFile2``)."""
    return content.count(b"/FontFile2")
