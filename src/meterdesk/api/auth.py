"""Who is calling: a device token (``Authorization: Bearer …``) or the site's own session.

A token request costs one indexed query (the token and its user, by the token's SHA-256). The
session works for the site's own pages; for it, unsafe methods need the CSRF token (the
``X-CSRFToken`` header), as any form of the site does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from meterdesk.api.errors import ApiError
from meterdesk.api.models import ApiToken
from meterdesk.customers.models import User
from meterdesk.ratelimit import client_address
from meterdesk.sqlrows import Rows

__all__ = ["client_address"]  # here before meterdesk.ratelimit had it

#: Every token starts with this, so that a leaked one is easy to recognise (and to scan for).
TOKEN_PREFIX = "mdk_"  # noqa: S105 - a marker, not a secret
#: A token's last use is written at most this often (a write on every request would cost).
LAST_USED_EVERY = timedelta(minutes=15)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_TOKEN = Rows(ApiToken, "t")
_USER = Rows(User, "u")
#: The token and its login in one indexed read (hand-written: the request's first query, on every
#: request; see meterdesk.sqlrows). A token made before its login was signed out everywhere (a
#: password changed or reset, access to an account taken away) is revoked with it.
_TOKEN_SQL = (
    f"SELECT {_TOKEN.columns}, {_USER.columns} FROM {ApiToken._meta.db_table} t "  # noqa: S608 - names from the models
    f"JOIN {User._meta.db_table} u ON u.id = t.user_id WHERE t.key_hash = %s AND t.revoked_at IS NULL "
    "AND (u.signed_out_at IS NULL OR t.created_at > u.signed_out_at)"
)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new device token of ``user``; returns the record and the token (shown only this once)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:12], key_hash=token_hash(raw), expires_at=expires_at
    )
    return token, raw


def token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (ApiToken.DoesNotExist for anyone else's or a revoked one)."""
    token = ApiToken.objects.live(user).get(pk=token_id)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


def request_token(request: HttpRequest) -> ApiToken | None:
    """The token this request authenticated with (None for the session)."""
    return getattr(request, "api_token", None)


def request_user(request: HttpRequest) -> User:
    """The authenticated login (the operations behind auth only)."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):  # pragma: no cover - auth guarantees it
        raise TypeError("not authenticated")
    return user


class TokenAuth(HttpBearer):
    """``Authorization: Bearer mdk_…``: a device token that is not revoked and not expired."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with connection.cursor() as cursor:
            cursor.execute(_TOKEN_SQL, [token_hash(token)])
            row = cursor.fetchone()
        found = None
        if row is not None:
            found = _TOKEN.build(row)
            found.user = _USER.build(row, _TOKEN.width)
        now = timezone.now()
        if found is None or not found.is_usable(now) or not found.user.is_active:
            return None
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_EVERY:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
        request.api_token = found  # type: ignore[attr-defined]
        request.user = found.user
        return found.user


class SessionAuth(APIKeyCookie):
    """The site's session cookie. Unsafe methods must pass Django's CSRF check (``X-CSRFToken``)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)  # also tells the interactive docs to send the CSRF token

    def _get_key(self, request: HttpRequest) -> str | None:
        # django-ninja would check CSRF before knowing whether there is a session at all, which
        # would answer a request without credentials 403 instead of 401: check it below instead.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        user = request.user
        if not user.is_authenticated or not isinstance(user, User):
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApiError(403, "csrf_failed", _("The CSRF check failed: reload the page and try again."))
        return user
