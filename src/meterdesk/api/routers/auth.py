"""Device tokens: log in with the e-mail and password to get one, list them, revoke them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router
from ninja.responses import Status

from meterdesk.api.auth import request_token, request_user, token_create, token_revoke
from meterdesk.api.errors import ApiError, not_found, unauthorized
from meterdesk.api.models import ApiToken
from meterdesk.api.routers import email_not_verified, errors, paged
from meterdesk.api.schemas import MAX_ID, PageQuery, TokenCreated, TokenIn, TokenPage
from meterdesk.customers.models import User

router = Router(tags=["auth"])


def _token_out(token: ApiToken, current: ApiToken | None = None) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": timezone.localtime(token.created_at),
        "expires_at": timezone.localtime(token.expires_at) if token.expires_at else None,
        "last_used_at": timezone.localtime(token.last_used_at) if token.last_used_at else None,
        "current": current is not None and current.pk == token.pk,
    }


def _locked_out() -> ApiError:
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    seconds = int(cooloff.total_seconds()) if isinstance(cooloff, timedelta) else 900
    return ApiError(
        429,
        "locked_out",
        _("Too many failed logins. Try again later or reset the password."),
        {"retry_after": seconds},
        {"Retry-After": str(seconds)},
    )


@router.post(
    "/token",
    auth=None,
    response={201: TokenCreated, **errors(400, 401, 403, 422, 429)},
    summary="Log in and get a device token",
    description=(
        "Exchanges the login's e-mail and password for a named device token (shown only in this "
        "answer). Failed attempts count toward the same lockout as the site's login form. A login "
        "that has not confirmed its e-mail yet gets 403 email_not_verified. A password changed or "
        "reset revokes every token of the login."
    ),
)
def token_obtain(request: HttpRequest, payload: TokenIn) -> Any:
    email = payload.email.strip().lower()
    # The login lockout logs request.POST; this is a JSON API, whatever Content-Type was sent.
    request._post = QueryDict()  # type: ignore[attr-defined]
    user = authenticate(request, username=email, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        request.axes_locked_out = False  # type: ignore[attr-defined]  # answered here, in JSON
        raise _locked_out()
    if not isinstance(user, User):
        raise unauthorized(_("The e-mail or password is not correct."))
    if not user.email_verified:  # the password is right: say what is missing
        raise email_not_verified()
    # As a login does: resets the failed attempts and records the login.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    expires = timezone.now() + timedelta(days=payload.expires_in_days) if payload.expires_in_days else None
    token, raw = token_create(user=user, name=payload.name, expires_at=expires)
    return Status(201, {**_token_out(token), "token": raw})


@router.get(
    "/tokens",
    response={200: TokenPage, **errors(401, 422, 429)},
    summary="The login's device tokens",
    description="Tokens not revoked (expired ones too), newest first. The token itself is never shown again.",
)
def token_list(request: HttpRequest, params: Query[PageQuery]) -> Any:
    user = request_user(request)
    tokens = ApiToken.objects.live(user).order_by("-created_at", "-pk")
    current = request_token(request)
    return paged(tokens, params, lambda token: _token_out(token, current))


@router.delete(
    "/tokens/{token_id}",
    response={204: None, **errors(401, 403, 404, 422, 429)},
    summary="Revoke a device token",
    description="The token stops working at once. Revoking the token of the request itself logs the device out.",
)
def token_delete(request: HttpRequest, token_id: int = Path(..., ge=1, le=MAX_ID)) -> Any:
    try:
        token_revoke(user=request_user(request), token_id=token_id)
    except ApiToken.DoesNotExist as exc:
        raise not_found() from exc
    return Status(204, None)
