from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from meterdesk.utility.selectors import utility_get


def utility(request: HttpRequest) -> dict[str, Any]:
    from django.conf import settings

    return {
        "utility": utility_get(),
        "login_cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
