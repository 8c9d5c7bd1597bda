"""`meterdesk mail serve` for real: SMTP to the server in a subprocess (the recipient check, the
size limit, STARTTLS), the letter processed by its task workers and answered; and kill -9 at a
random moment: every letter that got 250 is there after a restart, each processed once."""

from __future__ import annotations

import random
import shutil
import smtplib
import ssl
import subprocess
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from meterdesk.mail.tests import servers
from meterdesk.testing import free_port

ADDRESS = "readings@meterdesk.localhost"


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    return servers.migrated(tmp_path_factory.mktemp("mail-template") / "data")


def _letter(text: str, sender: str, message_id: str, size: int = 0) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ADDRESS, "Показания"
    message["Message-ID"] = message_id
    message.set_content(text + ("\n" + "x" * 70) * (size // 71))
    return bytes(message)


def _certificate(folder: Path) -> tuple[str, str]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = shutil.which("openssl") or "openssl"
    subject = ("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert))
    arguments = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", *subject]
    subprocess.run(arguments, check=True, capture_output=True)  # noqa: S603 - openssl, fixed arguments
    return str(cert), str(key)


def test_letters_over_smtp_are_stored_processed_and_answered(template, tmp_path):
    data = servers.data_dir(template, tmp_path / "data", [("1234567890", "40000001", 2, (1200, 600))])
    cert, key = _certificate(tmp_path)
    port = free_port()
    server = servers.start(
        data,
        *("mail", "serve", "--port", str(port), "--workers", "1"),
        METERDESK_MAIL_MAX_BYTES="20000",
        METERDESK_MAIL_TLS_CERT=cert,
        METERDESK_MAIL_TLS_KEY=key,
    )
    try:
        servers.wait_listening(port, server, data)
        text = "л/с 1234567890, счётчик № 40000001: день 1300, ночь 650"
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo("client.example.com")
            assert client.has_extn("starttls")
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo("client.example.com")
            refused = client.sendmail(
                "anna@example.com", [ADDRESS], _letter(text, "anna@example.com", "<a1@example.com>")
            )
            assert refused == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail(
                    "anna@example.com",
                    ["someone@meterdesk.localhost"],
                    _letter(text, "anna@example.com", "<a2@example.com>"),
                )
            with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as too_big:
                client.sendmail(
                    "anna@example.com",
                    [ADDRESS],
                    _letter(text, "anna@example.com", "<a3@example.com>", size=30000),
                )
            assert "552" in str(too_big.value)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as plain:  # STARTTLS is offered, not required
            plain.sendmail(
                "", [ADDRESS], _letter("Delivery failed", "MAILER-DAEMON@example.com", "<b1@example.com>")
            )
        servers.wait_for(data, "SELECT COUNT(*) FROM mail_letter WHERE status = 'done'", 2)
        servers.wait_for(data, "SELECT COUNT(*) FROM mail_answer WHERE sent_at IS NOT NULL", 1)
        rows = servers.query(
            data, "SELECT message_id, outcome, mail_from, rcpt_to FROM mail_letter ORDER BY id"
        )
        assert rows == [
            ("<a1@example.com>", "accepted", "anna@example.com", ADDRESS),
            ("<b1@example.com>", "automatic", "<>", ADDRESS),
        ]
        assert servers.query(
            data, "SELECT t1, t2, channel FROM metering_reading WHERE channel = 'email'"
        ) == [(1300, 650, "email")]
        answers = list((data / "mail").glob("*.log"))
        assert len(answers) == 1
        sent = answers[0].read_text(errors="replace")
        assert "In-Reply-To: <a1@example.com>" in sent and "To: anna@example.com" in sent
    finally:
        servers.kill(server, 15)


def test_kill_9_loses_no_letter_that_got_250_and_processes_none_twice(template, tmp_path):
    count = 40
    meters = [(f"{7_000_000_000 + n:010d}", f"{90_000_000 + n}", 1, (1000,)) for n in range(count)]
    data = servers.data_dir(template, tmp_path / "data", meters)
    port = free_port()
    args = ("mail", "serve", "--port", str(port), "--workers", "2", "--lease", "1")
    letters = {
        f"<kill-{n}@example.com>": _letter(
            f"л/с {number} № {serial} показания {1100 + n}",
            f"sender{n}@example.com",
            f"<kill-{n}@example.com>",
        )
        for n, (number, serial, _z, _p) in enumerate(meters)
    }
    acknowledged: list[str] = []

    def send(ids: list[str]) -> None:
        for message_id in ids:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                    client.sendmail(f"s{message_id}", [ADDRESS], letters[message_id])
                acknowledged.append(message_id)
            except (OSError, smtplib.SMTPException):
                pass  # the server was killed mid-letter: the sender will try again

    server = servers.start(data, *args)
    try:
        servers.wait_listening(port, server, data)
        sender = threading.Thread(target=send, args=(list(letters),))
        sender.start()
        deadline = time.monotonic() + 60
        kill_after = random.randint(10, 30)
        while len(acknowledged) < kill_after and time.monotonic() < deadline and sender.is_alive():
            time.sleep(0.01)
        servers.kill(server)  # kill -9 the server and its workers, mid-stream
        sender.join(timeout=60)
        got_250 = list(acknowledged)
        assert got_250, "no letter was accepted before the kill"
        stored = {row[0] for row in servers.query(data, "SELECT message_id FROM mail_letter")}
        assert set(got_250) <= stored, "a letter that got 250 was lost"
        server = servers.start(data, *args)
        servers.wait_listening(port, server, data)
        # The sender tries again every letter it got no 250 for (some may have been stored).
        send([m for m in letters if m not in got_250])
        servers.wait_for(data, "SELECT COUNT(*) FROM mail_letter WHERE status = 'received'", 0, timeout=120)
        processed = servers.query(
            data,
            "SELECT message_id, COUNT(*) FROM mail_letter WHERE outcome <> 'duplicate' GROUP BY message_id",
        )
        assert sorted(m for m, _n in processed) == sorted(letters) and all(n == 1 for _m, n in processed)
        readings = servers.query(
            data, "SELECT meter_id, COUNT(*) FROM metering_reading WHERE channel = 'email' GROUP BY meter_id"
        )
        assert len(readings) == count and all(n == 1 for _m, n in readings), "a letter was processed twice"
        servers.wait_for(data, "SELECT COUNT(DISTINCT letter_id) FROM mail_answer", count, timeout=60)
        assert servers.query(data, "SELECT COUNT(*) FROM mail_answer")[0][0] == count
    finally:
        servers.kill(server, 15)
