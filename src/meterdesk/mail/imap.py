"""An existing mailbox as the way in (``meterdesk mail poll``): each unseen message is stored
(``services.letter_store``), then marked seen, so that a poller killed in between stores it again
at worst, and the copy is then found by its Message-ID and not processed twice. The poller waits
with IDLE where the server has it (woken by a new message), else looks every interval."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import select
import ssl
import threading
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

#: The longest IDLE before it is renewed (servers drop an IDLE after 30 minutes).
IDLE_RENEW = 25 * 60.0


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool  # imaps:// (TLS from the start); imap:// upgrades with STARTTLS where offered

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        """``imaps://user:password@host:993/INBOX`` or ``imap://…:143/…`` (user and password
        percent-encoded)."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ValueError(f"not an IMAP URL: {parts.scheme}://{parts.hostname or ''}")
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if parts.scheme == "imaps" else 143),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            tls=parts.scheme == "imaps",
        )

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    def connect(self, timeout: float = 30) -> imaplib.IMAP4:
        if self.tls:
            connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(self.host, self.port, timeout=timeout)
        else:
            connection = imaplib.IMAP4(self.host, self.port, timeout=timeout)
            if "STARTTLS" in connection.capabilities:
                connection.starttls(ssl.create_default_context())
        connection.login(self.user, self.password)
        status, _data = connection.select(_quoted(self.folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open the folder {self.folder}")
        return connection


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _return_path(raw: bytes) -> str:
    """The Return-Path the delivering server wrote ("<>" for a bounce), "" if none."""
    value = BytesHeaderParser().parsebytes(raw[:65536]).get("Return-Path")
    return " ".join(str(value).split()) if value is not None else ""


def _fetch(connection: imaplib.IMAP4, uid: str) -> bytes | None:
    status, data = connection.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def store_new(connection: imaplib.IMAP4) -> int:
    """Store every unseen message, then mark it seen; returns how many were stored."""
    from meterdesk.mail.models import Letter, Via
    from meterdesk.mail.services import _message_id, letter_store

    status, data = connection.uid("SEARCH", "UNSEEN")
    if status != "OK" or not data or not data[0]:
        return 0
    stored = 0
    for uid in data[0].decode("ascii").split():
        raw = _fetch(connection, uid)
        if raw is None:
            continue
        message_id = _message_id(raw)
        # Stored before and killed before it was marked: mark it now, do not store it again.
        if not (message_id and Letter.objects.filter(via=Via.IMAP, message_id=message_id).exists()):
            letter_store(raw=raw, via=Via.IMAP, mail_from=_return_path(raw))
            stored += 1
        connection.uid("STORE", uid, "+FLAGS.SILENT", "(\\Seen)")
    return stored


def _idle(connection: imaplib.IMAP4, wait: float, stop: threading.Event) -> None:
    """IMAP IDLE (RFC 2177) until the server reports a change, ``wait`` seconds pass or ``stop``
    is set (looked at every second)."""
    tag = connection._new_tag()  # type: ignore[attr-defined]  # imaplib has IDLE only from 3.14
    connection.send(tag + b" IDLE\r\n")
    if not connection.readline().startswith(b"+"):
        raise imaplib.IMAP4.error("the server refused IDLE")
    sock = connection.socket()
    deadline = time.monotonic() + wait
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            # Wait for the server a second at a time (to see ``stop``), without a socket
            # timeout: imaplib's reader cannot go on after one.
            ready, _w, _x = select.select([sock], [], [], 1.0)
            if not ready:
                continue
            line = connection.readline()
            if not line:
                raise imaplib.IMAP4.abort("the server closed the connection")
            if b"EXISTS" in line or b"RECENT" in line:
                break
    finally:
        connection.send(b"DONE\r\n")
        while True:
            line = connection.readline()
            if not line or line.startswith(tag):
                break


def mailbox_poll(mailbox: Mailbox, *, stop: threading.Event | None, interval: float = 60) -> int:
    """Store the mailbox's new messages; with ``stop``, keep doing so until it is set (IDLE where
    the server has it, else every ``interval`` seconds; a lost connection is made again after a
    pause). Returns how many were stored."""
    stored = 0
    while True:
        try:
            connection = mailbox.connect()
            try:
                while True:
                    stored += store_new(connection)
                    if stop is None or stop.is_set():
                        return stored
                    if "IDLE" in connection.capabilities:
                        _idle(connection, min(interval * 10, IDLE_RENEW), stop)
                    else:
                        stop.wait(interval)
            finally:
                with contextlib.suppress(imaplib.IMAP4.error, OSError):
                    connection.logout()
        except (imaplib.IMAP4.error, OSError) as error:
            if stop is None:
                raise
            log.warning("mailbox %s: %s; trying again in %s s", mailbox.where, error, interval)
            if stop.wait(min(interval, 30)):
                return stored
