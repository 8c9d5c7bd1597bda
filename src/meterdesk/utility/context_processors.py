from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from meterdesk.utility.selectors import utility_get


def utility(request: HttpRequest) -> dict[str, Any]:
    return {"utility": utility_get()}
