"""The terminal a request comes from, and the household's session on it (docs/terminal.md).

The device proves itself by the signed cookie set at enrolment (``services.terminal_enrol``);
every terminal page but the enrolment needs it. The household's session lives in Django's
session under ``terminal.*`` keys: the terminal session's id, the account and the time of the
last request or ping. It ends after ``METERDESK_TERMINAL_IDLE_SECONDS`` without activity (the
screen's script counts down and ends it; the server ends it too, ``GRACE`` later, should the
script not run), or by "Finish"; either way the whole Django session is flushed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import translation

from meterdesk.customers.models import Account
from meterdesk.terminal.models import SessionEnd, Terminal, TerminalSession
from meterdesk.terminal.services import device_terminal, session_end

COOKIE = "meterdesk_terminal"
_SALT = "meterdesk.terminal.device"
#: Ten years: the device stays enrolled until staff revoke it.
COOKIE_AGE = 10 * 365 * 24 * 3600
#: The server's margin over the screen's countdown: the screen pings at most this often while
#: in use, so the server's idea of the last activity may lag the screen's by that much.
GRACE = 30
PING_EVERY = 20

SESSION = "terminal.session"
ACCOUNT = "terminal.account"
SEEN = "terminal.seen"
LANGUAGE = "terminal.language"
EMAILS = "terminal.emails"
SENT = "terminal.sent"


def device_cookie_set(response: HttpResponse, terminal: Terminal, key: str) -> None:
    response.set_signed_cookie(
        COOKIE,
        f"{terminal.pk}:{key}",
        salt=_SALT,
        max_age=COOKIE_AGE,
        path="/terminal/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def device_of(request: HttpRequest) -> Terminal | None:
    value = request.get_signed_cookie(COOKIE, default=None, salt=_SALT, max_age=COOKIE_AGE)
    if not value:
        return None
    ident, _sep, key = str(value).partition(":")
    return device_terminal(int(ident), key) if ident.isdigit() and key else None


def idle_seconds() -> int:
    return int(settings.METERDESK_TERMINAL_IDLE_SECONDS)


def language_of(request: HttpRequest) -> str:
    """The screen's language: Russian unless the person switched (for this session only)."""
    chosen = request.session.get(LANGUAGE)
    return chosen if chosen in dict(settings.LANGUAGES) else "ru"


@dataclass(frozen=True)
class Visit:
    """A household's session on a terminal."""

    terminal: Terminal
    session: TerminalSession
    account: Account


def visit_start(request: HttpRequest, terminal: Terminal, session: TerminalSession) -> None:
    language = request.session.get(LANGUAGE)
    request.session.cycle_key()  # a new session id once identified
    request.session.update(
        {SESSION: session.pk, ACCOUNT: session.account_id, SEEN: time.time(), LANGUAGE: language}
    )


def visit_end(request: HttpRequest, end: SessionEnd) -> None:
    """End the household's session: recorded, and nothing of it left in Django's session."""
    session_id = request.session.get(SESSION)
    if session_id is not None:
        session_end(session_id=int(session_id), end=end)
    request.session.flush()


def visit_of(request: HttpRequest, terminal: Terminal) -> Visit | None:
    """The household's session on ``terminal``, None if there is none; one idle too long is
    ended here. A request counts as activity."""
    session_id = request.session.get(SESSION)
    if session_id is None:
        return None
    if time.time() - float(request.session.get(SEEN, 0)) > idle_seconds() + GRACE:
        visit_end(request, SessionEnd.TIMEOUT)
        return None
    session = (
        TerminalSession.objects.select_related("account")
        .filter(pk=session_id, terminal=terminal, ended_at__isnull=True)
        .first()
    )
    if session is None:  # ended elsewhere, or another terminal's
        request.session.flush()
        return None
    request.session[SEEN] = time.time()
    return Visit(terminal, session, session.account)


View = Callable[..., HttpResponseBase]


def _on_device(request: HttpRequest) -> Terminal | HttpResponse:
    terminal = device_of(request)
    if terminal is None:
        return render(request, "terminal/unregistered.html", status=403)
    return terminal


def device_required(view: View) -> View:
    """A page of a registered terminal: ``view(request, terminal, ...)``, in the screen's language."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with translation.override(language_of(request)):
            request.LANGUAGE_CODE = translation.get_language()
            terminal = _on_device(request)
            if isinstance(terminal, HttpResponse):
                return terminal
            return view(request, terminal, *args, **kwargs)

    return wrapper


def visit_required(view: View) -> View:
    """A page of a household's session: ``view(request, visit, ...)``; without one, the start."""

    @device_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, terminal: Terminal, *args: Any, **kwargs: Any) -> HttpResponseBase:
        visit = visit_of(request, terminal)
        if visit is None:
            return redirect("terminal:start")
        return view(request, visit, *args, **kwargs)

    return wrapper
