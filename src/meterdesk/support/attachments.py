"""The files customers send: a photo of the meter (JPEG, PNG) or a scan (PDF). The type is told by
the content, never by the name or the browser's word; the bytes are kept under the data directory
by a random name, outside anything the web server serves."""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 3

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
_SUFFIX = {JPEG: ".jpg", PNG: ".png", PDF: ".pdf"}

TOO_LARGE = "attachment_too_large"
BAD_TYPE = "attachment_type"
TOO_MANY = "attachments_too_many"


class AttachmentError(Exception):
    def __init__(self, code: str, name: str) -> None:
        super().__init__(code, name)
        self.code = code
        self.name = name


@dataclass(frozen=True)
class Upload:
    """A file as received: its name as the customer's device called it, and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Checked:
    name: str
    content_type: str
    data: bytes


def _image(data: bytes, expected: str) -> bool:
    """Whether Pillow reads ``data`` as a whole image of the format its signature claims (a
    decompression bomb is refused, not decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                image.verify()
    except Exception:
        return False
    return fmt == expected


def content_type_of(data: bytes) -> str | None:
    """The type of ``data`` by its content: JPEG, PNG or PDF, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG if _image(data, "JPEG") else None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG if _image(data, "PNG") else None
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]:
        return PDF
    return None


def safe_name(name: str) -> str:
    """The file's own name, for showing only: no path, no control characters, not too long."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip() or "file"
    return base[-100:]


def uploads_check(uploads: list[Upload]) -> list[Checked]:
    """Each upload's type by its content, or ``AttachmentError`` for the first that is refused."""
    if len(uploads) > MAX_FILES:
        raise AttachmentError(TOO_MANY, "")
    checked = []
    for upload in uploads:
        name = safe_name(upload.name)
        if len(upload.data) > MAX_BYTES:
            raise AttachmentError(TOO_LARGE, name)
        kind = content_type_of(upload.data)
        if kind is None:
            raise AttachmentError(BAD_TYPE, name)
        checked.append(Checked(name=name, content_type=kind, data=upload.data))
    return checked


def root() -> Path:
    return Path(settings.DATA_DIR) / "support"


def file_store(checked: Checked) -> tuple[str, str]:
    """Write the bytes under a new random name; the name (relative to ``root()``) and the SHA-256."""
    token = secrets.token_hex(16)
    stored = f"{token[:2]}/{token}{_SUFFIX[checked.content_type]}"
    path = root() / stored
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "xb") as out:
        out.write(checked.data)
    return stored, hashlib.sha256(checked.data).hexdigest()


def file_path(stored: str) -> Path:
    """The path of a stored file (names are ours, but checked to stay under the root anyway)."""
    path = (root() / stored).resolve()
    if root().resolve() not in path.parents:
        raise FileNotFoundError(stored)
    return path
