from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.orders.models import Service, ServiceRequest


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The catalogue. A price is never edited: a new price is a new row of the same code from a
    later day (the requests made before keep theirs); a row may be withdrawn (not offered)."""

    list_display = ("code", "name_ru", "price", "active", "valid_from")
    list_filter = ("active", "code")
    search_fields = ("code", "name_ru", "name_en")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("code", "price", "valid_from") if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ViewOnlyAdmin):
    """Staff work the requests in the back office (/office/services/); the admin only shows them."""

    list_display = (
        "number",
        "service",
        "account",
        "price",
        "channel",
        "status",
        "scheduled_on",
        "created_at",
    )
    list_filter = ("status", "channel")
    search_fields = ("number", "account__number")
