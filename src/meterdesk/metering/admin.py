from django.contrib import admin

from meterdesk.metering.models import Meter, Reading


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ("serial", "account", "zones", "digits", "status", "verification_due")
    search_fields = ("serial", "account__number")
    list_filter = ("zones", "status")
    raw_id_fields = ("account",)


@admin.register(Reading)
class ReadingAdmin(admin.ModelAdmin):
    """Readings are append-only: staff can look, not edit."""

    list_display = (
        "confirmation",
        "meter",
        "period",
        "t1",
        "t2",
        "t3",
        "kind",
        "channel",
        "status",
        "submitted_at",
    )
    list_filter = ("kind", "channel", "status")
    search_fields = ("confirmation", "meter__serial", "account__number")
    date_hierarchy = "submitted_at"

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
