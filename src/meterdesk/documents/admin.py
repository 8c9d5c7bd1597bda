from __future__ import annotations

from django.contrib import admin

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.documents.models import EbillDelivery, EbillSubscription


@admin.register(EbillSubscription)
class EbillSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("account", "user", "since")
    search_fields = ("account__number", "user__email")
    raw_id_fields = ("user", "account")


@admin.register(EbillDelivery)
class EbillDeliveryAdmin(ViewOnlyAdmin):
    """The record of e-bills sent: read-only (it is what keeps a bill from being sent twice)."""

    list_display = ("account", "period", "email", "sent_at")
    list_filter = ("period",)
    search_fields = ("account__number", "email")
