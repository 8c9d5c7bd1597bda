"""Staff's view of the phone line: the calls (read only), the callback requests to work through,
and the offices and buildings (reference data)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.phone.models import Building, Call, CallbackRequest, Office


@admin.register(Call)
class CallAdmin(ViewOnlyAdmin):
    list_display = ("started_at", "caller", "account", "outcome", "topics", "readings", "duration_text")
    list_filter = ("outcome", "via", "language")
    search_fields = ("caller", "account__number")
    date_hierarchy = "started_at"
    raw_id_fields = ("account",)

    @admin.display(description=_("duration, s"))
    def duration_text(self, call: Call) -> str:
        duration = call.duration
        return "" if duration is None else f"{duration:.0f}"


@admin.register(CallbackRequest)
class CallbackRequestAdmin(admin.ModelAdmin[CallbackRequest]):
    list_display = ("asked_at", "number", "account", "topic", "done_at")
    list_filter = ("topic", ("done_at", admin.EmptyFieldListFilter))
    raw_id_fields = ("account",)
    actions = ("mark_done",)

    @admin.action(description=_("Mark as done"))
    def mark_done(self, request: object, queryset: object) -> None:
        queryset.filter(done_at__isnull=True).update(done_at=timezone.now())  # type: ignore[attr-defined]


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin[Office]):
    list_display = ("name", "address", "hours_ru", "active")


@admin.register(Building)
class BuildingAdmin(admin.ModelAdmin[Building]):
    list_display = ("street_house", "latitude", "longitude")
    search_fields = ("street_house",)
