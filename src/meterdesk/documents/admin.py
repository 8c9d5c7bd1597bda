from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from meterdesk.documents.models import EbillDelivery, EbillSubscription


@admin.register(EbillSubscription)
class EbillSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("account", "user", "since")
    search_fields = ("account__number", "user__email")
    raw_id_fields = ("user", "account")


@admin.register(EbillDelivery)
class EbillDeliveryAdmin(admin.ModelAdmin):
    """The record of e-bills sent: read-only (it is what keeps a bill from being sent twice)."""

    list_display = ("account", "period", "email", "sent_at")
    list_filter = ("period",)
    search_fields = ("account__number", "email")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
