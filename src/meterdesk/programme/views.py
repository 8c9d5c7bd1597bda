"""The programme's page in the personal account, and each draw's public file."""

from __future__ import annotations

import json
from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from meterdesk.customers.models import Account, User
from meterdesk.metering.selectors import accounts_for_user
from meterdesk.programme.draw import draw_export
from meterdesk.programme.models import Draw
from meterdesk.programme.selectors import Standing, account_standing, draws_of, programme_current
from meterdesk.utility.selectors import utility_now


def masked_number(number: str) -> str:
    """``500***0042``: enough for a household to recognise its account, not to name another's."""
    return f"{number[:3]}***{number[-4:]}" if len(number) > 7 else number


@login_required
@require_GET
def page(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    programme = programme_current(utility_now().date())
    accounts: list[tuple[Account, Standing | None]] = []
    upcoming: list[Draw] = []
    held: list[tuple[Draw, list[tuple[int, str, bool]]]] = []
    if programme is not None:
        mine = list(accounts_for_user(user))
        accounts = [(account, account_standing(programme, account.pk)) for account in mine]
        upcoming, latest = draws_of(programme)
        numbers = {account.number for account in mine}
        held = [
            (
                draw,
                [
                    (w.place, masked_number(w.account.number), w.account.number in numbers)
                    for w in draw.winners.all()
                ],
            )
            for draw in latest
        ]
    return render(
        request,
        "programme/page.html",
        {"programme": programme, "accounts": accounts, "upcoming": upcoming, "held": held},
    )


@require_GET
def draw_file(request: HttpRequest, draw_id: int) -> HttpResponse:
    """A draw's file (no login: it names no account, only ids anyone can check against their own)."""
    draw = Draw.objects.select_related("programme").filter(pk=draw_id).first()
    if draw is None:
        raise Http404
    response = HttpResponse(
        json.dumps(draw_export(draw), ensure_ascii=False, indent=1), content_type="application/json"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="draw-{draw.programme.code}-{draw.period:%Y-%m}.json"'
    )
    return response
