"""Cache-Control for what the application answers (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """Every page and API answer the application makes is ``Cache-Control: private, no-store``:
    most show personal data (behind a login, or an undo page opened from a letter), and a rule
    that needs no list cannot miss one. A browser's back button or a shared proxy then keeps no
    copy. Static files are answered before this (WhiteNoise, with their own long cache); an answer
    that says ``public`` itself is left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "public" not in response.get("Cache-Control", ""):
            patch_cache_control(response, private=True, no_store=True)
        return response
