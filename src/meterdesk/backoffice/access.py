"""Who may open a back-office page: staff only (``is_staff``), and of them the roles that
``roles.ACTIONS`` lists for the page's action."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from meterdesk.backoffice.roles import permission

View = Callable[..., HttpResponse]


def staff_action(codename: str) -> Callable[[View], View]:
    """Let a view through for a staff login allowed ``codename``: a visitor is sent to the back
    office's login page; a customer's login, or staff without the role, gets 403."""
    perm = permission(codename)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("backoffice:login"))
            if not (user.is_active and user.is_staff and user.has_perm(perm)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.action = codename  # type: ignore[attr-defined]
        return wrapped

    return decorate
