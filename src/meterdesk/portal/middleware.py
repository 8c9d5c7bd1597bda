"""The language of a login: the one saved in its profile (``User.language``) is the one of its
letters, and of its pages from the moment it logs in.

A browser's own choice is the language cookie, set by the switch in the header (before or after
logging in) or by the profile's language form; Django's LocaleMiddleware shows the pages in it, as
for any visitor. For a logged-in login such a choice is also saved to the profile when it differs,
so that the letters follow the language the site is being used in. A browser that has made no
choice gets the profile's language as its cookie when the login logs in, so that a customer who
registered in English sees English on a new phone too.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from meterdesk.customers.models import LANGUAGE_CHOICES, User
from meterdesk.customers.profile import user_language_set

LANGUAGES = frozenset(code for code, _name in LANGUAGE_CHOICES)


def browser_language(request: HttpRequest) -> str | None:
    """The language this browser chose (its language cookie), if the site speaks it."""
    value = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return value if value in LANGUAGES else None


def language_cookie_set(response: HttpResponseBase, language: str) -> None:
    """Make ``language`` this browser's choice (the cookie Django's own switch sets)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _login(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


class UserLanguageMiddleware:
    """After AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        chosen = browser_language(request)
        # Without a session cookie nobody is logged in yet: the session and login are not read
        # (static files, the API's device tokens).
        before = _login(request) if settings.SESSION_COOKIE_NAME in request.COOKIES else None
        if before is not None and chosen is not None and chosen != before.language:
            user_language_set(user=before, language=chosen)
        response = self.get_response(request)
        if before is None and chosen is None and getattr(request, "api_token", None) is None:
            after = _login(request)  # logged in by this request (the login page)
            if after is not None and after.language in LANGUAGES:
                language_cookie_set(response, after.language)
        return response
