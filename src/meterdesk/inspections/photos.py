"""The photos of meters taken on visits: a JPEG or PNG told by its content (``support.attachments``'
checks), kept under the data directory by a random name, outside anything the web server
serves; shown to staff only, through a view that checks the role."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from pathlib import Path

from django.conf import settings

from meterdesk.support.attachments import JPEG, MAX_BYTES, PNG, content_type_of

_SUFFIX = {JPEG: ".jpg", PNG: ".png"}


class PhotoError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def root() -> Path:
    return Path(settings.DATA_DIR) / "inspections"


def photo_check(data: bytes) -> str:
    """The photo's type (JPEG or PNG by its content), or PhotoError ``photo_too_large`` /
    ``photo_type``."""
    if len(data) > MAX_BYTES:
        raise PhotoError("photo_too_large")
    kind = content_type_of(data)
    if kind not in _SUFFIX:
        raise PhotoError("photo_type")
    return kind


def photo_store(data: bytes, kind: str) -> tuple[str, str]:
    """Write the bytes under a new random name; the name (relative to ``root()``) and the SHA-256."""
    token = secrets.token_hex(16)
    stored = f"{token[:2]}/{token}{_SUFFIX[kind]}"
    path = root() / stored
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "xb") as out:
        out.write(data)
    return stored, hashlib.sha256(data).hexdigest()


def photo_path(stored: str) -> Path:
    """The path of a stored photo (names are ours, but checked to stay under the root anyway)."""
    path = (root() / stored).resolve()
    if root().resolve() not in path.parents:
        raise FileNotFoundError(stored)
    return path


def photo_forget(stored: str) -> None:
    """Remove a photo written for a visit that was then not stored."""
    with contextlib.suppress(FileNotFoundError):
        photo_path(stored).unlink(missing_ok=True)
