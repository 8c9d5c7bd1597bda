"""Writes of the office terminals: registering a device and enrolling it, revoking it, and the
sessions and readings held on it (docs/terminal.md).

A terminal is enrolled by opening, on the device, a one-time link that staff get once when they
register it (or ask for a new one). Enrolment gives the device a random key, kept in a signed
cookie (``terminal.device``); only hashes of the link's token and of the key are stored, so a
copy of the database enrols nothing and opens no terminal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from meterdesk.customers.models import Account
from meterdesk.metering.models import Reading
from meterdesk.terminal.models import SessionEnd, Terminal, TerminalReading, TerminalSession

#: How long an enrolment link works.
ENROLMENT_VALID = timedelta(days=1)


class EnrolmentInvalid(Exception):
    """An enrolment link that is unknown, used, expired or of a revoked terminal."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def enrolment_new(*, terminal: Terminal) -> str:
    """A new one-time enrolment token for ``terminal`` (to be shown once); any earlier one stops
    working. The device enrolled before keeps working until the new link is used."""
    token = secrets.token_urlsafe(24)
    terminal.enrolment_hash = _hash(token)
    terminal.enrolment_expires_at = timezone.now() + ENROLMENT_VALID
    terminal.save(update_fields=["enrolment_hash", "enrolment_expires_at"])
    return token


def terminal_register(*, name: str, location: str) -> tuple[Terminal, str]:
    """Register a terminal; returns it and its first enrolment token."""
    terminal = Terminal.objects.create(name=name, location=location)
    return terminal, enrolment_new(terminal=terminal)


def enrolment_check(token: str) -> Terminal:
    """The terminal a valid enrolment token is for (EnrolmentInvalid otherwise); nothing written."""
    terminal = Terminal.objects.filter(enrolment_hash=_hash(token), revoked_at__isnull=True).first()
    if (
        terminal is None
        or terminal.enrolment_expires_at is None
        or terminal.enrolment_expires_at < timezone.now()
    ):
        raise EnrolmentInvalid
    return terminal


def terminal_enrol(*, token: str) -> tuple[Terminal, str]:
    """Use an enrolment token: the terminal and the device key the device is to keep. The token
    works once; a device enrolled before with another key stops working."""
    with transaction.atomic():
        terminal = enrolment_check(token)
        key = secrets.token_urlsafe(32)
        used = Terminal.objects.filter(pk=terminal.pk, enrolment_hash=terminal.enrolment_hash).update(
            enrolment_hash="", enrolment_expires_at=None, key_hash=_hash(key), enrolled_at=timezone.now()
        )
        if not used:  # pragma: no cover - a concurrent enrolment took it first
            raise EnrolmentInvalid
    terminal.refresh_from_db()
    return terminal, key


def terminal_revoke(*, terminal: Terminal) -> None:
    """The terminal stops working at once: its key and any enrolment link are forgotten."""
    Terminal.objects.filter(pk=terminal.pk).update(
        revoked_at=timezone.now(), key_hash="", enrolment_hash="", enrolment_expires_at=None
    )


def device_terminal(terminal_id: int, key: str) -> Terminal | None:
    """The terminal whose device holds ``key``, if it is enrolled and not revoked."""
    terminal = Terminal.objects.filter(pk=terminal_id, revoked_at__isnull=True).exclude(key_hash="").first()
    if terminal is None or not hmac.compare_digest(terminal.key_hash, _hash(key)):
        return None
    return terminal


def session_start(*, terminal: Terminal, account: Account) -> TerminalSession:
    return TerminalSession.objects.create(terminal=terminal, account=account)


def session_end(*, session_id: int, end: SessionEnd) -> None:
    """Record how a session ended (once: a later end of the same session changes nothing)."""
    TerminalSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), end=end
    )


def reading_record(*, session: TerminalSession, reading: Reading) -> None:
    """Note that ``reading`` (just stored, channel ``terminal``) was given in ``session``."""
    TerminalReading.objects.create(reading=reading, session=session, terminal_id=session.terminal_id)
