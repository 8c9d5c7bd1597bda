"""`meterdesk mail poll` against a real IMAP server (a private dovecot the tests start): each
message stored, then marked seen; a Message-ID seen before not stored again; IDLE wakes the
poller as soon as a message arrives."""

from __future__ import annotations

import imaplib
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import pytest

from meterdesk.mail.imap import Mailbox, _idle, mailbox_poll
from meterdesk.mail.models import Letter, Outcome, Via
from meterdesk.mail.tests import dovecot, servers
from meterdesk.mail.tests.helpers import letter
from meterdesk.metering.models import Reading
from meterdesk.testing import moscow


@pytest.fixture
def imap_server():
    # Not under pytest's private temporary folder: dovecot's login processes (another user) must
    # reach the server's sockets.
    root = Path(tempfile.mkdtemp(prefix="meterdesk-dovecot-"))
    server = dovecot.start(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _client(server: dovecot.Dovecot) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(server.user, server.password)
    client.select("INBOX")
    return client


def _deliver(server: dovecot.Dovecot, raw: bytes) -> None:
    client = _client(server)
    try:
        client.append("INBOX", None, None, raw)
    finally:
        client.logout()


def _unseen(server: dovecot.Dovecot) -> int:
    client = _client(server)
    try:
        return len(client.uid("SEARCH", "UNSEEN")[1][0].split())
    finally:
        client.logout()


@pytest.mark.django_db
def test_poll_stores_each_message_then_marks_it_and_skips_a_copy(
    customer, imap_server, django_capture_on_commit_callbacks
):
    _user, meter = customer
    text = f"л/с {meter.account.number} № {meter.serial} день 1300 ночь 650"
    first = letter(text, message_id="<imap-1@example.com>")
    _deliver(imap_server, first)
    _deliver(imap_server, letter("Здравствуйте!", message_id="<imap-2@example.com>"))
    mailbox = Mailbox.from_url(imap_server.url)
    now = mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20))
    with now, django_capture_on_commit_callbacks(execute=True):
        assert mailbox_poll(mailbox, stop=None) == 2
    assert _unseen(imap_server) == 0
    stored = Letter.objects.get(message_id="<imap-1@example.com>")
    assert (stored.via, stored.outcome) == (Via.IMAP, Outcome.ACCEPTED)
    assert Reading.objects.get(meter=meter).t1 == 1300
    _deliver(imap_server, first)  # the same letter again
    with now, django_capture_on_commit_callbacks(execute=True):
        assert mailbox_poll(mailbox, stop=None) == 0
    assert _unseen(imap_server) == 0 and Letter.objects.count() == 2


def test_idle_wakes_the_poller_when_a_message_arrives(imap_server):
    client = _client(imap_server)
    assert "IDLE" in client.capabilities
    later = threading.Timer(0.5, _deliver, args=(imap_server, letter("new")))
    started = time.monotonic()
    later.start()
    try:
        _idle(client, 30, threading.Event())
    finally:
        later.join()
        client.logout()
    assert time.monotonic() - started < 15


def test_the_poll_command_stores_the_mailbox(imap_server, tmp_path_factory):
    template = servers.migrated(tmp_path_factory.mktemp("mail-imap") / "data")
    _deliver(imap_server, letter("л/с 1234567890 показания 1", message_id="<cmd-1@example.com>"))
    result = subprocess.run(  # noqa: S603 - our own command
        servers.command("mail", "poll", "--once"),
        env=servers.env(template, METERDESK_MAIL_IMAP_URL=imap_server.url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stored 1 letters" in result.stdout
    assert servers.query(template, "SELECT via, message_id FROM mail_letter") == [
        ("imap", "<cmd-1@example.com>")
    ]
    assert _unseen(imap_server) == 0
