"""The utility's own mail server for readings (``meterdesk mail serve``), on aiosmtpd (docs/adr/
0016): it takes letters for the published addresses only (METERDESK_MAIL_ADDRESSES), refuses
those over METERDESK_MAIL_MAX_BYTES, offers STARTTLS when a certificate is configured, and says
250 only once the letter and its task are committed to the database (``services.letter_store``).
It never parses a letter: the task workers do."""

from __future__ import annotations

import asyncio
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)


def _store(raw: bytes, envelope: Envelope, session: Session) -> int:
    from meterdesk.mail.models import Via
    from meterdesk.mail.services import letter_store

    close_old_connections()  # a connection the database closed meanwhile is opened again
    peer = session.peer
    letter = letter_store(
        raw=raw,
        via=Via.SMTP,
        mail_from=envelope.mail_from or "",
        rcpt_to=list(envelope.rcpt_tos),
        peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or ""),
        helo=session.host_name or "",
    )
    return letter.pk


class Handler:
    """aiosmtpd's handler: the recipient check and the store before 250. The database is written
    from a few threads (the ORM is synchronous), so that the server goes on talking to other
    clients meanwhile."""

    def __init__(self, addresses: list[str], threads: int = 4) -> None:
        self.addresses = {a.lower() for a in addresses}
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mail-store")

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() not in self.addresses:
            return "550 5.1.1 No such mailbox here: send readings to " + ", ".join(sorted(self.addresses))
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if not isinstance(raw, bytes):
            raw = bytes(raw)
        loop = asyncio.get_running_loop()
        try:
            letter_id = await loop.run_in_executor(self.executor, _store, raw, envelope, session)
        except Exception:
            log.exception("could not store a letter from %s", envelope.mail_from)
            return "451 4.3.0 The letter could not be stored; please try again later"
        return f"250 2.0.0 Stored as letter {letter_id}"


def tls_context() -> ssl.SSLContext | None:
    """The STARTTLS context of the configured certificate, None without one."""
    if not settings.METERDESK_MAIL_TLS_CERT:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.METERDESK_MAIL_TLS_CERT, settings.METERDESK_MAIL_TLS_KEY)
    return context


def server_start(host: str, port: int, **options: Any) -> Controller:
    """Start the server in a thread of its own (aiosmtpd's Controller); ``stop()`` it."""
    context = tls_context()
    controller = Controller(
        Handler(settings.METERDESK_MAIL_ADDRESSES),
        hostname=host,
        port=port,
        data_size_limit=settings.METERDESK_MAIL_MAX_BYTES,
        tls_context=context,
        require_starttls=False,
        decode_data=False,
        ident="meterdesk",
        server_hostname=host,
        **options,
    )
    controller.start()
    return controller
