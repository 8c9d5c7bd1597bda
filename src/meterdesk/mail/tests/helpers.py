"""Letters for the mail channel's tests: written as mail clients write them, signed with DKIM
keys made for the test (openssl) whose records are in a file (METERDESK_MAIL_DKIM_RECORDS)."""

from __future__ import annotations

import base64
import subprocess
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import dkim

SELECTOR = "test"


def letter(
    text: str = "",
    *,
    subject: str = "Показания",
    sender: str = "anna@example.com",
    to: str = "readings@meterdesk.localhost",
    charset: str = "utf-8",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    cte: str | None = None,
) -> bytes:
    """A letter's bytes: ``text`` as text/plain in ``charset`` (and ``html`` beside it)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or "example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text, charset=charset, cte=cte) if cte else message.set_content(text, charset=charset)
    if html is not None:
        message.add_alternative(html, subtype="html", charset=charset)
    return bytes(message)


class Signer:
    """A DKIM key of a domain for the tests, with its record in a file."""

    def __init__(self, folder: Path, domain: str = "example.com") -> None:
        self.domain = domain
        self.key = folder / f"{domain}.key"
        # openssl with fixed arguments (S603, S607): the tests' own keys.
        subprocess.run(["openssl", "genrsa", "-out", str(self.key), "1024"], check=True, capture_output=True)  # noqa: S603, S607
        command = ["openssl", "rsa", "-in", str(self.key), "-pubout", "-outform", "DER"]
        public = subprocess.run(command, check=True, capture_output=True).stdout  # noqa: S603
        self.record = f"{SELECTOR}._domainkey.{domain} v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
        self.records = folder / f"{domain}.records"
        self.records.write_text(self.record + "\n")

    def sign(self, raw: bytes, domain: str | None = None) -> bytes:
        signature = dkim.sign(
            raw,
            SELECTOR.encode(),
            (domain or self.domain).encode(),
            self.key.read_bytes(),
            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
        )
        return signature + raw
