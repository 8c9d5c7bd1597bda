from django.contrib import admin

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.notify.models import DebtCase, Notice, Preference


@admin.register(Notice)
class NoticeAdmin(ViewOnlyAdmin):
    list_display = ("key", "channel", "to", "created_at", "sent_at", "failed_at", "attempts")
    list_filter = ("topic", "channel")
    search_fields = ("key", "to", "user__email")


@admin.register(Preference)
class PreferenceAdmin(ViewOnlyAdmin):
    list_display = ("user", "topic", "channel", "enabled", "changed_at")
    list_filter = ("topic", "channel", "enabled")
    search_fields = ("user__email",)


@admin.register(DebtCase)
class DebtCaseAdmin(ViewOnlyAdmin):
    """The debt cases, read-only (staff work them in the back office: backoffice:debts)."""

    list_display = (
        "account",
        "period",
        "debt",
        "threshold",
        "stage",
        "delivered_at",
        "delivery",
        "pay_by",
        "suspension_from",
        "restricted_on",
        "suspended_on",
    )
    list_filter = ("stage", "period")
    search_fields = ("account__number",)
    ordering = ("stage", "pay_by")
