from django.contrib import admin

from meterdesk.payments.models import Payment, PaymentEvent


class EventInline(admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    fields = ("received_at", "kind", "event", "status", "outcome", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("pk", "account", "amount", "provider", "status", "created_at", "settled_at")
    list_filter = ("status", "provider", "channel")
    search_fields = ("account__number", "provider_payment_id")
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [EventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
