"""Files are told by their content, kept by random names under the data directory."""

from __future__ import annotations

import pytest

from meterdesk.support.attachments import (
    BAD_TYPE,
    JPEG,
    MAX_BYTES,
    PDF,
    PNG,
    TOO_LARGE,
    TOO_MANY,
    AttachmentError,
    Upload,
    content_type_of,
    file_path,
    file_store,
    root,
    safe_name,
    uploads_check,
)
from meterdesk.support.tests.conftest import PDF_BYTES, photo


def test_the_type_is_told_by_the_content():
    assert content_type_of(photo("JPEG")) == JPEG
    assert content_type_of(photo("PNG")) == PNG
    assert content_type_of(PDF_BYTES) == PDF
    assert content_type_of(b"<html><script>alert(1)</script>") is None
    assert content_type_of(photo("GIF")) is None


def test_a_signature_alone_is_not_enough():
    assert content_type_of(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10) is None
    assert content_type_of(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50) is None
    assert content_type_of(b"%PDF-1.4 but never ends") is None


def test_a_name_does_not_make_a_type():
    with pytest.raises(AttachmentError) as refused:
        uploads_check([Upload(name="meter.jpg", data=b"#!/bin/sh\nrm -rf /\n")])
    assert refused.value.code == BAD_TYPE
    assert refused.value.name == "meter.jpg"


def test_size_and_count_are_limited():
    with pytest.raises(AttachmentError) as refused:
        uploads_check([Upload(name="big.pdf", data=PDF_BYTES + b" " * MAX_BYTES)])
    assert refused.value.code == TOO_LARGE
    with pytest.raises(AttachmentError) as refused:
        uploads_check([Upload(name=f"{n}.jpg", data=photo()) for n in range(4)])
    assert refused.value.code == TOO_MANY


def test_the_shown_name_has_no_path_or_control_characters():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\anna\\meter\x00.jpg") == "meter.jpg"
    assert safe_name("") == "file"


def test_stored_by_a_random_name_under_the_data_directory(tmp_path):
    (checked,) = uploads_check([Upload(name="../meter.jpg", data=photo())])
    first, digest = file_store(checked)
    second, _digest = file_store(checked)
    assert first != second
    assert "meter" not in first
    assert file_path(first).read_bytes() == checked.data
    assert root() == tmp_path / "support"
    assert file_path(first).is_relative_to(tmp_path / "support")
    assert len(digest) == 64


def test_a_stored_name_cannot_leave_the_root():
    with pytest.raises(FileNotFoundError):
        file_path("../secret_key")
