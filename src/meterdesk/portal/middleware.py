"""The language of a login: the one its pages are shown in is the one saved in its profile
(``User.language``), which its letters use too.

A browser's own choice (the language cookie, set by the switch in the header, before or after
logging in, or by the profile's language form) is the language of its pages, as for any visitor
(Django's LocaleMiddleware). For a logged-in login it is also saved to the profile when it
differs, so that the letters follow the language the site is being used in. A browser that has
made no choice shows the profile's language: a login registered in English sees English on any
device, whatever the browser's own language.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils import translation

from meterdesk.customers.models import LANGUAGE_CHOICES, User
from meterdesk.customers.profile import user_language_set

LANGUAGES = frozenset(code for code, _name in LANGUAGE_CHOICES)


def browser_language(request: HttpRequest) -> str | None:
    """The language this browser chose (its language cookie), if the site speaks it."""
    value = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return value if value in LANGUAGES else None


class UserLanguageMiddleware:
    """After AuthenticationMiddleware and LocaleMiddleware (whose choice it may override)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Without a session cookie nobody is logged in: the session and login are not read (the
        # API's device tokens, static files).
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = getattr(request, "user", None)
            if isinstance(user, User) and user.is_authenticated:
                chosen = browser_language(request)
                if chosen is None and user.language in LANGUAGES:
                    translation.activate(user.language)
                    request.LANGUAGE_CODE = user.language
                elif chosen is not None and chosen != user.language:
                    user_language_set(user=user, language=chosen)
        return self.get_response(request)
