from django.contrib import admin

from meterdesk.tariffs.models import Tariff, TariffBand, TariffPrice


class TariffPriceInline(admin.TabularInline):
    model = TariffPrice
    extra = 0


class TariffBandInline(admin.TabularInline):
    model = TariffBand
    extra = 0


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ("region", "category", "kind", "valid_from", "valid_to")
    list_filter = ("region", "category", "kind")
    inlines = [TariffBandInline, TariffPriceInline]
