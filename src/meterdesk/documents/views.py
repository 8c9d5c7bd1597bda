"""Downloads of documents (PDF): the monthly bill, payment receipts, reading confirmations."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def bill(request: HttpRequest, number: str, period: str) -> HttpResponse:
    raise Http404


def receipt(request: HttpRequest, entry_id: int) -> HttpResponse:
    raise Http404


def reading_confirmation(request: HttpRequest, confirmation: str) -> HttpResponse:
    raise Http404
