from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.payments.models import (
    Autopay,
    AutopayCharge,
    PayLink,
    Payment,
    PaymentEvent,
    PaymentPart,
    SavedCard,
)


class EventInline(admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    fields = ("received_at", "kind", "event", "status", "outcome", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class PartInline(admin.TabularInline):
    model = PaymentPart
    extra = 0
    can_delete = False
    fields = ("account", "amount", "entry")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.display(description=_("number"))
def number(obj: Any) -> str:
    """The row's id, as the column "number" (Django's own "pk" column has no Russian name)."""
    return str(obj.pk)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (number, "account", "amount", "provider", "status", "created_at", "settled_at")
    list_filter = ("status", "provider", "channel")
    search_fields = ("account__number", "provider_payment_id")
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [PartInline, EventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SavedCard)
class SavedCardAdmin(ViewOnlyAdmin):
    list_display = (number, "user", "provider", "card_type", "last4", "saved_at", "forgotten_at")
    search_fields = ("user__email",)


@admin.register(Autopay)
class AutopayAdmin(ViewOnlyAdmin):
    list_display = (number, "account", "user", "card", "consent_at", "stopped_at", "stop_reason")
    list_filter = ("stop_reason",)
    search_fields = ("account__number", "user__email")


@admin.register(AutopayCharge)
class AutopayChargeAdmin(ViewOnlyAdmin):
    list_display = (number, "account", "period", "due_date", "charge_on", "amount", "status", "attempts")
    list_filter = ("status",)
    search_fields = ("account__number",)


@admin.register(PayLink)
class PayLinkAdmin(ViewOnlyAdmin):
    list_display = ("code", "account", "phone", "via", "created_at", "expires_at")
    search_fields = ("account__number", "phone", "code")
