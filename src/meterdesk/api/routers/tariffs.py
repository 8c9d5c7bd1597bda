"""The tariffs in force today."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from meterdesk.api import present
from meterdesk.api.routers import errors, paged
from meterdesk.api.schemas import PageQuery, TariffPage
from meterdesk.tariffs.selectors import tariffs_current
from meterdesk.utility.selectors import utility_get, utility_now

router = Router(tags=["tariffs"])


@router.get(
    "",
    response={200: TariffPage, **errors(401, 422, 429)},
    summary="Tariffs in force today",
    description="Every category and kind of the utility's region, with prices per zone (and band).",
)
def tariff_list(request: HttpRequest, params: Query[PageQuery]) -> Any:
    utility = utility_get()
    tariffs = tariffs_current(region=utility.tariff_region, on=utility_now(utility).date())
    return paged(tariffs, params, present.tariff_out)
